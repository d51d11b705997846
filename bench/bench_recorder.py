"""The recorder at long-run rates: every event on disk, in memory that does not follow the run's length.

Run: ``python bench/bench_recorder.py [--events 2000000] [--threads 4] [--seconds 10] [--real 20]``.
Prints (issue 15: an hour at 300 ops/s is two million events; fast targets do thousands of ops/s):

* **threads**: ``--threads`` threads recording at once into one file (each
  event through the one lock), with ``hold=0`` (a ``write`` per event) and with
  the runner's ``hold``: events/s (wall) and CPU per event;
* **long**: ``--events`` events recorded by one thread with the runner's
  ``hold`` (a nemesis pair every 1,000 events, as a chatty nemesis would),
  the process's RSS every quarter, and its growth (it should be flat: the
  recorder keeps counters and the latest nemesis events, never the history);
* **on disk**: the file read back line by line (bounded memory, no history
  built): the number of events, every ``index`` 0..n-1 in order, times never
  decreasing; and :func:`harness.recorder.recorded_nemesis` scanning it;
* **runner**: ``execute`` (the real interpreter, worker threads and recorder)
  against a target whose client does nothing, for ``--seconds``: ops/s, RSS
  sampled during the run (flat: nothing in the runner follows the history),
  and the same on-disk check of its ``history.jsonl``;
* **real runs** (``--real S``, ``--redis S``; 0 skips): ``perform_run`` of the
  quorum store (``abd``, local backend, 3 nodes) and of the Redis Sentinel
  example (``examples/redis_sentinel``, local backend), no nemesis, 20 clients,
  no rate limit, for S seconds each: ops/s, the check's verdict, RSS each
  second (the last seconds are the check reading the history back), and the
  on-disk check again. Redis is the fast target: thousands of ops/s (writes
  sent to a replica fail fast, READONLY).

Measured 2026-12-01 16:51 UTC at 38aac1e, python 3.11.7, 2 CPUs shared with
other sessions, load average 5.3 at the start and 9.8 at the end (wall-clock
rates are pessimistic; CPU per event is steadier), ``python
bench/bench_recorder.py`` with its defaults:

====================================  =============================================
threads, 4 x 100,000 events, hold 0   69,800 events/s wall, 8.7 us CPU per event
threads, 4 x 100,000 events, hold 64  77,400 events/s wall, 7.0 us CPU per event
long, 2,000,002 events, hold 64       29,300 events/s wall, 6.5 us CPU per event,
                                      280 MiB file (147 B/event)
RSS over the 2,000,002 events         20.7 MiB at 0, 22.5 at 1M, 22.6 at 2M: +0.2 MiB
                                      over the last million (0.16 B/event); the
                                      first million adds the 4,096 nemesis events
                                      kept for the display, then nothing grows
nemesis events (10,000, all fsynced)  median 4.0 ms each, max 300 ms (the disk is
                                      shared with other sessions' benches)
on disk afterwards                    2,000,002 lines, indices 0..2,000,001 in order,
                                      times non-decreasing (read back in 4.2 s)
recorded_nemesis on that file         10,000 found in 1.65 s (0.66 s CPU)
runner, noop target, 10 workers, 30s  248,073 ops = 8,243 ops/s, 56.8 us CPU/op
                                      (15,248 ops/s, 43.1 us, at load 6 in an
                                      earlier run); RSS 32.4 MiB at 65k events,
                                      32.3 at 496k; every event on disk, in order
real run: quorum-store abd, local,    6,278 ops = 311 ops/s, valid; RSS 39 MiB
3 nodes, 20 clients, 20 s             throughout the run; 12,556 events on disk
                                      = 2 x ops, as the stats say
real run: redis-sentinel example,     99,570 ops = 4,957 ops/s (90,361 fail fast:
local, 20 clients, 20 s               writes to replicas), valid; RSS 53 MiB
                                      flat for the 20 s of the run (127 during
                                      its check); 199,140 events on disk = 2 x ops
====================================  =============================================

The Redis run's check took about 35 of its 56 s: the example's own lost-write
checker (``examples/redis_sentinel/splitbrain_redis_sentinel/lost.py``, 7
million ``_span`` calls for 56k ops in a profile), not the history's reading
(0.3 s for 113k events).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.commands.run import RECORDER_HOLD  # noqa: E402
from harness.history import NEMESIS  # noqa: E402
from harness.recorder import Recorder, recorded_nemesis  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE")
_HEAD = re.compile(rb'\{"index":(\d+),"time":(\d+),')


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


def verify_on_disk(path: Path, expected: int | None = None) -> str:
    """Every line an event, indices 0..n-1 in order, times never decreasing; read a line at a time."""
    n, last_t, t0 = 0, -1, time.perf_counter()
    with path.open("rb") as fh:
        for raw in fh:
            m = _HEAD.match(raw)
            if m is None or int(m.group(1)) != n or not raw.endswith(b"\n"):
                raise SystemExit(f"{path}:{n + 1}: not event {n}: {raw[:80]!r}")
            t = int(m.group(2))
            if t < last_t:
                raise SystemExit(f"{path}:{n + 1}: time goes back ({t} < {last_t})")
            last_t, n = t, n + 1
    if expected is not None and n != expected:
        raise SystemExit(f"{path}: {n} events on disk, {expected} recorded")
    return f"{n:,} events on disk, indices 0..{n - 1:,} in order, times non-decreasing " \
           f"(read back in {time.perf_counter() - t0:.2f} s)"


def bench_threads(threads: int, per_thread: int) -> None:
    for hold in (0, RECORDER_HOLD):
        with tempfile.TemporaryDirectory(prefix="rec-bench-") as d:
            path = Path(d) / "h.jsonl"
            with Recorder(path, hold=hold) as rec:
                def work(p: int) -> None:
                    v = [p, 0]
                    for i in range(per_thread // 2):
                        rec.record(type="invoke", process=p, f="write", value=v, node="n1")
                        rec.record(type="ok", process=p, f="write", value=v, node="n1")
                ts = [threading.Thread(target=work, args=(p,)) for p in range(threads)]
                c0, w0 = time.process_time(), time.perf_counter()
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                rec.flush()
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            n = threads * (per_thread // 2) * 2
            print(f"threads: {threads} threads, hold={hold}: {n:,} events in {wall:.2f} s = {n / wall:,.0f} events/s "
                  f"wall; {cpu / n * 1e6:.2f} us CPU per event")
            print(f"  {verify_on_disk(path, n)}")


def bench_long(events: int, nemesis_every: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rec-bench-") as d:
        path = Path(d) / "h.jsonl"
        marks: list[tuple[int, float]] = []
        value = {"k": 7, "v": 123456, "pad": "x" * 24}
        eighth = max(1, events // 8)
        nem_s: list[float] = []  # wall time of each nemesis record: its write and fsync
        with Recorder(path, hold=RECORDER_HOLD) as rec:
            c0, w0 = time.process_time(), time.perf_counter()
            i, mark = 0, 0
            while i < events:
                if i >= mark:
                    marks.append((i, rss_mib()))
                    mark += eighth
                p = (i >> 1) % 20
                rec.record(type="invoke", process=p, f="write", value=value, node="n1")
                rec.record(type="ok", process=p, f="write", value=value, node="n1")
                i += 2
                if i % nemesis_every == 0:
                    for done in (False, True):
                        t = time.perf_counter()
                        rec.record(type="info", process=NEMESIS, f="kill", value={"nodes": ["n2"], "done": done})
                        nem_s.append(time.perf_counter() - t)
                    i += 2
            rec.flush()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            marks.append((len(rec), rss_mib()))
            n, kept, nem = len(rec), len(rec.nemesis_events), rec.nemesis_count
        size = path.stat().st_size
        print(f"long: {n:,} events ({size / 2**20:,.0f} MiB, {size / n:.0f} B/event) in {wall:.1f} s = "
              f"{n / wall:,.0f} events/s wall; {cpu / n * 1e6:.2f} us CPU per event")
        nem_s.sort()
        print(f"  nemesis: {nem:,} events (a pair every {nemesis_every:,}), {kept:,} kept in memory "
              f"(KEEP_NEMESIS); each written and fsynced in median {nem_s[len(nem_s) // 2] * 1e3:.2f} ms, "
              f"max {nem_s[-1] * 1e3:.1f} ms")
        print("  RSS: " + ", ".join(f"{k / 1e6:.2f}M {r:.1f} MiB" for k, r in marks))
        half = len(marks) // 2
        for a, b in ((1, len(marks) - 1), (half, len(marks) - 1)):
            grow, span = marks[b][1] - marks[a][1], marks[b][0] - marks[a][0]
            print(f"  RSS growth from {marks[a][0]:,} to {marks[b][0]:,} events: {grow:+.1f} MiB "
                  f"({grow * 2**20 / max(1, span):.2f} B/event)")
        print(f"  {verify_on_disk(path, n)}")
        c0, w0 = time.process_time(), time.perf_counter()
        found = recorded_nemesis(path)
        print(f"  recorded_nemesis: {len(found):,} nemesis events found in {time.perf_counter() - w0:.2f} s "
              f"({time.process_time() - c0:.2f} s CPU)")


def bench_runner(seconds: float, workers: int) -> None:
    from bench_harness import TARGET, WORKLOAD, NullCluster

    from harness.runner import execute
    from harness.target import WorkloadContext

    samples: list[tuple[int, float]] = []
    stop = threading.Event()

    def sample(rec: Recorder) -> None:  # RSS while the run goes on (the end adds the read-back's buffers)
        while not stop.wait(seconds / 8):
            samples.append((len(rec), rss_mib()))

    with tempfile.TemporaryDirectory(prefix="rec-bench-") as d:
        path = Path(d) / "history.jsonl"
        c0 = time.process_time()
        with Recorder(path, hold=RECORDER_HOLD) as rec:
            sampler = threading.Thread(target=sample, args=(rec,), daemon=True)
            sampler.start()
            try:
                out = execute(cluster=NullCluster(5), target=TARGET, workload=WORKLOAD,
                              wctx=WorkloadContext(nodes=NullCluster(5).nodes, variant="v", concurrency=workers),
                              recorder=rec, seed=1, time_limit_s=seconds)
            finally:
                stop.set()
                sampler.join()
        cpu = time.process_time() - c0
        ops = out.stats["ops"]
        print(f"runner: {ops:,} ops ({len(rec):,} events) in {out.duration_s:.1f} s with {workers} workers = "
              f"{ops / out.duration_s:,.0f} ops/s; {cpu / ops * 1e6:.1f} us CPU per op (sampler included)")
        if len(samples) >= 2:
            (n0, r0), (n1, r1) = samples[0], samples[-1]
            print(f"  RSS during the run: {r0:.1f} MiB at {n0:,} events, {r1:.1f} MiB at {n1:,} events "
                  f"({r1 - r0:+.1f} MiB)")
        print(f"  {verify_on_disk(path, len(rec))}")


def bench_real(seconds: float, *, redis: bool) -> None:
    """``perform_run`` of a real target, its RSS sampled every second (the last samples are its check)."""
    from harness.commands.run import RunRequest, perform_run, resolve
    from harness.nodes import node_names

    with tempfile.TemporaryDirectory(prefix="rec-bench-") as d:
        if redis:  # the outside-style example, without installing it: its Target, as its tests use it
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "redis_sentinel"))
            from splitbrain_redis_sentinel import TARGET, missing_binaries

            if missing_binaries():
                print(f"real run (redis-sentinel): skipped, {missing_binaries()}")
                return
            req = RunRequest(target=TARGET, variant=TARGET.check_variant(None),
                             workload_name=TARGET.workload(None).name, backend="local",
                             nodes=tuple(node_names(TARGET, None)), faults=(), time_limit_s=seconds,
                             concurrency=20, rate=None, nemesis_interval_s=3.0, store=Path(d) / "store")
            what = "redis-sentinel (examples/), local, primary + 2 replicas + 3 sentinels"
        else:
            req = resolve("quorum-store", variant="abd", backend="local", nodes=3, nemesis="none",
                          time_limit=seconds, concurrency=20, rate=None, store=Path(d) / "store")
            what = "quorum-store abd, local, 3 nodes"
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                samples.append(rss_mib())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        w0 = time.perf_counter()
        try:
            r = perform_run(req, seed=1, progress=False, echo=lambda *a, **k: None)
        finally:
            stop.set()
            sampler.join()
        wall = time.perf_counter() - w0
        st = r.results["stats"]
        path = r.run_dir / "history.jsonl"
        events = sum(1 for _ in path.open("rb"))
        print(f"real run ({what}, 20 clients, no rate limit, no nemesis, {seconds:g} s): {st['ops']:,} ops "
              f"(ok {st['ok']:,}, fail {st['fail']:,}, info {st['info']:,}) = {st['ops_per_s']:,} ops/s, "
              f"verdict {r.results.get('valid')} (exit {r.exit_code}); {wall:.1f} s with start, check and report")
        print(f"  RSS each second: {' '.join(f'{x:.0f}' for x in samples)} MiB")
        print(f"  {verify_on_disk(path, events)}; {2 * st['ops'] + st['nemesis_events']:,} expected from stats")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--nemesis-every", type=int, default=400, help="client events between nemesis pairs")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--per-thread", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=10)
    ap.add_argument("--real", type=float, default=20.0, help="seconds of a real quorum-store run; 0 skips it")
    ap.add_argument("--redis", type=float, default=20.0, help="seconds of a real Redis run; 0 skips it")
    a = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"hold {RECORDER_HOLD}")
    bench_threads(a.threads, a.per_thread)
    bench_long(a.events, a.nemesis_every)
    bench_runner(a.seconds, a.workers)
    if a.real > 0:
        bench_real(a.real, redis=False)
    if a.redis > 0:
        bench_real(a.redis, redis=True)
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
