"""``splitbrain run TARGET`` and ``splitbrain targets``.

``run`` performs one whole test: bring up the cluster on a backend, drive the
target's workload under the nemesis for ``--time-limit`` seconds, heal, wait
for recovery, do the final reads, check the history, and write the run folder
(:mod:`harness.store`) with ``history.jsonl``, ``results.json``, node logs and
``report.html``. It prints a short verdict naming the folder; a run that is
not valid ends with its seed and the exact command that replays it.

Exit codes: 0 valid, 1 anomalies found, 2 unknown, 3 usage or input error,
4 environment or harness failure (the message says what to do), 130 Ctrl-C
(the run folder keeps the history recorded so far).

``--repeat K`` performs K runs with seeds ``seed, seed+1, ...`` and says how
many found anomalies; ``--junit FILE`` writes one JUnit suite per run.

:func:`perform_run` is the same as a Python call (used by ``run`` and by tests).
"""

from __future__ import annotations

import datetime as _dt
import logging
import random
import sys
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import click

__all__ = ["RunResult", "perform_run", "run", "targets"]

log = logging.getLogger(__name__)

EXIT_USAGE, EXIT_ENV, EXIT_INTERRUPTED = 3, 4, 130


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """One run's folder, ``results.json`` content and exit code."""

    run_dir: Path
    results: Mapping[str, Any]
    exit_code: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """A validated ``splitbrain run`` request (see :func:`resolve`)."""

    target: Any
    variant: str
    workload_name: str
    backend: str
    nodes: tuple[str, ...]
    faults: tuple[str, ...]
    time_limit_s: float
    concurrency: int
    rate: float | None
    nemesis_interval_s: float
    store: Path
    options: Mapping[str, str] = field(default_factory=dict)


def parse_options(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k.strip():
            raise ValueError(f"--option {p!r}: expected KEY=VALUE, e.g. --option keys=5")
        out[k.strip()] = v.strip()
    return out


def resolve(target_name: str, *, variant: str | None = None, backend: str = "netns", nodes: int | None = None,
            workload: str | None = None, nemesis: str = "partition,kill", time_limit: float = 30.0,
            concurrency: int = 10, rate: float | None = 100.0, nemesis_interval: float = 3.0,
            store: str | Path = "histories", options: Mapping[str, str] | None = None) -> RunRequest:
    """Check every setting before anything starts; ``ValueError`` says which is wrong and how."""
    from harness.backends import BACKENDS
    from harness.registry import get_target
    from nemesis import package, parse_faults

    target = get_target(target_name)
    v = target.check_variant(variant)
    wl = target.workload(workload).name
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {sorted(BACKENDS)}")
    n = target.default_nodes if nodes is None else nodes
    if n < 1:
        raise ValueError(f"--nodes must be at least 1 (not {n})")
    if concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1 (not {concurrency})")
    if time_limit <= 0:
        raise ValueError(f"--time-limit must be > 0 seconds (not {time_limit:g})")
    if rate is not None and rate < 0:
        raise ValueError(f"--rate must be >= 0 ops/s (0 = as fast as possible; not {rate:g})")
    if nemesis_interval <= 0:
        raise ValueError(f"--nemesis-interval must be > 0 seconds (not {nemesis_interval:g})")
    unknown = sorted(set(options or {}) - set(target.options))
    if unknown:
        known = ", ".join(sorted(target.options)) or "none"
        raise ValueError(f"unknown --option {', '.join(unknown)} for {target.name}; it knows: {known} "
                         f"(see `splitbrain targets`)")
    faults = parse_faults(nemesis)
    node_names = tuple(f"n{i}" for i in range(1, n + 1))
    package(faults, nodes=node_names, interval_s=nemesis_interval, seed=0)  # too few nodes for a fault?
    return RunRequest(target=target, variant=v, workload_name=wl, backend=backend,
                      nodes=node_names, faults=faults,
                      time_limit_s=float(time_limit), concurrency=concurrency,
                      rate=float(rate) if rate else None, nemesis_interval_s=float(nemesis_interval),
                      store=Path(store), options=dict(options or {}))


def perform_run(req: RunRequest, *, seed: int | None = None, progress: bool | None = None,
                echo: Any = click.echo) -> RunResult:
    """One whole run (see the module docstring). Never raises for a failed run: see ``exit_code``.

    ``KeyboardInterrupt`` is turned into exit code 130 after the run folder is
    written; ``progress`` None = live display when stdout is a terminal.
    """
    from checkers.api import CheckResult, Verdict, check_safe
    from harness import store as st
    from harness.backends import open_cluster
    from harness.cluster import ClusterSpec, EnvironmentError_
    from harness.history import History
    from harness.progress import Progress
    from harness.recorder import Recorder
    from harness.runner import execute, stats_of
    from harness.target import WorkloadContext
    from nemesis import fault_windows, package

    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    target = req.target
    workload = target.workload(req.workload_name)
    run_id, run_dir = st.new_run_dir(req.store, target.name)
    info = st.RunInfo(run_id=run_id, target=target.name, variant=req.variant, backend=req.backend,
                      workload=workload.name, nodes=req.nodes, nemesis=req.faults,
                      time_limit_s=req.time_limit_s, concurrency=req.concurrency, seed=seed, rate=req.rate,
                      nemesis_interval_s=req.nemesis_interval_s, options=req.options,
                      started_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    st.write_results(run_dir, st.results_document(info, status="running"))
    echo(f"splitbrain: {target.name}/{req.variant} on {req.backend}, {len(req.nodes)} nodes, "
         f"nemesis {','.join(req.faults) or 'none'}, {req.time_limit_s:g} s, seed {seed}")
    echo(f"run folder: {run_dir}")
    wctx = WorkloadContext(nodes=req.nodes, variant=req.variant, concurrency=req.concurrency,
                           options=req.options)
    spec = ClusterSpec(target=target, variant=req.variant, nodes=req.nodes, run_id=run_id,
                       run_dir=run_dir, options=req.options)
    pkg = package(req.faults, nodes=req.nodes, interval_s=req.nemesis_interval_s, seed=seed,
                  time_limit_s=req.time_limit_s)

    def finish(status: str, code: int, *, check: CheckResult | None = None, stats: Any = None,
               faults: Any = None, error: str | None = None) -> RunResult:
        doc = st.results_document(info, status=status, check=check, stats=stats, faults=faults, error=error)
        st.write_results(run_dir, doc)
        report = _write_report(run_dir)
        echo(st.verdict_text(doc, run_dir))
        if report is not None:
            echo(f"  report: {report}")
        return RunResult(run_dir=run_dir, results=doc, exit_code=code)

    recorder = Recorder(run_dir / "history.jsonl", hold=RECORDER_HOLD)
    try:
        with ExitStack() as stack:
            stack.enter_context(recorder)
            cluster = stack.enter_context(open_cluster(req.backend, spec))
            prog = stack.enter_context(Progress(recorder, time_limit_s=req.time_limit_s,
                                                title=f"{target.name}/{req.variant} seed {seed}",
                                                live=progress))
            outcome = execute(cluster=cluster, target=target, workload=workload, wctx=wctx, recorder=recorder,
                              seed=seed, time_limit_s=req.time_limit_s, rate=req.rate, nemesis=pkg,
                              on_phase=prog.phase)
            from nemesis.effect import traffic_record  # counters are read before the cluster closes

            traffic = traffic_record(cluster, outcome.events)
    except KeyboardInterrupt:
        events = list(recorder.events)
        res = finish("interrupted", EXIT_INTERRUPTED, stats=stats_of(events, 0.0),
                     faults=[w.to_json() for w in fault_windows(events)],
                     error="interrupted (Ctrl-C); the history holds every event recorded until then; "
                           f"check it with: splitbrain check {run_dir}")
        return res
    except EnvironmentError_ as e:
        return finish("environment-error", EXIT_ENV, error=str(e))
    except ImportError as e:
        return finish("environment-error", EXIT_ENV,
                      error=f"backend {req.backend!r} is not available: {e}; try --backend local")
    except Exception as e:  # noqa: BLE001 - a harness bug must still leave a readable run folder
        (run_dir / "harness-error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        return finish("harness-error", EXIT_ENV,
                      error=f"harness failure: {type(e).__name__}: {e} (traceback in "
                            f"{run_dir / 'harness-error.txt'})")
    history = History.of(outcome.events, source=run_dir / "history.jsonl")
    try:
        checker = workload.checker(wctx)
    except Exception as e:  # noqa: BLE001 - the history is safe on disk; say why it is unchecked
        check = CheckResult(checker=workload.name, verdict=Verdict.UNKNOWN,
                            error=f"cannot build the {workload.name!r} checker: {type(e).__name__}: {e}")
    else:
        check = check_safe(checker, history)
    stats = dict(outcome.stats)
    if outcome.not_ready:
        stats["not_ready_after_heal"] = list(outcome.not_ready)
    if traffic is not None:
        stats["traffic"] = traffic  # per-link counters; a warning when cuts changed nothing
    return finish("done", check.verdict.exit_code, check=check, stats=stats,
                  faults=[w.to_json() for w in fault_windows(outcome.events)])


def _write_report(run_dir: Path) -> Path | None:
    """Write the run's report.html and refresh the store's index.html; never raises."""
    try:
        from harness.report import write_index, write_report
    except ImportError:
        return None
    try:
        path = write_report(run_dir)
        write_index(run_dir.parent.parent)
        return path
    except Exception as e:  # noqa: BLE001 - a report failure must not lose the verdict
        log.warning("could not write %s/report.html: %s: %s", run_dir, type(e).__name__, e)
        click.echo(f"warning: report not written: {type(e).__name__}: {e}", err=True)
        return None


RECORDER_HOLD = 64
"""Events the recorder may hold while the runner is saturated (see ``Recorder``)."""


from harness.backends import BACKENDS  # noqa: E402 - light (names only), for --backend's help

@click.command("run")
@click.argument("target_name", metavar="TARGET")
@click.option("--variant", default=None, help="Target variant (see `splitbrain targets`).")
@click.option("--backend", default="netns", show_default=True,
              help="Where the nodes run: " + ", ".join(sorted(BACKENDS)) + ".")
@click.option("--nodes", type=int, default=None, help="Number of nodes [default: the target's].")
@click.option("--workload", default=None, help="Workload name [default: the target's].")
@click.option("--nemesis", "nemesis_", default="partition,kill", show_default=True,
              help="Faults: comma-separated subset of partition,kill,pause; or none.")
@click.option("--nemesis-interval", type=float, default=3.0, show_default=True,
              help="Mean seconds of quiet, and of fault, per nemesis episode.")
@click.option("--time-limit", type=float, default=30.0, show_default=True, help="Seconds of workload.")
@click.option("--concurrency", type=int, default=10, show_default=True, help="Client workers.")
@click.option("--rate", type=float, default=100.0, show_default=True,
              help="Client ops per second in total (0 = as fast as possible).")
@click.option("--seed", type=int, default=None, help="Seed for the op and fault schedule [default: random].")
@click.option("--store", default="histories", show_default=True, type=click.Path(file_okay=False),
              help="Folder holding run folders.")
@click.option("--option", "option_pairs", multiple=True, metavar="K=V",
              help="Target/workload option, repeatable (e.g. --option keys=5).")
@click.option("--repeat", type=int, default=1, show_default=True,
              help="Run K times with seeds seed, seed+1, ...; report how many found anomalies.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None,
              help="Write a JUnit XML file (one test case per checker per run).")
def run(target_name: str, variant: str | None, backend: str, nodes: int | None, workload: str | None,
        nemesis_: str, nemesis_interval: float, time_limit: float, concurrency: int, rate: float,
        seed: int | None, store: str, option_pairs: tuple[str, ...], repeat: int, junit: str | None) -> int:
    """Test TARGET under faults; write a run folder; exit 0 valid, 1 anomalies, 2 unknown."""
    try:
        req = resolve(target_name, variant=variant, backend=backend, nodes=nodes, workload=workload,
                      nemesis=nemesis_, time_limit=time_limit, concurrency=concurrency, rate=rate,
                      nemesis_interval=nemesis_interval, store=store, options=parse_options(option_pairs))
        if repeat < 1:
            raise ValueError(f"--repeat must be at least 1 (not {repeat})")
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    from harness.store import RunStoreError

    first = random.SystemRandom().randrange(2**31) if seed is None else seed
    results: list[RunResult] = []
    try:
        for i in range(repeat):
            if repeat > 1:
                click.echo(f"--- run {i + 1} of {repeat} ---")
            r = perform_run(req, seed=first + i)
            results.append(r)
            if r.exit_code in (EXIT_ENV, EXIT_INTERRUPTED):
                break
    except RunStoreError as e:
        raise click.ClickException(str(e)) from None
    if junit:
        from harness.junit import write_junit

        reports = [r.run_dir / "report.html" if (r.run_dir / "report.html").exists() else None for r in results]
        click.echo(f"junit: {write_junit([dict(r.results) for r in results], junit, reports=reports)}")
    codes = [r.exit_code for r in results]
    if repeat > 1:
        bad = sum(1 for c in codes if c == 1)
        click.echo(f"{bad} of {len(results)} run(s) found anomalies; "
                   f"{sum(1 for c in codes if c == 2)} unknown")
    for special in (EXIT_INTERRUPTED, EXIT_ENV, 1, 2):
        if special in codes:
            return special
    return 0


@click.command("targets")
def targets() -> int:
    """List targets, their variants and workloads."""
    from harness.registry import all_targets

    found = all_targets()
    if not found:
        click.echo("no targets found")
        return 0
    for name in sorted(found):
        t = found[name]
        click.echo(f"{name}: {t.description}")
        for v in sorted(t.variants):
            mark = " (default)" if v == t.default_variant else ""
            click.echo(f"  --variant {v}{mark}: {t.variants[v]}")
        wls = ", ".join(f"{w}{' (default)' if w == t.default_workload else ''}" for w in sorted(t.workloads))
        click.echo(f"  workloads: {wls or 'none'}; default nodes: {t.default_nodes}")
        for k in sorted(t.options):
            click.echo(f"  --option {k}=...: {t.options[k]}")
    return 0
