"""Benchmark: the linearizability checker on the shared corpus and on a 100k-op kv history.

Run:  python bench/bench_linearizability.py [--corpus DIR] [--repeat N] [--ops N]

Part 1 checks every history of ``shared/corpus`` in this one process and
prints, per file, our check time (median of ``--repeat`` runs; loading the
file is not counted) next to the manifest's ``porcupine_ms``, whether the
verdict matches, then the totals, the ratio to Porcupine's total and the
peak memory (max RSS). Part 2 generates a valid ``kv`` history (10 keys, 20
processes, 1% ``info`` ops, ``--ops`` operations), writes it as EDN, loads it
and checks it, printing both times.

Targets (issue 2): every verdict right; total at most 1/4 of Porcupine's
(521 ms for the whole corpus); no file over 1 s; peak under 1 GiB; the 100k-op
history checked in under 10 s. Exit status 0 when every verdict is right.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checkers.api import Verdict  # noqa: E402
from checkers.linearizability import Linearizability  # noqa: E402
from harness.formats import load_history, write_history  # noqa: E402
from harness.history import History, Op  # noqa: E402
from tests.support.corpus import EXPECTED, checker_for, manifest_rows  # noqa: E402

def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_corpus(corpus: Path, repeat: int) -> bool:
    rows = manifest_rows(corpus)
    t0 = time.perf_counter()
    loaded = [(row, load_history(corpus / row["path"])) for row in rows]
    load_s = time.perf_counter() - t0
    print(f"{'file':58} {'ops':>5} {'ours_ms':>9} {'cpu_ms':>8} {'porcupine_ms':>13} {'verdict':>9}  ok")
    total_ours = total_porc = total_cpu = 0.0
    total_states = 0
    wrong: list[str] = []
    slowest = (0.0, "")
    for row, history in loaded:
        checker = checker_for(row)
        times, cpu = [], []
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            result = checker.check(history)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        ms = statistics.median(times) * 1000
        cpu_ms = statistics.median(cpu) * 1000
        total_cpu += cpu_ms
        total_states += int(result.stats.get("states_explored", 0))
        porc = float(row["porcupine_ms"] or "nan")
        total_ours += ms
        total_porc += porc
        slowest = max(slowest, (ms, row["path"]))
        right = result.verdict is EXPECTED[row["expected"]]
        if not right:
            wrong.append(row["path"])
        print(f"{row['path']:58} {row['ops']:>5} {ms:9.3f} {cpu_ms:8.3f} {porc:13.3f} {result.verdict.value:>9}  "
              f"{'yes' if right else 'NO'}")
    print()
    print(f"files: {len(rows)}   verdicts right: {len(rows) - len(wrong)}/{len(rows)}"
          + (f"   WRONG: {', '.join(wrong)}" if wrong else ""))
    print(f"total check time: ours {total_ours:.1f} ms (CPU {total_cpu:.1f} ms), Porcupine {total_porc:.1f} ms, "
          f"ratio ours/Porcupine {total_ours / total_porc:.3f} (CPU {total_cpu / total_porc:.3f}; target <= 0.25)")
    print(f"machine load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(on {os.cpu_count()} CPUs; wall times inflate under load, CPU times less)")
    print(f"slowest file: {slowest[1]} {slowest[0]:.1f} ms (target < 1000 ms)")
    print(f"configurations explored, all files: {total_states} (machine-independent)")
    print(f"loading all {len(rows)} files (EDN parse + pairing, not counted above): {load_s * 1000:.0f} ms")
    print(f"peak memory so far (max RSS): {peak_rss_mib():.0f} MiB (target < 1024 MiB)")
    return not wrong


def generate_kv(n_ops: int, *, keys: int = 10, processes: int = 20, info_rate: float = 0.01,
                seed: int = 1) -> History:
    """A valid kv history: ops take effect at a random instant inside their intervals.

    Each worker runs one op at a time; an op that ends ``info`` crashes its
    process (Jepsen style: the worker continues under a new process number),
    and took effect or not at random.
    """
    rng = random.Random(seed)
    clock = [0.0] * processes
    proc = list(range(processes))
    next_proc = processes
    planned: list[tuple[float, float, float, int, str, str, str, bool]] = []
    for i in range(n_ops):
        w = i % processes
        start = clock[w] + rng.expovariate(1.0)
        end = start + rng.expovariate(0.2)
        point = rng.uniform(start, end)
        clock[w] = end
        key = str(rng.randrange(keys))
        f = rng.choice(("get", "get", "put", "append", "append"))
        arg = f"x {proc[w]} {i} y"
        info = rng.random() < info_rate
        planned.append((start, end, point, proc[w], f, key, arg, info))
        if info:
            proc[w] = next_proc
            next_proc += 1
    state: dict[str, str] = {}
    result: dict[int, str] = {}
    for j in sorted(range(n_ops), key=lambda j: planned[j][2]):
        _, _, _, _, f, key, arg, info = planned[j]
        if info and rng.random() < 0.5:
            continue  # an indeterminate op that never took effect
        if f == "get":
            result[j] = state.get(key, "")
        elif f == "put":
            state[key] = arg
        else:
            state[key] = state.get(key, "") + arg
    events: list[tuple[float, int, Any, str, str, Any]] = []
    for j, (start, end, _, p, f, key, arg, info) in enumerate(planned):
        inv = [key, None] if f == "get" else [key, arg]
        events.append((start, 0, p, "invoke", f, inv))
        if info:
            events.append((end, 1, p, "info", f, inv))
        elif f == "get":
            events.append((end, 1, p, "ok", f, [key, result.get(j, "")]))
        else:
            events.append((end, 1, p, "ok", f, inv))
    events.sort(key=lambda e: (e[0], e[1]))
    ops = [Op(index=i, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
           for i, (_, _, p, t, f, v) in enumerate(events)]
    return History.of(ops)


def bench_generated(n_ops: int) -> bool:
    t = time.perf_counter()
    history = generate_kv(n_ops)
    gen_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory(prefix="splitbrain-bench-") as tmp:
        path = write_history(history, Path(tmp) / "kv.edn")
        size_mb = path.stat().st_size / 1e6
        t, c = time.perf_counter(), time.process_time()
        loaded = load_history(path)
        load_s, load_cpu = time.perf_counter() - t, time.process_time() - c
    checker = Linearizability(model="kv", timeout_s=120)
    t, c = time.perf_counter(), time.process_time()
    result = checker.check(loaded)
    check_s, check_cpu = time.perf_counter() - t, time.process_time() - c
    print()
    print(f"generated kv history: {n_ops} ops, 10 keys, 20 processes, 1% info "
          f"(generated in {gen_s:.1f} s, {size_mb:.1f} MB of EDN)")
    print(f"  load (EDN parse + pairing): {load_s:.2f} s, CPU {load_cpu:.2f} s")
    print(f"  check: {check_s:.2f} s, CPU {check_cpu:.2f} s (target < 10 s), verdict {result.verdict.value}, "
          f"states explored {result.stats.get('states_explored')}, cache peak {result.stats.get('cache_peak')}")
    print(f"peak memory (max RSS): {peak_rss_mib():.0f} MiB (target < 1024 MiB)")
    return result.verdict is Verdict.VALID


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--repeat", type=int, default=5, help="runs per corpus file; the median is shown")
    ap.add_argument("--ops", type=int, default=100_000, help="size of the generated kv history (0: skip)")
    args = ap.parse_args()
    corpus = args.corpus if args.corpus.is_dir() else Path("/work/shared/corpus")
    ok = bench_corpus(corpus, args.repeat)
    if args.ops:
        ok = bench_generated(args.ops) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
