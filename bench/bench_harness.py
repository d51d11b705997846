"""Harness cost: the op rate the runner sustains, and what the recorder adds per op.

Run: ``python bench/bench_harness.py [--seconds 3] [--workers 10]``. Prints:

* runner throughput: ``execute`` (the real interpreter, worker threads, real
  recorder writing ``history.jsonl`` to a temp dir) against a target whose
  client does nothing, ``--workers`` workers, no nemesis, no rate limit;
  wall-clock ops/s and the harness's CPU time per op;
* recorder: the cost of one ``Recorder.record`` call (one JSON line written and
  flushed to the OS), single thread, per event and per op (two events);
* generator: CPU per op of the run's generator tree (op + two updates), no threads.

Long runs (memory that does not follow the run's length, every event on disk
after millions of events and after a SIGKILL): ``bench/bench_recorder.py``.

Target (issue 3): >= 10,000 ops/s with 10 workers on a 2-core machine. Numbers
on a shared machine are noisy; CPU-time figures are steadier than wall-clock ones.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import generators as gen  # noqa: E402
from harness.client import Completion  # noqa: E402
from harness.cluster import Address  # noqa: E402
from harness.generators import Context, OpSpec  # noqa: E402
from harness.history import Op, read_jsonl  # noqa: E402
from harness.recorder import Recorder  # noqa: E402
from harness.commands.run import RECORDER_HOLD  # noqa: E402
from harness.runner import execute  # noqa: E402
from harness.target import Target, Workload, WorkloadContext  # noqa: E402


class NullCluster:
    def __init__(self, n: int) -> None:
        self.nodes = tuple(f"n{i}" for i in range(1, n + 1))

    def start(self, node: str) -> None: ...
    def stop(self, node: str) -> None: ...
    def address(self, node: str) -> Address: return Address(host="127.0.0.1", port=9)
    def alive(self, node: str) -> bool: return True


class NoopClient:
    def open(self, node: str, address: Address) -> "NoopClient": return self
    def setup(self) -> None: ...
    def invoke(self, op: Op) -> Completion: return Completion(type="ok", value=op.value)
    def teardown(self) -> None: ...
    def close(self) -> None: ...


def make_op(rng: random.Random) -> OpSpec:
    k = rng.randrange(5)
    return OpSpec(f="read", value=[k, None]) if rng.random() < 0.5 else OpSpec(f="write", value=[k, rng.randrange(10**6)])


WORKLOAD = Workload(name="noop", description="reads and writes that a no-op client accepts",
                    generator=lambda ctx: gen.fn(make_op), checker=lambda ctx: None)
TARGET = Target(name="noop", description="does nothing", variants={"v": "v"}, default_variant="v",
                node_command=lambda ctx: [], ready=lambda a: True, client=NoopClient,
                workloads={"noop": WORKLOAD}, default_workload="noop")


def bench_runner(seconds: float, workers: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "history.jsonl"
        cpu0 = time.process_time()
        with Recorder(path, hold=RECORDER_HOLD) as rec:
            out = execute(cluster=NullCluster(5), target=TARGET, workload=WORKLOAD,
                          wctx=WorkloadContext(nodes=NullCluster(5).nodes, variant="v", concurrency=workers),
                          recorder=rec, seed=1, time_limit_s=seconds)
        cpu = time.process_time() - cpu0
        ops = out.stats["ops"]
        n_lines = len(read_jsonl(path).ops)
        size = path.stat().st_size
    print(f"runner: {ops} ops in {out.duration_s:.2f} s with {workers} workers = "
          f"{ops / out.duration_s:,.0f} ops/s wall; {cpu / ops * 1e6:.1f} us CPU per op "
          f"({n_lines} events, {size / n_lines:.0f} B/event)")
    verdict = "MET" if ops / out.duration_s >= 10_000 else "MISSED (noisy machine? re-run when quiet)"
    print(f"  target >= 10,000 ops/s with 10 workers: {verdict}")


def bench_recorder(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        with Recorder(Path(d) / "h.jsonl") as rec:
            values = [[i % 5, i] for i in range(n)]
            c0, w0 = time.process_time(), time.perf_counter()
            for i in range(n):
                rec.record(type="invoke", process=i % 10, f="write", value=values[i], node="n1")
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    print(f"recorder: {cpu / n * 1e6:.2f} us CPU ({wall / n * 1e6:.2f} us wall) per event; "
          f"{2 * cpu / n * 1e6:.2f} us CPU per op (invoke + completion)")


def bench_generator(n: int) -> None:
    g = gen.lift(gen.phases(gen.any_of(gen.clients(gen.time_limit(10**6, gen.fn(make_op))),
                                       gen.nemesis(gen.time_limit(10**6, gen.sleep(10**6))))))
    rng = random.Random(1)
    free = frozenset(range(10)) | {"nemesis"}
    clients = frozenset(range(10))
    c0 = time.process_time()
    for i in range(n):
        ctx = Context(time=i * 1000, free=free, clients=clients, nemesis=True, rng=rng)
        spec, g = g.op(ctx)
        ev = Op(index=i, type="invoke", process=spec.process, f=spec.f, value=spec.value)
        g = g.update(ctx, ev)
        g = g.update(ctx, ev)
    cpu = time.process_time() - c0
    print(f"generator: {cpu / n * 1e6:.2f} us CPU per op (op + 2 updates through "
          f"phases/any_of/clients/time_limit/fn and the nemesis branch)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=10)
    ap.add_argument("--events", type=int, default=100_000)
    a = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    bench_recorder(a.events)
    bench_generator(a.events // 2)
    bench_runner(a.seconds, a.workers)


if __name__ == "__main__":
    main()
