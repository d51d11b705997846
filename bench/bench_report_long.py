"""The report and results.json of a 1,000,000-operation run (issue 15): write time, size, opening time.

A real million-op run takes an hour; this makes one of the same shape in a
minute. It makes a real short run (``splitbrain run quorum-store --variant
seed --nemesis partition,kill --time-limit 8``: real nodes in network
namespaces, real partitions and kills, the seed variant's real anomalies),
or takes ``--source RUN_DIR``, and lays its recorded history end to end until
it holds ``--ops`` client operations (:func:`tile`): each copy later in time,
its events renumbered, written values shifted so every copy writes its own
values, a read of the empty register in a copy after the first reading what
the previous copy's final read of that key saw, a client that crashed
(``info``) coming back under a new process number as the runner does, and
its nemesis events with it (so a fault window per copy of a fault). Then it
writes results.json the way the harness does (stats with
``harness.runner.stats_of``, windows with ``nemesis.fault_windows``, the
verdicts with the workload's own checker through ``harness.store.recheck_run``),
and times, end to end:

* ``splitbrain report RUN_DIR --no-index`` in a subprocess (wall and CPU);
* headless Chromium from navigation to the load event (the plots are drawn
  before it, on DOMContentLoaded), over the DevTools protocol
  (``tests/report/cdp.py``), cold then warm; and that every op an anomaly
  names is on the page;
* the size of report.html and results.json, and the time
  ``harness.store.write_results`` takes to write the latter.

Run: ``python bench/bench_report_long.py [--ops 1000000] [--source RUN_DIR] [--keep DIR]``
(``--keep DIR`` leaves the long run folder there; given an existing one, it
is reused). Figures are CPU seconds unless said (the machine is shared).

Chromium's figure is the CPU its whole process tree spent from navigation to
the load event (the plots drawn on opening are drawn before it, on
DOMContentLoaded; the page records when, ``window.splitbrainDrawnMs``), beside
the wall time: on this shared two-core machine the wall time says as much about
the neighbours as about the page.

Measured 2026-12-01 on this machine (2 cores shared with other benchmarks),
``python bench/bench_report_long.py --keep /tmp/R-long`` (the long run built
from ``splitbrain run quorum-store --variant seed --nemesis partition,kill
--time-limit 8 --nemesis-interval 1.5 --rate 300 --seed 3``: 2,009 ops,
4,030 events, tiled to 1,000,000 ops: 901,913 ok, 62,725 fail, 35,362 info,
35,368 processes, 995 fault windows over 5,173 s, 225 MB of JSONL; the
workload's checker found the read of a failed write, one anomaly):

=================================  ==================================  ==================
figure                             at commit 15d95f0, load 3.9-5.0     target (issue 15)
=================================  ==================================  ==================
``splitbrain report`` (end to end)  9.0 s CPU (17.0 s wall), 777 MiB     under 15 s
report.html                        8.71 MB (plotly.js 4.8 MB of it)
Chromium, cold                     4.23 s CPU, 3.53 s wall to load     under 5 s
Chromium, warm                     3.45 s CPU, 3.08 s wall
results.json                       0.83 MB, written in 0.033 s CPU
ops named by anomalies on the page 16 of 16
=================================  ==================================  ==================

The floor (same run, commit c4b4cf9, load 5.0): a fresh Chromium opens the
report of the long run's first 4,000 events (5.16 MB, nearly all of it
plotly.js) in 3.10 s CPU, 3.57 s wall, and this report in 3.40 s CPU, 3.59 s
wall: most of opening is parsing plotly.js, not the million operations (the
report command then: 8.0 s CPU, 13.9 s wall).

Before this change (commit cdc6404, load 2.4): the report took 12.5 s CPU and
13.6 MB, Chromium 4.8 s wall cold (996 fault rectangles on each of three charts,
35,368 process lanes, 227,000 latency points); by phase now: reading the
history ~4 s (``harness.history.read_jsonl``), rendering ~2.6 s, imports and
writing the rest. A fresh build (``python bench/bench_report_long.py``, a new
real run, seed 3 again, other timing) at load 6.2: 1,000,000 ops, 1,171 fault
windows; built in 10.7 s CPU, checked in 10.4 s CPU; report 9.1 s CPU (22.2 s
wall); Chromium 5.27 s wall cold. With 60 anomalies in results.json (the one
repeated, ``--run``: 30 shown in full, 33 plots of which 9 drawn on opening),
load 4.3: report 8.4 s CPU, 11.7 MB; Chromium 4.10 s CPU, 3.77 s wall cold.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.formats import load_history  # noqa: E402
from harness.history import NEMESIS, Op, op_to_json  # noqa: E402

SOURCE_RUN = ["quorum-store", "--variant", "seed", "--nemesis", "partition,kill", "--time-limit", "8",
              "--nemesis-interval", "1.5", "--rate", "300", "--seed", "3"]


def real_run(store: Path) -> Path:
    """A real short run of the quorum store (its folder); exit 0 or 1 both give a usable folder."""
    cmd = [sys.executable, "-m", "harness.cli", "run", *SOURCE_RUN, "--store", str(store)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"the source run failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return max((store / "quorum-store").glob("2*"))


def _shift(v: Any, by: int) -> Any:
    """A register value ``[key, v]`` with an integer ``v`` shifted by ``by`` (other values as they are)."""
    if by and isinstance(v, list) and len(v) == 2 and isinstance(v[1], int) and not isinstance(v[1], bool):
        return [v[0], v[1] + by]
    return v


def tile(events: list[Op], n_ops: int, concurrency: int) -> Iterator[Op]:
    """``events`` laid end to end until ``n_ops`` client invocations; see the module docstring.

    The shifts: time by the source's span plus 1 ms per copy; values by a power
    of ten above every value written; processes at or above ``concurrency``
    (clients that came back after an ``info``) by the number of such processes.
    """
    span = max(e.time or 0 for e in events) + 1_000_000
    values = [e.value[1] for e in events if isinstance(e.value, list) and len(e.value) == 2
              and isinstance(e.value[1], int)]
    vstride = 10 ** len(str(max(values, default=0) + 1))
    procs = [e.process for e in events if isinstance(e.process, int) and e.process >= concurrency]
    pstride = (max(procs) - concurrency + 1) if procs else 0
    final: dict[Any, Any] = {}  # key -> the value the source's last ok read of it returned
    for e in events:
        if e.type == "ok" and e.f == "read" and isinstance(e.value, list) and len(e.value) == 2:
            final[e.value[0]] = e.value[1]
    index = n = 0
    copy = 0
    while n < n_ops:
        for e in events:
            if e.process != NEMESIS and e.type == "invoke":
                if n == n_ops:
                    break
                n += 1
            value = _shift(e.value, copy * vstride)
            if (copy and e.type == "ok" and e.f == "read" and isinstance(value, list) and len(value) == 2
                    and value[1] is None and final.get(value[0]) is not None):
                value = [value[0], final[value[0]] + (copy - 1) * vstride]
            proc = e.process
            if isinstance(proc, int) and proc >= concurrency:
                proc += copy * pstride
            yield Op(index=index, time=(e.time or 0) + copy * span, process=proc, type=e.type, f=e.f,
                     value=value, node=e.node, error=e.error)
            index += 1
        copy += 1


def complete_open(events: list[Op]) -> list[Op]:
    """The tiled events, with an ``info`` for each invocation the ``n_ops`` cut left open (as a run's end does)."""
    open_: dict[Any, Op] = {}
    for e in events:
        if e.process == NEMESIS:
            continue
        if e.type == "invoke":
            open_[e.process] = e
        else:
            open_.pop(e.process, None)
    t = max(e.time or 0 for e in events)
    out = list(events)
    for inv in open_.values():
        out.append(Op(index=len(out), time=t, process=inv.process, type="info", f=inv.f, value=inv.value,
                      node=inv.node, error="the run ended before it completed"))
    return out


def build_long_run(source: Path, dest: Path, n_ops: int) -> dict[str, float]:
    """Write ``dest`` (a run folder): the tiled history and its results.json, checked by the workload's checker."""
    from harness.runner import stats_of
    from harness.store import read_results, recheck_run, write_results
    from nemesis import fault_windows

    results = read_results(source)
    src = list(load_history(source / "history.jsonl").ops)
    t0 = time.process_time()
    events = complete_open(list(tile(src, n_ops, int(results["concurrency"]))))
    dest.mkdir(parents=True)
    with (dest / "history.jsonl").open("w", encoding="utf-8") as fh:
        for e in events:
            fh.write(op_to_json(e) + "\n")
    built = time.process_time() - t0
    duration = max(e.time or 0 for e in events) / 1e9
    doc = dict(results, status="done", valid="unknown", checkers={},
               time_limit_s=round(duration, 1), run_id=dest.name,
               stats=stats_of(events, duration), faults=[w.to_json() for w in fault_windows(events)])
    write_results(dest, doc, final=True)
    del events, src
    t0 = time.process_time()
    with open(os.devnull, "w") as null:
        code = recheck_run(dest, write=True, out=null)
    checked = time.process_time() - t0
    return {"built_s": built, "check_s": checked, "check_exit": code}


def time_results_write(run: Path) -> tuple[float, float, int]:
    """CPU and wall seconds of ``harness.store.write_results`` rewriting ``run``'s results.json, and its bytes."""
    from harness.store import read_results, write_results

    doc = read_results(run)
    c0, w0 = time.process_time(), time.perf_counter()
    write_results(run, doc, final=True)
    return time.process_time() - c0, time.perf_counter() - w0, (run / "results.json").stat().st_size


def time_report_command(run: Path) -> tuple[float, float, float]:
    """Wall and CPU (user + system of the child) seconds of ``splitbrain report RUN --no-index``, and its peak
    RSS in MiB (the largest of this process's children so far: the report is the largest)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(run), "--no-index"],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"splitbrain report failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def named_ops(run: Path) -> set[int]:
    """Every event index an anomaly in results.json names."""
    doc = json.loads((run / "results.json").read_text(encoding="utf-8"))
    out: set[int] = set()
    for res in (doc.get("checkers") or {}).values():
        for a in res.get("anomalies") or ():
            out |= {i for i in a.get("ops") or () if isinstance(i, int)}
    return out


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system, with reaped children's) of process ``root`` and its descendants.

    Chromium's renderer, GPU and browser processes together: on a shared
    machine the wall time to the load event says more about the neighbours
    than about the page; this does not.
    """
    parent: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier += kids
    return sum(cpu.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def baseline_page(run: Path, tmp: Path, events: int = 4_000) -> Path:
    """The report of the long run's first ``events`` events (same results.json): the floor of opening any report."""
    from harness.report import write_report

    small = tmp / "baseline" / "quorum-store" / "small"
    small.mkdir(parents=True)
    with (run / "history.jsonl").open(encoding="utf-8") as src, \
            (small / "history.jsonl").open("w", encoding="utf-8") as dst:
        for _, line in zip(range(events), src):
            dst.write(line)
    shutil.copy(run / "results.json", small / "results.json")
    return write_report(small)


def cold_open(page: Path) -> tuple[float, float]:
    """CPU and wall seconds for a fresh headless Chromium to open ``page`` to its load event."""
    from tests.report.cdp import Browser, find_chromium

    with Browser(find_chromium() or "chromium", timeout_s=300) as browser:
        c0 = tree_cpu_s(browser.proc.pid)
        took = browser.open(page, settle_s=0.0)
        return tree_cpu_s(browser.proc.pid) - c0, took


def browser_figures(page: Path, named: set[int]) -> list[str]:
    from tests.report.cdp import Browser, find_chromium

    exe = find_chromium()
    if exe is None:
        return ["chromium not installed: browser timing skipped (apt-get install -y chromium)"]
    lines = []
    with Browser(exe, timeout_s=300) as browser:
        for attempt in ("cold", "warm"):
            c0 = tree_cpu_s(browser.proc.pid)
            took = browser.open(page, settle_s=0.0)
            cpu = tree_cpu_s(browser.proc.pid) - c0
            drawn = browser.evaluate("document.querySelectorAll('div.sb-plot.js-plotly-plot').length")
            slots = browser.evaluate("document.querySelectorAll('div.sb-plot').length")
            at = browser.evaluate("window.splitbrainDrawnMs")
            each = browser.evaluate("(window.splitbrainPlotMs || []).join(' + ')")
            lines.append(f"chromium ({attempt}): {cpu:.2f} s CPU (all its processes) to the load event, "
                         f"{took:.2f} s wall; the plots drawn on opening "
                         f"done {at / 1000 if at is not None else float('nan'):.2f} s after navigation began "
                         f"(plots {each} ms); {drawn} of {slots} plots drawn at load (the other "
                         f"{browser.evaluate('window.splitbrainLazyPlots || 0')} as they come into view), "
                         f"{len(browser.errors)} console errors"
                         + (f": {browser.errors[:3]}" if browser.errors else ""))
        shown = browser.evaluate("[].concat.apply([], Array.from(document.querySelectorAll('[data-op]'))"
                                 ".map(function (e) { return [+e.getAttribute('data-op'),"
                                 " +(e.getAttribute('data-op-end') || -1)]; })).concat([].concat.apply([],"
                                 " Array.from(document.querySelectorAll('span.op-indices'))"
                                 ".map(function (e) { return e.textContent.split(', ').map(Number); })))")
    if shown is not None:
        missing = named - set(shown)
        lines.append(f"ops named by anomalies: {len(named)}; rows on the page naming them: "
                     f"{len(named) - len(missing)}" + (f"; MISSING {sorted(missing)[:10]}" if missing else ""))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=1_000_000, help="client operations in the long run")
    ap.add_argument("--source", type=Path, default=None, help="a run folder to tile (default: a fresh real run)")
    ap.add_argument("--keep", type=Path, default=None, help="leave the long run folder here (reused if present)")
    ap.add_argument("--run", type=Path, default=None,
                    help="measure this run folder as it is (build nothing), e.g. one with many anomalies")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sb-R-report-long-"))
    try:
        run = args.run or (args.keep or tmp / "store") / "quorum-store" / f"long-{args.ops}"
        if not run.exists():
            source = args.source or real_run(tmp / "source")
            print(f"source run: {source} ({sum(1 for _ in open(source / 'history.jsonl'))} events)")
            f = build_long_run(source, run, args.ops)
            print(f"long run built in {f['built_s']:.1f} s CPU; checked by the workload's checker in "
                  f"{f['check_s']:.1f} s CPU (exit {f['check_exit']})")
        doc = json.loads((run / "results.json").read_text(encoding="utf-8"))
        st = doc["stats"]
        n_anom = sum(len(r.get("anomalies") or ()) for r in doc["checkers"].values())
        print(f"run: {run}\n  {st['ops']} ops ({st['ok']} ok, {st['fail']} fail, {st['info']} info), "
              f"{st['nemesis_events']} nemesis events, {len(doc['faults'])} fault windows, "
              f"{doc['stats']['duration_s']} s; verdict {doc['valid']}, {n_anom} anomalies; "
              f"history.jsonl {(run / 'history.jsonl').stat().st_size / 1e6:.0f} MB")
        cpu, wall, size = time_results_write(run)
        print(f"results.json: {size / 1e6:.2f} MB, write_results {cpu:.3f} s CPU ({wall:.3f} s wall)")
        wall, cpu, rss = time_report_command(run)
        page = run / "report.html"
        print(f"splitbrain report --no-index: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MiB; report.html "
              f"{page.stat().st_size / 1e6:.2f} MB")
        if not args.no_browser:
            for line in browser_figures(page, named_ops(run)):
                print(line)
            if not line.startswith("chromium not installed"):
                small = baseline_page(run, tmp)
                for what, p in (("the first 4,000 events' report", small), ("this report", page)):
                    cpu, wall = cold_open(p)
                    print(f"fresh chromium, {what} ({p.stat().st_size / 1e6:.2f} MB): {cpu:.2f} s CPU, "
                          f"{wall:.2f} s wall to the load event")
        load1, load5, _ = os.getloadavg()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        print(f"{date.today()}, commit {commit}, load average {load1:.2f} (1 min) {load5:.2f} (5 min)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
