"""Report generation time and file size for a 100,000-operation history.

Builds a synthetic run folder in a temporary directory: ``--ops`` client
operations (200,000 events for 100,000 ops) on ``--processes`` processes, a
few percent failed or indeterminate, latencies drawn from a seeded log-normal,
a partition or kill every few seconds, and a results.json whose
linearizability anomaly has a 200-op prefix and 50 concurrent ops (the
checker's limits). Then it times ``write_report`` (load + render + write)
``--repeat`` times, prints the size of report.html, and, when Chromium is
installed, how long headless Chromium takes from navigation to the load
event (plots are drawn before it), twice (cold and warm cache), over the
DevTools protocol (``tests/report/cdp.py``).

Run: ``python bench/bench_report.py [--ops 100000] [--repeat 3] [--no-browser]``.
The machine is shared, so figures are noisy; the issue's budget is under
20 MB and a few seconds to open.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.history import Op, op_to_json  # noqa: E402
from harness.report import write_report  # noqa: E402
from harness.report.rundata import load_run  # noqa: E402
from tests.report.cdp import Browser, find_chromium  # noqa: E402


def synth_history(n_ops: int, n_procs: int, seed: int) -> list[Op]:
    """``n_ops`` register ops at ~1000 ops/s in total, plus nemesis pairs every 5 s."""
    rng = random.Random(seed)
    events: list[tuple[int, int, dict]] = []  # (time ns, tie-break, fields)
    per_proc = n_ops // n_procs
    for p in range(n_procs):
        t = rng.randrange(1_000_000)
        for k in range(per_proc):
            lat = int(rng.lognormvariate(15.0, 0.8))  # ~3 ms median
            f = "read" if rng.random() < 0.5 else "write"
            v = None if f == "read" else rng.randrange(100)
            key = rng.randrange(5)
            events.append((t, 0, dict(process=p, type="invoke", f=f, value=[key, v])))
            r = rng.random()
            status = "ok" if r < 0.95 else "fail" if r < 0.98 else "info"
            out = [key, rng.randrange(100)] if f == "read" and status == "ok" else [key, v]
            events.append((t + lat, 1, dict(process=p, type=status, f=f, value=out,
                                            error=None if status == "ok" else "timeout")))
            t += lat + int(rng.expovariate(1 / (n_procs * 1_000_000)))
    end = max(e[0] for e in events)
    t, i = 2_000_000_000, 0
    while t < end:
        kind = ("start-partition", "stop-partition") if i % 2 == 0 else ("kill", "start")
        detail = {"kind": "majorities-ring", "links": [["n1", "n2"], ["n2", "n3"]]} if i % 2 == 0 \
            else {"nodes": ["n3"]}
        for dt, f, v in ((0, kind[0], "about to"), (50_000_000, kind[0], detail),
                         (3_000_000_000, kind[1], "about to"), (3_050_000_000, kind[1], {"nodes": ["n3"]})):
            events.append((t + dt, 2, dict(process="nemesis", type="info", f=f, value=v)))
        t += 5_000_000_000
        i += 1
    events.sort(key=lambda e: (e[0], e[1]))
    return [Op(index=i, time=tm, **{k: v for k, v in d.items() if v is not None or k == "value"})
            for i, (tm, _, d) in enumerate(events)]


def synth_results(ops: list[Op]) -> dict:
    """results.json with one nonlinearizable anomaly shaped like checkers.linear.explain's."""
    def op_data(inv: Op, comp: Op) -> dict:
        return {"process": inv.process, "f": inv.f, "value": comp.value, "type": comp.type,
                "invoke_index": inv.index, "complete_index": comp.index, "call": f"{inv.f} {inv.value}"}

    open_: dict = {}
    pairs = []
    for op in ops:
        if op.process == "nemesis":
            continue
        if op.type == "invoke":
            open_[op.process] = op
        else:
            pairs.append((open_.pop(op.process), op))
    mid = len(pairs) // 2
    failing = pairs[mid]
    prefix = [{"op": op_data(*pr), "state": str(k)} for k, pr in enumerate(pairs[mid - 200:mid])]
    concurrent = [op_data(*pr) for pr in pairs[mid + 1:mid + 51]]
    anomaly = {"kind": "nonlinearizable",
               "summary": f"key 0: process {failing[0].process} read cannot be linearized after the "
                          f"{mid}-op linearizable prefix: read 7 but the register holds 3.",
               "ops": [failing[0].index, failing[1].index] + [c["invoke_index"] for c in concurrent],
               "data": {"key": 0, "op": op_data(*failing), "state": "3", "reason": "read 7 but the register holds 3",
                        "prefix": prefix, "prefix_length": mid, "initial_state": "nil",
                        "concurrent": concurrent, "concurrent_count": len(concurrent)}}
    n = len(pairs)
    return {"valid": False, "seed": 1, "run_id": "bench", "target": "quorum-store", "variant": "seed",
            "backend": "local", "workload": "register", "nodes": ["n1", "n2", "n3", "n4", "n5"],
            "nemesis": ["partition", "kill"], "time_limit_s": ops[-1].time / 1e9, "concurrency": 10,
            "rate": None, "command": "splitbrain run quorum-store --variant seed --seed 1",
            "started_at": "2026-01-01T00:00:00Z",
            "checkers": {"linearizability": {"checker": "linearizability", "valid": False,
                                             "anomalies": [anomaly], "stats": {"ops": n}}},
            "stats": {"ops": n}, "faults": []}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=100_000, help="client operations (events = 2x)")
    ap.add_argument("--processes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium load timing")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-report-"))
    try:
        run = tmp / "quorum-store" / "bench"
        run.mkdir(parents=True)
        t0 = time.perf_counter()
        ops = synth_history(args.ops, args.processes, seed=1)
        (run / "history.jsonl").write_text("".join(op_to_json(o) + "\n" for o in ops), encoding="utf-8")
        (run / "results.json").write_text(json.dumps(synth_results(ops)), encoding="utf-8")
        print(f"history: {args.ops} ops, {len(ops)} events, "
              f"{(run / 'history.jsonl').stat().st_size / 1e6:.1f} MB jsonl "
              f"(built in {time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        load_run(run)
        print(f"load_run (read_jsonl + pairing, harness/history.py): {time.perf_counter() - t0:.2f} s")
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            path = write_report(run)
            times.append(time.perf_counter() - t0)
        size = path.stat().st_size
        print(f"write_report: best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s "
              f"over {args.repeat} (load history + render + write)")
        print(f"report.html: {size / 1e6:.2f} MB (plotly.js inlined: ~4.8 MB of it)"
              f" -> {'within' if size < 20e6 else 'OVER'} the 20 MB budget")
        exe = None if args.no_browser else find_chromium()
        if exe:
            with Browser(exe, timeout_s=300) as browser:
                for attempt in ("cold", "warm"):
                    took = browser.open(path, settle_s=0.5)
                    drawn = browser.evaluate("document.querySelectorAll('div.sb-plot.js-plotly-plot').length")
                    print(f"chromium ({attempt}): load event {took:.2f} s after navigation, {drawn} plots drawn, "
                          f"{len(browser.errors)} console errors")
        elif not args.no_browser:
            print("chromium not installed: browser timing skipped (apt-get install -y chromium)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
