"""How long a run takes to stop: from a stop signal to the harness's exit, per phase; SIGKILL to clean.

Run: ``python bench/bench_shutdown.py [--backend local] [--repeat 2]``. Prints, for
SIGTERM delivered in each phase of a quorum-store run (``abd``, 3 nodes), the
seconds from the signal to the harness's exit (nodes stopped, logs copied,
``results.json`` final, report written) and its exit code; then, for a SIGKILL
mid-workload, the seconds until the run's watchdog has removed every node,
temp dir and run record. Each figure is the median of ``--repeat`` runs.

No target is set (issue 9 asks that every way out unwinds, not how fast);
the figures say what a user waits for after Ctrl-C. Wall-clock on a shared
machine: noisy. Runs use the test kit of ``tests/support/runs.py``.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.runs import RunUnderTest, wait_for  # noqa: E402

HOLDS = {"workload": None, "heal": "healing", "final reads": "final reads", "check": "checking",
         "report": "writing report"}


def stop_time(base: Path, backend: str, phase: str) -> tuple[float, int]:
    hold = HOLDS[phase]
    run = RunUnderTest(base, backend=backend, hold=hold, time_limit=30 if hold is None else 0.6)
    try:
        if hold is None:
            run.wait_phase("running")
            wait_for(lambda: run.history_lines() > 30, 30, "ops")
        else:
            run.wait_held()
        t0 = time.monotonic()
        run.signal(signal.SIGTERM)
        code = run.wait()
        return time.monotonic() - t0, code
    finally:
        run.close()


def kill_clean_time(base: Path, backend: str) -> float:
    run = RunUnderTest(base, backend=backend, time_limit=30)
    try:
        run.wait_phase("running")
        wait_for(lambda: run.history_lines() > 30, 30, "ops")
        t0 = time.monotonic()
        run.signal(signal.SIGKILL)
        wait_for(lambda: run.leftovers() == [], 60, "the watchdog's cleanup", every=0.01)
        return time.monotonic() - t0
    finally:
        run.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="local")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
        root = Path(tmp)
        print(f"backend {args.backend}, median of {args.repeat} run(s)")
        for phase in HOLDS:
            figures = [stop_time(root / f"{phase}-{i}".replace(" ", "-"), args.backend, phase)
                       for i in range(args.repeat)]
            codes = sorted({c for _, c in figures})
            print(f"  SIGTERM during {phase:<12} exit {codes} after {statistics.median(t for t, _ in figures):5.2f} s")
        kills = [kill_clean_time(root / f"kill-{i}", args.backend) for i in range(args.repeat)]
        print(f"  SIGKILL mid-workload: nothing left after {statistics.median(kills):5.2f} s (the watchdog)")


if __name__ == "__main__":
    main()
