"""Bug-finding power: how often a run finds anomalies, per variant.

Runs ``splitbrain run TARGET --variant V`` for several seeds under the given
faults and prints, per variant, how many runs found an anomaly, the kinds of
anomaly found, and the time per run. The claim it backs: the guide's ``seed``
quorum store is caught in (almost) every run; the ``abd`` variant in none.

    python bench/bench_bugfinding.py                      # netns backend, 10 seeds x 30 s each variant
    python bench/bench_bugfinding.py --backend local      # or docker
    python bench/bench_bugfinding.py --seeds 3 --time-limit 10   # a quick look
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(target: str, variant: str, backend: str, nemesis: str, time_limit: float,
             seed: int, store: Path) -> tuple[dict, float, int]:
    cmd = [sys.executable, "-m", "harness.cli", "run", target, "--variant", variant,
           "--backend", backend, "--nemesis", nemesis, "--time-limit", str(time_limit),
           "--seed", str(seed), "--store", str(store)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    runs = sorted((store / target).glob("*/results.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit(f"run produced no results (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(runs[-1].read_text()), elapsed, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="quorum-store")
    ap.add_argument("--variants", default="seed,abd")
    ap.add_argument("--backend", default="netns", help="netns (the CLI's default), local or docker")
    ap.add_argument("--nemesis", default="partition,kill")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--store", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    args = ap.parse_args()

    store = args.store or Path(tempfile.mkdtemp(prefix="splitbrain-bench-"))
    print(f"target={args.target} backend={args.backend} nemesis={args.nemesis} "
          f"time_limit={args.time_limit}s seeds={args.first_seed}..{args.first_seed + args.seeds - 1} store={store}")
    for variant in args.variants.split(","):
        found, kinds, times, other = 0, collections.Counter(), [], collections.Counter()
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            res, elapsed, rc = run_once(args.target, variant, args.backend, args.nemesis,
                                        args.time_limit, seed, store)
            times.append(elapsed)
            verdict = res.get("valid")
            if verdict is False:
                found += 1
                for c in res.get("checkers", {}).values():
                    for a in c.get("anomalies", []):
                        kinds[a.get("kind", "?")] += 1
            elif verdict != True:  # noqa: E712 - JSON true
                other["unknown"] += 1
            st = res.get("stats", {})
            print(f"  {variant:5} seed={seed:3} exit={rc} valid={verdict!s:7} ops={st.get('ops')} "
                  f"ok={st.get('ok')} fail={st.get('fail')} info={st.get('info')} "
                  f"faults={len(res.get('faults', []))} {elapsed:.1f}s")
        print(f"{variant}: anomalies in {found}/{args.seeds} runs; unknown in {other['unknown']}; "
              f"kinds {dict(kinds)}; mean {sum(times) / len(times):.1f}s per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
