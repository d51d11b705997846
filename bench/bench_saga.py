"""Saga bug-finding: how often each saga-orders variant is caught, and which invariants break.

Runs ``splitbrain run saga-orders`` N seeds x T seconds per variant, under
the same faults and crash points for every variant (kills of any node and of
the orchestrator, pauses, the orchestrator and the bus cut off from the
services, every crash point armed), and prints, per variant, how many runs
were caught (INVALID) and how often each invariant broke across them.

    python bench/bench_saga.py                               # 10 seeds x 30 s, every variant
    python bench/bench_saga.py --runs 5 --seconds 20 --variants seed,durable --backend docker

Target (issue 11): seed and choreography caught in >= 9/10 with >= 3
distinct invariants each; durable in 0/10. Measured (netns, 10 x 30 s, a
busy 2-core machine, 2026-12-01): seed 10/10, 7 invariants (order-not-terminal
10 runs, illegal-saga 5, orphan-reservation 5, stock-not-conserved 3,
duplicate-orders-for-key 2, cancelled-but-charged 2, ack-broken 2);
choreography 10/10, 3 (order-not-terminal 10, duplicate-orders-for-key 7,
stock-not-conserved 6); durable 0/10 (64-78 confirmed and 145-187
cancelled orders per run, 3-4 crash points fired). About 23 min in all.

Measured on Docker (``--backend docker``, 10 x 30 s, the same busy 2-core
machine shared with other runs, 2026-12-01; about 70 s a run): seed 10/10,
7 invariants (order-not-terminal 10 runs, illegal-saga 8,
orphan-reservation 6, stock-not-conserved 5, ack-broken 4,
cancelled-but-charged 3, duplicate-orders-for-key 3); choreography 10/10, 4
(order-not-terminal 10, stock-not-conserved 10, duplicate-orders-for-key 10,
illegal-saga 1); durable 0/10 (69-82 confirmed and 91-275 cancelled orders
per run, 3-8 crash points fired). A run still going ``seconds + 180`` s
after it began (say, waiting for another run's image build) is stopped with
SIGTERM, so that the harness removes its containers, and counted as not
decided. Each run's folder is kept under ``--store`` (a temporary folder by
default) for its report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bounded import run_bounded

NEMESIS = "kill,kill:orchestrator,pause,partition:orchestrator,partition:bus"
OPTIONS = ("crash_points=all", "crash_p=0.004")


def _results(store: Path) -> set[Path]:
    return {p for p in store.glob("saga-orders/*/results.json") if not p.parent.is_symlink()}


def one_run(variant: str, seed: int, seconds: float, backend: str, store: Path) -> dict:
    before = _results(store)
    argv = [sys.executable, "-m", "harness.cli", "run", "saga-orders", "--variant", variant, "--backend", backend,
            "--nemesis", NEMESIS, "--time-limit", str(seconds), "--rate", "20", "--seed", str(seed),
            "--store", str(store), "--nemesis-interval", "3"]
    for o in OPTIONS:
        argv += ["--option", o]
    run_bounded(argv, seconds + 180, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    new = sorted(_results(store) - before)
    if not new:
        return {"valid": "error", "kinds": Counter(), "folder": None}
    doc = json.loads(new[-1].read_text())
    if doc.get("valid") not in (True, False):
        return {"valid": f"{doc.get('valid')} ({doc.get('status')} in {doc.get('phase')})", "kinds": Counter(),
                "folder": str(new[-1].parent)}
    saga = (doc.get("checkers") or {}).get("saga") or {}
    kinds = Counter((saga.get("stats") or {}).get("counts") or {})
    if not kinds:
        kinds = Counter(a["kind"] for a in saga.get("anomalies", []))
    return {"valid": doc.get("valid"), "kinds": kinds, "folder": str(new[-1].parent)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--variants", default="seed,choreography,durable")
    ap.add_argument("--backend", default="netns")
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--first-seed", type=int, default=1000)
    a = ap.parse_args()
    store = a.store or Path(tempfile.mkdtemp(prefix="splitbrain-bench-saga-"))
    print(f"saga-orders on {a.backend}: {a.runs} seeds x {a.seconds:g} s per variant; nemesis {NEMESIS}; "
          f"options {' '.join(OPTIONS)}; runs kept in {store}")
    summary = {}
    for variant in a.variants.split(","):
        caught, broken, errors = 0, Counter(), 0
        t0 = time.monotonic()
        for i in range(a.runs):
            r = one_run(variant, a.first_seed + i, a.seconds, a.backend, store)
            if r["valid"] is False:
                caught += 1
                broken.update({k: 1 for k in r["kinds"]})  # runs in which each invariant broke
            elif r["valid"] is not True:
                errors += 1
            print(f"  {variant:12} seed {a.first_seed + i}: valid={r['valid']} "
                  f"{dict(r['kinds']) or ''} {r['folder'] or ''}", flush=True)
        summary[variant] = (caught, broken, errors)
        print(f"{variant}: caught {caught}/{a.runs} ({errors} not decided) in {time.monotonic() - t0:.0f} s; "
              f"invariants broken ({len(broken)} distinct, runs each): "
              + (", ".join(f"{k} {n}" for k, n in broken.most_common()) or "none"), flush=True)
    print("\nsummary:")
    for variant, (caught, broken, errors) in summary.items():
        print(f"  {variant:12} caught {caught}/{a.runs}, {len(broken)} distinct invariants: "
              + (", ".join(sorted(broken)) or "none"))


if __name__ == "__main__":
    main()
