"""``splitbrain suite FILE``: run a matrix of tests and fail when a verdict is not the expected one.

FILE is a suite (TOML, see :mod:`harness.suite`). Every run of its matrix is
checked first (target, variant, faults, options, as ``splitbrain run`` checks
them), so a typo stops the suite before anything starts. Then each run is a
``splitbrain run`` in a child process, up to ``--jobs`` at once where the
backend isolates runs from each other (``local``, ``netns``: own ports, own
temporary folders, own namespaces); runs on other backends go one at a time, alone. Run folders go to
the store as usual (``STORE/<target>/<run>/``); beside them the suite writes
``STORE/suites/<name>-<time>/``:

    index.html   one row per run: expected and actual verdict, ops, faults,
                 duration, links to the run's report and its log
    junit.xml    one test case per run, failing when the verdict is not the
                 expected one (harness.junit)
    logs/        each child's output
    sweep.json   for a sweep (entries with ``row``): the measured columns of each
                 row and its runs (harness.sweep_stats), also a table on index.html

A child that is interrupted (Ctrl-C, SIGTERM: the suite forwards SIGTERM to
each running child) still writes its run folder, marked interrupted.

Exit codes: 0 every run got its expected verdict; 1 some run did not; 3 the
suite file is malformed or names something unknown (``FILE:LINE: what``);
4 a run could not be performed (environment or harness failure); 130
interrupted.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import click

from harness.suite import Suite, SuiteError, SuiteRun, load_suite

__all__ = ["Outcome", "can_start", "suite"]

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_ENV, EXIT_INTERRUPTED = 0, 1, 3, 4, 130

ISOLATING_BACKENDS = frozenset({"local", "netns"})
"""Backends whose runs share nothing, so they run ``--jobs`` at once: ``local`` (own ports and
temporary folders) and ``netns`` (besides, its own user and network namespaces per run). Docker
runs share one engine and its address space: one at a time."""

_POLL_S = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one run of the suite got.

    ``verdict`` is the run's ``valid`` (``valid``/``invalid``/``unknown``), or
    ``error`` when the run could not be completed (environment or harness
    failure, interrupted, no run folder), or ``not run`` when the suite stopped
    first. ``results`` is the run's ``results.json`` (empty when none).
    """

    run: SuiteRun
    verdict: str
    run_dir: Path | None
    log: Path
    duration_s: float
    results: Mapping[str, Any]
    error: str | None = None

    @property
    def as_expected(self) -> bool:
        return self.run.expects(self.verdict)


# --- planning ---------------------------------------------------------------

def _resolve_args(run: SuiteRun, store: Path, time_limit: float | None,
                  nemesis_interval: float | None) -> dict[str, Any]:
    """``resolve()`` keyword arguments for ``run`` (unset settings keep ``splitbrain run``'s defaults)."""
    kw: dict[str, Any] = {"variant": run.variant, "workload": run.workload, "nodes": run.nodes,
                          "store": str(store), "options": dict(run.options)}
    for key, value in (("backend", run.backend), ("nemesis", run.nemesis),
                       ("time_limit", time_limit if time_limit is not None else run.time_limit),
                       ("concurrency", run.concurrency), ("rate", run.rate),
                       ("nemesis_interval", nemesis_interval if nemesis_interval is not None
                        else run.nemesis_interval)):
        if value is not None:
            kw[key] = value
    return kw


def _plan(s: Suite, store: Path, time_limit: float | None,
          nemesis_interval: float | None) -> list[tuple[SuiteRun, dict[str, Any], bool]]:
    """Check every run as ``splitbrain run`` would; (run, resolve args, isolated?) or SuiteError."""
    from harness.commands.run import resolve

    planned = []
    for r in s.runs:
        kw = _resolve_args(r, store, time_limit, nemesis_interval)
        try:
            req = resolve(r.target, **kw)
        except ValueError as e:
            raise SuiteError(s.path, r.line, f"{r.id}: {e}") from None
        planned.append((r, kw, req.backend in ISOLATING_BACKENDS))
    return planned


# --- running ----------------------------------------------------------------

@dataclass(slots=True, kw_only=True)
class _Child:
    run: SuiteRun
    proc: subprocess.Popen[bytes]
    log: Path
    result: Path
    started: float
    isolated: bool


def _slug(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in run_id)


def _start(run: SuiteRun, kw: Mapping[str, Any], isolated: bool, out: Path) -> _Child:
    slug = _slug(run.id)
    spec = out / "logs" / f"{slug}.spec.json"
    result = out / "logs" / f"{slug}.result.json"
    log = out / "logs" / f"{slug}.log"
    spec.write_text(json.dumps({"target": run.target, "resolve": dict(kw), "seed": run.seed}), encoding="utf-8")
    with open(log, "wb") as f:
        # its own session: a Ctrl-C at the terminal reaches the suite only, which forwards one SIGTERM
        proc = subprocess.Popen([sys.executable, "-m", "harness.commands.suite", str(spec), str(result)],
                                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return _Child(run=run, proc=proc, log=log, result=result, started=time.monotonic(), isolated=isolated)


def _outcome(c: _Child) -> Outcome:
    duration = time.monotonic() - c.started
    try:
        got = json.loads(c.result.read_text(encoding="utf-8"))
        run_dir = Path(got["run_dir"])
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        return Outcome(run=c.run, verdict="error", run_dir=None, log=c.log, duration_s=duration, results={},
                       error=f"the run ended (exit {c.proc.returncode}) without a run folder ({e}); see {c.log}")
    valid, status = results.get("valid"), results.get("status")
    if status not in (None, "done"):
        verdict = "error"
        error = str(results.get("error") or f"the run ended with status {status!r}")
    else:
        verdict = "valid" if valid is True else "invalid" if valid is False else "unknown"
        error = results.get("error")
    return Outcome(run=c.run, verdict=verdict, run_dir=run_dir, log=c.log, duration_s=duration,
                   results=results, error=error)


def can_start(isolated: bool, running: Sequence[bool], jobs: int) -> bool:
    """Whether the next run may start beside ``running`` (each: is that run's backend isolating?).

    Isolated runs share the ``jobs`` slots; a run on a backend that does not
    isolate runs waits until nothing runs, and then runs alone.
    """
    if not running:
        return True
    return len(running) < jobs and isolated and all(running)


def _execute(planned: Sequence[tuple[SuiteRun, dict[str, Any], bool]], out: Path, jobs: int,
             echo: Any) -> tuple[list[Outcome], bool]:
    """Run the plan; returns outcomes (in plan order) and whether it was interrupted."""
    waiting = list(planned)
    running: list[_Child] = []
    done: dict[str, Outcome] = {}
    total = len(planned)
    interrupted = False
    try:
        while waiting or running:
            while waiting and can_start(waiting[0][2], [c.isolated for c in running], jobs):
                run, kw, isolated = waiting.pop(0)
                running.append(_start(run, kw, isolated, out))
                echo(f"started {run.id} ({len(done) + len(running)} of {total})")
            time.sleep(_POLL_S)
            for c in [c for c in running if c.proc.poll() is not None]:
                running.remove(c)
                o = _outcome(c)
                done[c.run.id] = o
                mark = "as expected" if o.as_expected else f"EXPECTED {' or '.join(c.run.expect)}"
                echo(f"done {len(done)}/{total}: {c.run.id}: {o.verdict} ({mark}), {o.duration_s:.1f} s"
                     + (f"  {o.run_dir}" if o.run_dir else "") + (f"\n    {o.error}" if o.error and
                                                                  o.verdict == "error" else ""))
    except KeyboardInterrupt:
        interrupted = True
        echo("interrupted: stopping the running runs (each keeps its run folder)")
        for c in running:
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
        for c in running:
            try:
                c.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
            done[c.run.id] = _outcome(c)
    outcomes = []
    for run, _, _ in planned:
        outcomes.append(done.get(run.id) or Outcome(run=run, verdict="not run", run_dir=None,
                                                    log=out / "logs" / f"{_slug(run.id)}.log",
                                                    duration_s=0.0, results={}, error="the suite stopped first"))
    return outcomes, interrupted


# --- what it writes ----------------------------------------------------------

def _junit_doc(o: Outcome) -> dict[str, Any]:
    """A results.json-shaped document whose one checker passes iff the verdict was the expected one."""
    base = dict(o.results) if o.results else {"target": o.run.target, "variant": o.run.variant,
                                              "seed": o.run.seed}
    expected = " or ".join(o.run.expect)
    summaries = [f"{a.get('kind')}: {a.get('summary')}" for r in (o.results.get("checkers") or {}).values()
                 if isinstance(r, Mapping) for a in (r.get("anomalies") or []) if isinstance(a, Mapping)]
    if o.as_expected:
        case: dict[str, Any] = {"valid": True}
    elif o.verdict in ("error", "not run"):
        case = {"valid": "unknown", "error": f"expected {expected}, but the run did not complete: {o.error}"}
    else:
        first = f"expected {expected}, got {o.verdict}" + (f": {summaries[0]}" if summaries else "")
        case = {"valid": False, "anomalies": [{"kind": "unexpected-verdict", "summary": first}]
                + [{"kind": "anomaly", "summary": s} for s in summaries[1:]]}
    case["stats"] = {"elapsed_s": round(o.duration_s, 3)}
    base["checkers"] = {f"{o.run.id} (expected {expected})": case}
    return base


def _rows(outcomes: Sequence[Outcome], out: Path) -> list[dict[str, Any]]:
    rows = []
    for o in outcomes:
        stats = o.results.get("stats") or {}
        report = o.run_dir / "report.html" if o.run_dir and (o.run_dir / "report.html").exists() else None
        rel = lambda p: os.path.relpath(p, out) if p is not None else None  # noqa: E731
        checkers = [r for r in (o.results.get("checkers") or {}).values() if isinstance(r, Mapping)]
        anomalies = [a.get("summary") for r in checkers for a in (r.get("anomalies") or []) if isinstance(a, Mapping)]
        why_unknown = "; ".join(f"{r.get('error')}" for r in checkers if r.get("error")) or None
        rows.append({"id": o.run.id, "expect": " or ".join(o.run.expect), "verdict": o.verdict,
                     "ok": o.as_expected, "seed": o.results.get("seed", o.run.seed),
                     "ops": stats.get("ops"), "faults": len(o.results.get("faults") or []),
                     "duration": f"{o.duration_s:.1f}", "report": rel(report),
                     "run_dir": rel(o.run_dir), "log": rel(o.log) if o.log.exists() else None,
                     "anomaly": anomalies[0] if anomalies else None, "anomalies": len(anomalies),
                     "error": o.error if o.verdict in ("error", "not run")
                     else why_unknown if o.verdict == "unknown" else None,
                     "command": o.results.get("command")})
    return rows


def _sweep(s: Suite, outcomes: Sequence[Outcome], out: Path, started: str) -> dict[str, Any] | None:
    """The sweep table of a suite whose entries have rows, written to ``out/sweep.json``; else ``None``.

    Each run's figures come from its ``history.jsonl`` and ``results.json``; a run
    without a readable history counts with its verdict and no operations.
    """
    if not any(o.run.row is not None for o in outcomes):
        return None
    from harness.history import HistoryError, read_jsonl
    from harness.sweep_stats import run_figures, sweep_rows

    labelled, runs = [], []
    for o in outcomes:
        if o.run.row is None:
            continue
        operations: Sequence[Any] = ()
        history = o.run_dir / "history.jsonl" if o.run_dir else None
        if history is not None and history.exists():
            try:
                operations = read_jsonl(history, tolerate_torn_tail=True).operations
            except (HistoryError, OSError):
                operations = ()
        verdict = o.verdict if o.verdict in ("error", "not run") else None
        fig = run_figures(operations, o.results, verdict=verdict)
        labelled.append((o.run.row, o.run.claim or "", fig))
        runs.append({"row": o.run.row, "id": o.run.id, "seed": o.results.get("seed", o.run.seed),
                     "verdict": fig.verdict, "ops": fig.ops, "anomalies": fig.anomalies,
                     "anomaly_kinds": dict(fig.anomaly_kinds), "not_ok_in_fault": fig.not_ok_in_fault.value,
                     "run_dir": str(o.run_dir) if o.run_dir else None, "error": o.error})
    doc = {"suite": s.name, "source": str(s.path), "started": started,
           "rows": [r.to_json() for r in sweep_rows(labelled)], "runs": runs}
    path = out / "sweep.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return doc


def _write_summary(s: Suite, outcomes: Sequence[Outcome], out: Path, started: str, duration_s: float,
                   interrupted: bool, sweep: Mapping[str, Any] | None = None) -> Path:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent),
                             autoescape=True, keep_trailing_newline=True)
    rows = _rows(outcomes, out)
    page = env.get_template("suite.html.j2").render(
        suite=s, rows=rows, started=started, duration=f"{duration_s:.0f}", interrupted=interrupted,
        failed=sum(1 for r in rows if not r["ok"]), source=str(s.path), sweep=sweep)
    path = out / "index.html"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _exit_code(outcomes: Sequence[Outcome], interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    if any(o.verdict == "error" for o in outcomes):
        return EXIT_ENV
    return EXIT_OK if all(o.as_expected for o in outcomes) else EXIT_MISMATCH


# --- the command -------------------------------------------------------------

@click.command("suite")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=2, show_default=True,
              help="Runs at once (only on backends that isolate runs: local, netns).")
@click.option("--store", default="histories", show_default=True, type=click.Path(file_okay=False),
              help="Folder holding run folders; the summary goes to STORE/suites/.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for index.html, junit.xml and logs/ [default: STORE/suites/NAME-TIME].")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JUnit file here (it is always in the summary folder).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Override every run's time limit (a quick pass over the matrix).")
@click.option("--nemesis-interval", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Override every run's nemesis interval.")
@click.option("--list", "list_only", is_flag=True, help="Print the expanded matrix and exit.")
def suite(file: Path, jobs: int, store: str, out: Path | None, junit: Path | None, time_limit: float | None,
          nemesis_interval: float | None, list_only: bool) -> int:
    """Run the matrix of suite FILE (TOML) and compare each verdict with the expected one.

    \b
    Exit codes: 0 every run got its expected verdict, 1 some run did not,
    3 malformed suite file (FILE:LINE: what is wrong), 4 a run could not be
    performed (environment or harness failure), 130 interrupted.
    """
    try:
        s = load_suite(file)
        planned = _plan(s, Path(store), time_limit, nemesis_interval)
    except SuiteError as e:
        click.echo(f"error: {e}", err=True)
        return EXIT_USAGE
    if list_only:
        for r, _, iso in planned:
            click.echo(f"{r.id}  expect {' or '.join(r.expect)}" + ("" if iso else "  (runs alone)"))
        click.echo(f"{len(planned)} run(s)")
        return EXIT_OK
    now = _dt.datetime.now()
    out = out or Path(store) / "suites" / f"{s.name}-{now:%Y%m%dT%H%M%S}"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    click.echo(f"suite {s.name}: {len(planned)} run(s), up to {jobs} at once; summary in {out}")
    t0 = time.monotonic()
    outcomes, interrupted = _execute(planned, out, jobs, click.echo)
    from harness.junit import write_junit

    docs = [_junit_doc(o) for o in outcomes]
    reports = [o.run_dir / "report.html" if o.run_dir and (o.run_dir / "report.html").exists() else None
               for o in outcomes]
    write_junit(docs, out / "junit.xml", reports=reports)
    if junit is not None:
        write_junit(docs, junit, reports=reports)
    sweep = _sweep(s, outcomes, out, now.isoformat(timespec="seconds"))
    summary = _write_summary(s, outcomes, out, now.isoformat(timespec="seconds"),
                             time.monotonic() - t0, interrupted, sweep)
    bad = [o for o in outcomes if not o.as_expected]
    click.echo(f"{len(outcomes) - len(bad)} of {len(outcomes)} run(s) got the expected verdict"
               + "".join(f"\n  {o.run.id}: {o.verdict}, expected {' or '.join(o.run.expect)}" for o in bad))
    click.echo(f"summary: {summary}\njunit:   {out / 'junit.xml'}" + (f" and {junit}" if junit else "")
               + (f"\nsweep:   {out / 'sweep.json'}" if sweep is not None else ""))
    return _exit_code(outcomes, interrupted)


# --- the child: one run, in its own process ----------------------------------

def _child(spec_path: str, result_path: str) -> int:
    """Perform the run described in ``spec_path``; write ``{"run_dir", "exit_code"}`` to ``result_path``."""
    from harness.cli import _sigterm_as_interrupt
    from harness.commands.run import perform_run, resolve

    _sigterm_as_interrupt()
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    req = resolve(spec["target"], **spec["resolve"])
    res = perform_run(req, seed=spec["seed"], progress=False)
    tmp = Path(result_path).with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_dir": str(res.run_dir), "exit_code": res.exit_code}), encoding="utf-8")
    os.replace(tmp, result_path)
    return res.exit_code


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:3]))
