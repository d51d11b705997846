"""``splitbrain run TARGET`` and ``splitbrain targets``.

``run`` performs one whole test: bring up the cluster on a backend, drive the
target's workload under the nemesis for ``--time-limit`` seconds, heal, wait
for recovery, do the final reads, check the history, and write the run folder
(:mod:`harness.store`) with ``history.jsonl``, ``results.json``, node logs and
``report.html``. It prints a short verdict naming the folder; a run that is
not valid ends with its seed and the exact command that replays it.

Exit codes: 0 valid, 1 anomalies found, 2 unknown, 3 usage or input error,
4 environment or harness failure, a full disk included (the message says what
to do), 128 + the signal's number when a signal stopped the run: 130 SIGINT
(Ctrl-C), 143 SIGTERM, 129 SIGHUP (the run folder keeps the history recorded
so far; ``results.json`` says ``"status": "interrupted"``, the ``"signal"``
and the ``"phase"`` it came in).

How a run ends. Every way (its end, SIGINT, SIGTERM, SIGHUP, an exception, a
full disk, a second signal while stopping) takes the same path: the cluster
unwinds (nodes stopped, faults and containers removed, node logs copied),
then ``results.json`` is written a last time (the run's real ``duration_s``,
what stopped it and when), the verdict printed, the report written. A signal
during the check leaves the verdict ``unknown`` and says the history is
complete; one during the report keeps the verdict, says the report is
missing, and exits with the signal's code. A second signal while stopping
is only noted (cleanup is never cut short) unless it comes while the report
of a stopped run is being written: that is skipped. The run's watchdog
(:mod:`harness.watchdog`) does the same cleanup if the harness itself is
SIGKILLed. Signal handling: :mod:`harness.backends._interrupts`.

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
"""EXIT_INTERRUPTED is SIGINT's code; any signal's is 128 + its number (``exit_code_for``)."""


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
    from harness.nodes import node_names as names_of, role_map
    node_names = names_of(target, nodes)  # n1..nN, or named by role (harness.nodes)
    if target.check_options is not None:  # a value the nodes would refuse is a usage error, now
        from harness.target import WorkloadContext
        target.check_options(WorkloadContext(nodes=tuple(node_names), variant=v, concurrency=concurrency,
                                              options=dict(options or {})))
    package(faults, nodes=node_names, roles=role_map(target, node_names),  # too few nodes? unknown role?
            interval_s=nemesis_interval, seed=0, target=target)
    return RunRequest(target=target, variant=v, workload_name=wl, backend=backend,
                      nodes=node_names, faults=faults,
                      time_limit_s=float(time_limit), concurrency=concurrency,
                      rate=float(rate) if rate else None, nemesis_interval_s=float(nemesis_interval),
                      store=Path(store), options=dict(options or {}))


def perform_run(req: RunRequest, *, seed: int | None = None, progress: bool | None = None,
                echo: Any = click.echo) -> RunResult:
    """One whole run (see the module docstring). Never raises for a failed run: see ``exit_code``.

    Whatever ends the run (its end, a signal, an exception, a full disk) goes
    through one shutdown path (:class:`_Run`): the cluster unwinds, then
    ``results.json`` is written a last time saying what happened, the verdict
    is printed and the report written. ``progress`` None = live display when
    stdout is a terminal.
    """
    from harness import store as st
    from harness.backends._interrupts import stop_signals

    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    target = req.target
    workload = target.workload(req.workload_name)
    try:
        run_id, run_dir = st.new_run_dir(req.store, target.name)
    except OSError as e:  # new_run_dir lets only a full disk through
        msg = _disk_full_sentence(e, req.store)
        _say(echo, msg)
        return RunResult(run_dir=Path(req.store), exit_code=EXIT_ENV,
                         results={"status": "environment-error", "valid": "unknown", "error": msg})
    info = st.RunInfo(run_id=run_id, target=target.name, variant=req.variant, backend=req.backend,
                      workload=workload.name, nodes=req.nodes, nemesis=req.faults,
                      time_limit_s=req.time_limit_s, concurrency=req.concurrency, seed=seed, rate=req.rate,
                      nemesis_interval_s=req.nemesis_interval_s, options=req.options,
                      started_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    with stop_signals() as stop:
        return _Run(req, info, run_dir, stop=stop, echo=echo, progress=progress).perform()


PHASE_CHECK, PHASE_REPORT, PHASE_START = "checking", "writing report", "starting"

HOLD_PHASE_ENV, HOLD_DIR_ENV = "SPLITBRAIN_TEST_HOLD_PHASE", "SPLITBRAIN_TEST_HOLD_DIR"
"""TEST-ONLY hooks (tests/harness/test_signals.py): never set them outside the test suite.

With ``SPLITBRAIN_TEST_HOLD_PHASE=<phase>`` (a name the run publishes as
``"phase"``: ``running``, ``healing``, ``final reads``, ``checking``,
``writing report``...) and ``SPLITBRAIN_TEST_HOLD_DIR=<dir>``, the run stops
at the start of that phase, writes ``<dir>/held`` and waits (up to 60 s) for
``<dir>/release`` or a signal, so that a test can deliver a signal in a phase
that otherwise lasts milliseconds. The run is in that phase's real state
(nodes up, faults in effect); the wait is only a pause of the main thread.
"""


def _test_hold(phase: str) -> None:
    """See :data:`HOLD_PHASE_ENV` (test-only)."""
    import os
    import time

    if os.environ.get(HOLD_PHASE_ENV) != phase or not os.environ.get(HOLD_DIR_ENV):
        return
    where = Path(os.environ[HOLD_DIR_ENV])
    (where / "held").write_text(phase, encoding="utf-8")
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and not (where / "release").exists():
        time.sleep(0.02)


def _tolerant(echo: Any) -> Any:
    """``echo`` that survives its terminal: after SIGHUP (or a reader of a pipe gone), output is lost, not fatal."""
    def say(*args: Any, **kw: Any) -> None:
        try:
            echo(*args, **kw)
        except OSError:  # EIO, EPIPE: the record on disk is what counts now
            pass
    return say


def _say(echo: Any, line: str) -> None:
    try:
        echo(f"splitbrain: {line}", err=True)
    except TypeError:  # an echo that takes no err=
        echo(f"splitbrain: {line}")


def _disk_full_sentence(e: OSError, where: Any) -> str:
    return (f"{_disk_full(e, where)}: the run was stopped and its nodes removed; free some space or pass "
            f"--store on another disk, then run again")


def _disk_full(e: OSError, where: Any) -> str:
    return f"the disk is full ({e.strerror or 'no space left'} writing {e.filename or where})"


class _Run:
    """One run's life, and its one shutdown path.

    :meth:`perform` runs the phases; whatever ends them, :meth:`_end` turns
    it into a final ``results.json`` (``status``, ``phase``, ``signal``,
    ``error``, stats with the real ``duration_s``), and :meth:`_finish`
    writes it, prints the verdict and writes the report. The first stop
    signal raises :class:`~harness.backends._interrupts.Interrupted` (the
    cluster then unwinds); from the moment the run is stopping, more signals
    are only noted. Writing ``results.json`` and printing the verdict hold
    signals back (a record half-written is worse than a second's wait);
    the report, which can take a while, may be interrupted: the verdict then
    stands, the status says ``interrupted`` and the exit code the signal.
    """

    def __init__(self, req: RunRequest, info: Any, run_dir: Path, *, stop: Any, echo: Any,
                 progress: bool | None) -> None:
        self.req, self.info, self.run_dir = req, info, run_dir
        self.stop, self.echo, self.progress = stop, _tolerant(echo), progress
        self.phase = PHASE_START
        self.recorder: Any = None

    # -- phases -----------------------------------------------------------------

    def enter(self, phase: str, *, publish: bool = True) -> None:
        """Start ``phase``: published in ``results.json`` (so a watcher, or a killed run, can tell)."""
        from harness import store as st

        self.phase = phase
        if publish:
            st.write_results(self.run_dir, st.results_document(self.info, status="running", phase=phase))
        _test_hold(phase)

    def perform(self) -> RunResult:
        from harness import store as st
        from harness.watchdog import watchdog

        outcome: Any = None
        with watchdog(run_id=self.info.run_id, run_dir=self.run_dir, backend=self.req.backend):
            try:
                st.reserve_space(self.run_dir)
                self.enter(PHASE_START)
                self.echo(f"splitbrain: {self.info.target}/{self.req.variant} on {self.req.backend}, "
                          f"{len(self.req.nodes)} nodes, nemesis {','.join(self.req.faults) or 'none'}, "
                          f"{self.req.time_limit_s:g} s, seed {self.info.seed}")
                self.echo(f"run folder: {self.run_dir}")
                outcome = self._execute()
                self.enter(PHASE_CHECK)
                check = self._check(outcome)
            except BaseException as e:  # noqa: BLE001 - every way out is turned into a final record
                if isinstance(e, GeneratorExit):
                    raise
                return self._end(e, outcome)  # SystemExit too: rich exits 1 on a closed stdout
            stats = dict(outcome.stats)
            if outcome.not_ready:
                stats["not_ready_after_heal"] = list(outcome.not_ready)
            if getattr(self, "traffic", None) is not None:
                stats["traffic"] = self.traffic  # per-link counters; a warning when cuts changed nothing
            return self._finish(st.results_document(self.info, status="done", check=check, stats=stats,
                                                    faults=self._faults(outcome.nemesis_events)),
                                check.verdict.exit_code)

    def _execute(self) -> Any:
        from harness.backends import open_cluster
        from harness.cluster import ClusterSpec
        from harness.progress import Progress
        from harness.recorder import Recorder
        from harness.runner import execute
        from harness.target import WorkloadContext
        from nemesis import package

        req, info = self.req, self.info
        workload = req.target.workload(req.workload_name)
        wctx = WorkloadContext(nodes=req.nodes, variant=req.variant, concurrency=req.concurrency,
                               options=req.options)
        spec = ClusterSpec(target=req.target, variant=req.variant, nodes=req.nodes, run_id=info.run_id,
                           run_dir=self.run_dir, options=req.options,
                           clock=any(f.split(":")[0] == "clock" for f in req.faults))  # libfaketime nodes
        from harness.nodes import role_map
        pkg = package(req.faults, nodes=req.nodes, roles=role_map(req.target, req.nodes),
                      interval_s=req.nemesis_interval_s, seed=info.seed, time_limit_s=req.time_limit_s,
                      target=req.target)
        self.recorder = recorder = Recorder(self.run_dir / "history.jsonl", hold=RECORDER_HOLD)
        with ExitStack() as stack:
            stack.enter_context(recorder)
            cluster = stack.enter_context(open_cluster(req.backend, spec))
            prog = stack.enter_context(Progress(recorder, time_limit_s=req.time_limit_s,
                                                title=f"{info.target}/{req.variant} seed {info.seed}",
                                                live=self.progress))

            def on_phase(name: str) -> None:
                prog.phase(name)
                self.enter(name)

            outcome = execute(cluster=cluster, target=req.target, workload=workload, wctx=wctx,
                              recorder=recorder, seed=info.seed, time_limit_s=req.time_limit_s,
                              rate=req.rate, nemesis=pkg, on_phase=on_phase)
            from nemesis.effect import traffic_record  # counters are read before the cluster closes

            self.traffic = traffic_record(cluster, outcome.nemesis_events)
            return outcome

    def _check(self, outcome: Any) -> Any:
        from checkers.api import CheckResult, Verdict, check_safe
        from checkers.success import RequireSuccess
        from harness.history import HistoryError
        from harness.target import WorkloadContext

        req = self.req
        workload = req.target.workload(req.workload_name)
        wctx = WorkloadContext(nodes=req.nodes, variant=req.variant, concurrency=req.concurrency,
                               options=req.options)
        try:  # the file, not memory: the check judges what is on disk (and a long run's history is large)
            history = outcome.history()
        except HistoryError as e:
            return CheckResult(checker=workload.name, verdict=Verdict.UNKNOWN,
                               error=f"the recorded history cannot be read back: {e}")
        try:
            checker = workload.checker(wctx)
        except Exception as e:  # noqa: BLE001 - the history is safe on disk; say why it is unchecked
            return CheckResult(checker=workload.name, verdict=Verdict.UNKNOWN,
                               error=f"cannot build the {workload.name!r} checker: {type(e).__name__}: {e}")
        try:
            return check_safe(RequireSuccess(checker=checker), history)  # nothing ok: unknown, not valid
        except HistoryError as e:  # the target's client recorded values its own checker cannot read
            return CheckResult(checker=workload.name, verdict=Verdict.UNKNOWN,
                               error=f"the history does not fit the {workload.name!r} checker: {e}")

    # -- the one way out ----------------------------------------------------------

    def _faults(self, events: Any) -> list[dict[str, Any]]:
        from nemesis import fault_windows

        return [w.to_json() for w in fault_windows(events)]

    def _end(self, e: BaseException, outcome: Any) -> RunResult:
        """The final record of a run that did not get to its verdict (or whose report was cut short)."""
        from harness import store as st
        from harness.backends._interrupts import Interrupted, exit_code_for, interrupt_in, signal_name
        from harness.cluster import EnvironmentError_
        from harness.runner import recorded_stats, stats_of
        import signal as _signal

        self.stop.begin_stopping()
        if outcome is not None:
            stats: Any = dict(outcome.stats)
            events: Any = outcome.nemesis_events
        elif self.recorder is not None:  # the events recorded until then are in its file
            stats = recorded_stats(self.recorder, self.recorder.now() / 1e9)
            events = self.recorder.read_nemesis()
        else:
            stats, events = stats_of([], 0.0), []
        doc = dict(status="environment-error", stats=stats, faults=self._faults(events), phase=self.phase)
        full = st.disk_full(e)
        stopped = interrupt_in(e)  # a signal, even if the unwinding it caused failed too (output gone...)
        if stopped is not None:
            signum = stopped.signum if isinstance(stopped, Interrupted) else int(_signal.SIGINT)
            name = signal_name(signum)
            state = ("the history is complete" if outcome is not None
                     else "the history holds every event recorded until then")
            doc.update(status="interrupted", signal=name,
                       error=f"interrupted ({name}) during {st.during(self.phase)}; {state}; check it with: "
                             f"splitbrain check {self.run_dir}")
            code = exit_code_for(signum)
        elif full is not None:  # no room for a report either
            doc["error"] = _disk_full_sentence(full, self.run_dir)
            _say(self.echo, doc["error"])
            return self._finish(st.results_document(self.info, **doc), EXIT_ENV, report=False)
        elif isinstance(e, EnvironmentError_):
            doc["error"], code = str(e), EXIT_ENV
        elif isinstance(e, SystemExit):  # a library gave up, e.g. rich on a stdout whose reader is gone
            doc["error"] = f"stopped: the run's output was closed (exit {e.code}); run it with its output " \
                           f"to a file or a terminal that stays open"
            code = EXIT_ENV
        elif isinstance(e, ImportError):
            doc["error"] = f"backend {self.req.backend!r} is not available: {e}; try --backend local"
            code = EXIT_ENV
        else:  # a harness bug must still leave a readable run folder
            where = self.run_dir / "harness-error.txt"
            try:
                where.write_text("".join(traceback.format_exception(e)), encoding="utf-8")
                also = f" (traceback in {where})"
            except OSError:
                where.unlink(missing_ok=True)
                also = ""
            doc.update(status="harness-error", error=f"harness failure: {type(e).__name__}: {e}{also}")
            code = EXIT_ENV
        return self._finish(st.results_document(self.info, **doc), code)

    def _finish(self, doc: dict[str, Any], code: int, *, report: bool = True) -> RunResult:
        """Write the final ``results.json``, print the verdict, write the report (unless ``report=False``)."""
        from harness import store as st
        from harness.backends._interrupts import Interrupted, deferred_interrupts

        written: Path | None = None
        try:
            with deferred_interrupts():  # a signal now is delivered after the record and the verdict
                try:
                    st.write_results(self.run_dir, doc, final=True)
                except OSError as e:
                    doc = dict(doc, status="environment-error",
                               error=f"results.json could not be written ({e.strerror}); "
                                     f"{doc.get('error') or 'the run itself ended'}")
                    code, report = EXIT_ENV, False
                    if st.discard_unstarted(self.run_dir):  # nothing recorded: no half-made folder stays
                        _say(self.echo, f"{self.run_dir} removed: not even its results.json could be written")
                        return RunResult(run_dir=self.run_dir, results=doc, exit_code=code)
                    _say(self.echo, f"{self.run_dir / 'results.json'} could not be written: {e.strerror}")
                st.release_space(self.run_dir)
                self.echo(st.verdict_text(doc, self.run_dir))
            if report:
                with self.stop.skippable():  # already stopping: another signal skips the report
                    self.enter(PHASE_REPORT, publish=False)
                    written = _write_report(self.run_dir)
        except Interrupted as e:
            if doc.get("status") != "done":  # the run was already stopped: its record stands as it is
                (self.run_dir / "report.html").unlink(missing_ok=True)
                self.echo(f"  report skipped ({e.name}); write it with: splitbrain report {self.run_dir}")
                return RunResult(run_dir=self.run_dir, results=doc, exit_code=code)
            return self._report_cut_short(doc, f"interrupted ({e.name})", e.exit_code, signal=e.name)
        except OSError as e:  # only a full disk gets out of _write_report
            why = _disk_full(e, self.run_dir)
            _say(self.echo, f"{why} while writing the report; the verdict stands; free some space, then "
                            f"write the report with: splitbrain report {self.run_dir}")
            return self._report_cut_short(doc, why, EXIT_ENV, status="environment-error")
        finally:
            self.stop.begin_stopping()
        if written is not None:
            self.echo(f"  report: {written}")
        return RunResult(run_dir=self.run_dir, results=doc, exit_code=code)

    def _report_cut_short(self, doc: dict[str, Any], why: str, code: int, *, status: str = "interrupted",
                          signal: str | None = None) -> RunResult:
        """The verdict stands; the record says the report was not written and why."""
        from harness import store as st
        from harness.backends._interrupts import deferred_interrupts

        new = dict(doc, status=status, phase=PHASE_REPORT,
                   error=f"{why} while writing the report; the verdict stands; write the report with: "
                         f"splitbrain report {self.run_dir}")
        if signal is not None:
            new["signal"] = signal
        with deferred_interrupts():
            try:
                st.write_results(self.run_dir, new, final=True)
            except OSError as e:
                _say(self.echo, f"{self.run_dir / 'results.json'} could not be updated: {e.strerror}")
            st.release_space(self.run_dir)
            (self.run_dir / "report.html").unlink(missing_ok=True)
            self.echo(f"  report not written: {new['error']}")
        return RunResult(run_dir=self.run_dir, results=new, exit_code=code)


def _write_report(run_dir: Path) -> Path | None:
    """Write the run's report.html and refresh the store's index.html.

    Raises only a full disk's ``OSError`` (and interrupts); any other failure
    is a warning, never a lost verdict.
    """
    from harness.store import disk_full

    try:
        from harness.report import write_index, write_report
    except ImportError:
        return None
    try:
        path = write_report(run_dir)
        write_index(run_dir.parent.parent)
        return path
    except Exception as e:  # noqa: BLE001 - a report failure must not lose the verdict
        if (full := disk_full(e)) is not None:
            raise full from None
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
              help="Faults: comma-separated subset of partition,kill,pause,packet,crash,clock (each may be aimed at a role, e.g. kill:coordinator; crash:ROLE:POINT arms a named crash point; clock skews node clocks with libfaketime); or none.")
@click.option("--nemesis-interval", type=float, default=3.0, show_default=True,
              help="Mean seconds of quiet, and of fault, per nemesis episode.")
@click.option("--time-limit", type=float, default=30.0, show_default=True, help="Seconds of workload.")
@click.option("--concurrency", type=int, default=10, show_default=True, help="Client workers.")
@click.option("--rate", type=float, default=100.0, show_default=True,
              help="Client ops per second in total (0 = as fast as possible).")
@click.option("--seed", type=int, default=None, help="Seed: fixes the op mix and the fault schedule, not the timing, "
                   "so a rerun may find other anomalies [default: random].")
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
    """Test TARGET under faults; write a run folder with the verdict and a report.

    \b
    Exit codes: 0 valid, 1 anomalies found, 2 unknown, 3 usage or input
    error, 4 environment or harness failure (the message says what to do),
    128 + N when signal N stopped the run (130 Ctrl-C, 143 SIGTERM).
    """
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
            if r.exit_code == EXIT_ENV or r.exit_code >= 128:
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
    for special in (*sorted(c for c in codes if c >= 128), EXIT_ENV, 1, 2):
        if special in codes:
            return special
    return 0


@click.command("targets")
def targets() -> int:
    """List targets, their variants, workloads and options (exit 0)."""
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
        if t.roles:  # nodes named by role (harness.nodes); --nemesis KIND:ROLE aims at them
            from harness.nodes import node_names
            nodes = f"nodes: {', '.join(node_names(t))} (roles {', '.join(r.name for r in t.roles)})"
        else:
            nodes = f"default nodes: {t.default_nodes}"
        click.echo(f"  workloads: {wls or 'none'}; {nodes}")
        for r in t.roles:  # what --nemesis crash:ROLE:POINT can arm
            if r.crash_points:
                click.echo(f"  crash points of {r.name}: {', '.join(r.crash_points)}")
        for k in sorted(t.options):
            click.echo(f"  --option {k}=...: {t.options[k]}")
    from harness.registry import broken_targets
    for name, why in sorted(broken_targets().items()):
        click.echo(f"not loaded: {why}")
    return 0
