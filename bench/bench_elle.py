"""Benchmark: the list-append checker on generated histories of 10k, 100k and 1M transactions.

Run:  python bench/bench_elle.py [--sizes 10000,100000,1000000] [--seed 1] [--model strict-serializable]
      [--compare-networkx 100000]   (needs networkx importable; not a dependency)

Each size runs in its own subprocess (``--child N``), so peak memory (max RSS)
is that size's alone. A history is made by a simulated strict-serializable
store: 10 processes, each transaction 4 micro-ops (append or read, 50/50) on a
window of 8 live keys, a key retired after 64 appends; each transaction takes
effect at its completion, so intervals overlap but the history is legal.
About 3% complete ``info`` (half of them applied; the process is then replaced,
as in Jepsen) and 1% ``fail``. Into it are injected, on keys of their own,
``--inject`` instances of each anomaly class below (overlapping transactions
of injector processes, so no real-time edge orders them, except for the
real-time class). The child checks the history, verifies that every injected
class was found at least as many times as injected, and prints one JSON line;
the parent prints a table.

Targets (issue 13): 100k transactions under 10 s, 1M under 120 s and 4 GiB.
Elle reports 100k-160k transactions/s on the JVM across several cores; the
table gives our rate per core (this checker is single-threaded).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checkers.elle.list_append import ListAppend  # noqa: E402
from harness.history import History, Op  # noqa: E402

ELLE_TXN_PER_S = (100_000, 160_000)
ELLE_CORES = 4  # "several cores": the paper's figures come from a multi-core JVM; we assume 4 for the per-core ratio

# name -> list of (process slot, status, micro-ops); keys are local names, made unique per instance.
PATTERNS: dict[str, list[tuple[int, str, list[list[Any]]]]] = {
    "G0": [(0, "ok", [["append", "x", 1], ["append", "y", 1]]),
           (1, "ok", [["append", "x", 2], ["append", "y", 2]]),
           (2, "ok", [["r", "x", [1, 2]]]), (3, "ok", [["r", "y", [2, 1]]])],
    "G1c": [(0, "ok", [["append", "x", 1], ["r", "y", [1]]]),
            (1, "ok", [["append", "y", 1], ["r", "x", [1]]])],
    "G-single": [(0, "ok", [["append", "x", 1], ["append", "y", 1]]),
                 (1, "ok", [["r", "x", [1]], ["r", "y", []]]),
                 (2, "ok", [["r", "y", [1]]])],
    "G-nonadjacent": [(0, "ok", [["r", "a", []], ["r", "d", [1]]]),
                      (1, "ok", [["append", "a", 1], ["append", "b", 1]]),
                      (2, "ok", [["r", "b", [1]], ["r", "c", []]]),
                      (3, "ok", [["append", "c", 1], ["append", "d", 1]]),
                      (4, "ok", [["r", "a", [1]], ["r", "c", [1]]])],
    "G2-item": [(0, "ok", [["r", "x", []], ["append", "y", 1]]),
                (1, "ok", [["r", "y", []], ["append", "x", 1]]),
                (2, "ok", [["r", "x", [1]], ["r", "y", [1]]])],
    "G1a": [(0, "fail", [["append", "x", 1]]), (1, "ok", [["r", "x", [1]]])],
    "G1b": [(0, "ok", [["append", "x", 1], ["append", "x", 2]]), (1, "ok", [["r", "x", [1]]]),
            (2, "ok", [["r", "x", [1, 2]]])],
    "dirty-update": [(0, "fail", [["append", "x", 1]]), (1, "ok", [["append", "x", 2]]),
                     (2, "ok", [["r", "x", [1, 2]]])],
    "internal": [(0, "ok", [["append", "x", 1], ["r", "x", []]])],
    "incompatible-order": [(0, "ok", [["append", "x", 1]]), (1, "ok", [["append", "x", 2]]),
                           (2, "ok", [["r", "x", [1, 2]]]), (3, "ok", [["r", "x", [2]]])],
    "duplicate-elements": [(0, "ok", [["append", "x", 1]]), (1, "ok", [["r", "x", [1, 1]]])],
    "never-written": [(0, "ok", [["r", "x", [99]]])],
    "lost-update": [(0, "ok", [["r", "x", []], ["append", "x", 1]]), (1, "ok", [["r", "x", []], ["append", "x", 2]]),
                    (2, "ok", [["r", "x", [1, 2]]])],
    "future-read": [(0, "ok", [["append", "x", 0]]), (1, "ok", [["r", "x", [0, 1]], ["append", "x", 1]])],
}
SEQUENTIAL = {"G-single-realtime": [(0, "ok", [["append", "x", 1]]), (1, "ok", [["r", "x", []]]),
                                    (2, "ok", [["r", "x", [1]]])]}


def generate(n: int, seed: int, inject: int) -> tuple[History, dict[str, int]]:
    """A legal list-append history of ``n`` transactions with ``inject`` copies of each pattern."""
    rng = random.Random(seed)
    ops: list[Op] = []
    state: dict[int, list[int]] = {}
    appended: dict[int, int] = {}
    live = list(range(8))
    next_key = 8
    procs = list(range(10))
    in_flight: dict[int, tuple[int, list[list[Any]]]] = {}   # slot -> (process, planned mops)
    every = max(1, n // (inject * (len(PATTERNS) + len(SEQUENTIAL)) + 1)) if inject else 0
    todo = [name for _ in range(inject) for name in list(PATTERNS) + list(SEQUENTIAL)]
    injected: dict[str, int] = {}
    inj_proc = 10_000_000  # far above the workers, whose ids grow by 10 at each info
    done = 0

    def emit(p: int, type_: str, value: Any) -> None:
        ops.append(Op(index=len(ops), time=len(ops) * 1000, process=p, type=type_, f="txn", value=value))

    while done < n:
        slot = rng.randrange(10)
        if slot not in in_flight:
            mops: list[list[Any]] = []
            for _ in range(4):
                k = rng.choice(live)
                if rng.random() < 0.5:
                    mops.append(["r", k, None])
                else:
                    appended[k] = v = appended.get(k, 0) + 1
                    mops.append(["append", k, v])
                    if v == 64:
                        live[live.index(k)] = next_key
                        next_key += 1
            in_flight[slot] = (procs[slot], mops)
            emit(procs[slot], "invoke", mops)
            continue
        p, mops = in_flight.pop(slot)
        done += 1
        roll = rng.random()
        if roll < 0.01:
            emit(p, "fail", mops)
        elif roll < 0.04:
            if rng.random() < 0.5:
                _apply(state, mops)
            emit(p, "info", mops)
            procs[slot] += 10
        else:
            emit(p, "ok", _apply(state, mops))
        if every and todo and done % every == 0:
            name = todo.pop()
            keys = {}
            pattern = PATTERNS.get(name) or SEQUENTIAL[name]
            base = inj_proc
            inj_proc += 10
            for key in sorted({m[1] for _, _, ms in pattern for m in ms}):
                keys[key] = f"{name}-{base}-{key}"
            made = [(base + s, st, [[f, keys[k], v] for f, k, v in ms]) for s, st, ms in pattern]
            if name in SEQUENTIAL:
                for p2, st, ms in made:
                    emit(p2, "invoke", _invoked(ms))
                    emit(p2, st, ms if st == "ok" else _invoked(ms))
            else:
                for p2, _, ms in made:
                    emit(p2, "invoke", _invoked(ms))
                for p2, st, ms in made:
                    emit(p2, st, ms if st == "ok" else _invoked(ms))
            injected[name] = injected.get(name, 0) + 1
    return History.of(ops), injected


def _invoked(mops: list[list[Any]]) -> list[list[Any]]:
    return [[f, k, None] if f == "r" else [f, k, v] for f, k, v in mops]


def _apply(state: dict[int, list[int]], mops: list[list[Any]]) -> list[list[Any]]:
    out = []
    for f, k, v in mops:
        if f == "append":
            state.setdefault(k, []).append(v)
            out.append([f, k, v])
        else:
            out.append([f, k, list(state.get(k, ()))])
    return out


def child(n: int, seed: int, inject: int, model: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    history, injected = generate(n, seed, inject)
    gen_s = time.perf_counter() - t0
    rss_history = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t1, c1 = time.perf_counter(), time.process_time()
    result = ListAppend(models=[model], timeout_s=600).check(history)
    check_s, cpu_s = time.perf_counter() - t1, time.process_time() - c1
    counts = result.stats["counts"]
    missed = {k: v for k, v in injected.items() if counts.get(k, 0) < v}
    return {"txns": n, "events": len(history.ops), "gen_s": round(gen_s, 2), "check_s": round(check_s, 2),
            "cpu_s": round(cpu_s, 2), "txn_per_s": round(n / check_s), "graph_s": result.stats["graph_s"],
            "cycles_s": result.stats["cycles_s"], "edges": result.stats["graph"]["edges"],
            "phases_s": result.stats["phases_s"],
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "history_mib": round(rss_history), "verdict": result.verdict.value,
            "injected": injected, "found": counts, "missed": missed, "error": result.error}


def compare_networkx(n: int, seed: int) -> str:
    """Our CSR + Tarjan against networkx's DiGraph + strongly_connected_components on one graph (CPU s)."""
    try:
        import networkx as nx  # type: ignore[import-not-found]
    except ImportError:
        return "networkx is not installed (pip install networkx) - comparison skipped"
    from checkers.elle.analysis import Findings
    from checkers.elle.graph import GraphBuilder, strongly_connected
    from checkers.elle.txn import order_edges, parse

    history, _ = generate(n, seed, 2)
    parsed = parse(history, ListAppend.fs, workload="list-append")
    b = GraphBuilder(len(parsed.txns))
    ListAppend().analyze(history, parsed, b, Findings())
    order_edges(parsed.txns, b, process=True, realtime=True)
    t = time.process_time()
    ours = strongly_connected(b.build())
    t_ours = time.process_time() - t
    t = time.process_time()
    g = nx.DiGraph()
    g.add_edges_from(zip(b._src, b._dst))
    theirs = [c for c in nx.strongly_connected_components(g) if len(c) > 1]
    t_nx = time.process_time() - t
    same = sorted(map(sorted, ours)) == sorted(map(sorted, theirs))
    return (f"{n} txns, {len(b._src)} edges: ours (CSR + Tarjan) {t_ours:.2f} s, networkx {nx.__version__} "
            f"(DiGraph + SCC) {t_nx:.2f} s CPU; same components: {same}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inject", type=int, default=2, help="instances of each anomaly class")
    ap.add_argument("--model", default="strict-serializable")
    ap.add_argument("--compare-networkx", type=int, default=0, metavar="N",
                    help="also time networkx's SCC on the graph of an N-transaction history")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child is not None:
        print(json.dumps(child(a.child, a.seed, a.inject, a.model)))
        return 0
    ok = True
    print(f"injected, {a.inject} of each: {', '.join(list(PATTERNS) + list(SEQUENTIAL))}")
    print(f"{'txns':>9} {'gen_s':>7} {'check_s':>8} {'graph_s':>8} {'cycles_s':>8} {'txn/s':>8} "
          f"{'edges':>10} {'peak_MiB':>9} {'hist_MiB':>9}  injected found")
    for n in (int(x) for x in a.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--seed", str(a.seed),
                              "--inject", str(a.inject), "--model", a.model],
                             capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if out.returncode != 0:
            print(f"{n:>9} child failed:\n{out.stderr}")
            ok = False
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        all_found = not r["missed"]
        ok &= all_found
        print(f"{r['txns']:>9} {r['gen_s']:>7} {r['check_s']:>8} {r['graph_s']:>8} {r['cycles_s']:>8} "
              f"{r['txn_per_s']:>8} {r['edges']:>10} {r['peak_mib']:>9} {r['history_mib']:>9}  "
              f"{sum(r['injected'].values())} {'all' if all_found else 'MISSED ' + str(r['missed'])}")
        extra = sorted(set(r["found"]) - set(r["injected"]))
        if extra:
            print(f"{'':>9} also found (caused by the injections' real-time order): "
                  + ", ".join(f"{k} x{r['found'][k]}" for k in extra))
        print(f"{'':>9} phases (s): " + ", ".join(f"{k} {v}" for k, v in r["phases_s"].items())
              + f"; cpu {r['cpu_s']} s of {r['check_s']} s wall")
        per_core = round(r["txns"] / r["cpu_s"])
        lo, hi = (x / ELLE_CORES for x in ELLE_TXN_PER_S)
        print(f"{'':>9} per core (CPU time): ours {per_core} txn/s vs Elle ~{lo:.0f}-{hi:.0f} txn/s/core "
              f"(assuming {ELLE_CORES} cores): ratio {per_core / hi:.2f}-{per_core / lo:.2f}")
    if a.compare_networkx:   # last: a child's max RSS would inherit this process's (Linux keeps it across exec)
        print(compare_networkx(a.compare_networkx, a.seed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
