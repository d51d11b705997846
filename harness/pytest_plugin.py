"""pytest plugin (entry point ``pytest11``): the ``splitbrain`` fixture.

A user's suite can gate on consistency like any other test::

    def test_store(splitbrain):
        assert splitbrain.run("quorum-store", variant="abd", nemesis="partition",
                              time_limit=20).valid

``splitbrain.run`` performs one whole run (start the cluster, drive the
workload under the nemesis, check, write the run folder and its
``report.html``) and returns a :class:`RunOutcome`. When the assertion fails,
pytest prints the outcome's repr, which names the verdict, the seed and the
report's path, and the test's report gets a "splitbrain" section with the
anomaly summaries, the report path and the command that reproduces the run.

Runs are stored under ``--splitbrain-store DIR`` (default: ``histories/`` in
pytest's rootdir). How a run is performed is the ``splitbrain_runner`` fixture
(a :data:`Runner`: ``RunSpec -> run folder``; by default the ``run``
command's in-process :func:`~harness.commands.run.perform_run`); a suite may override it, as
pytest fixtures go, e.g. to run on another backend.

Pytest imports this module in every session of every user who installed
splitbrain, so importing it must stay cheap and free of side effects: the
harness is imported only inside :meth:`Splitbrain.run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest

__all__ = ["RunOutcome", "RunSpec", "Runner", "Splitbrain", "SplitbrainError", "default_runner"]


class SplitbrainError(RuntimeError):
    """The run could not be performed or produced no run folder (not a verdict)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """What ``splitbrain.run`` was asked to do.

    ``settings`` are further ``splitbrain run`` settings by their Python names
    (``backend``, ``nodes``, ``workload``, ``concurrency``, ``rate``,
    ``nemesis_interval``); ``options`` the target's ``--option K=V`` pairs.
    """

    target: str
    store: Path
    variant: str | None = None
    nemesis: str | None = None
    time_limit: float | None = None
    seed: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)


Runner = Callable[[RunSpec], Path]
"""Performs one run and returns its run folder (holding ``results.json``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """One run's outcome. ``bool(outcome)`` is ``outcome.valid``.

    ``verdict``  ``"valid"``, ``"invalid"`` or ``"unknown"`` (``valid`` is only
                 true for ``"valid"``: an undecided check does not pass a gate).
    ``report``   path of ``report.html`` (``None`` if it could not be written).
    """

    valid: bool
    verdict: str
    run_dir: Path
    report: Path | None
    seed: int | None
    results: Mapping[str, Any] = field(repr=False)

    def __bool__(self) -> bool:
        return self.valid

    def __repr__(self) -> str:
        # pytest shows this in "where False = <...>.valid"; keep the path in its first 240 chars
        return f"<splitbrain {self.verdict.upper()} seed={self.seed} report={self.report or self.run_dir}>"

    @property
    def anomalies(self) -> list[str]:
        """``"checker: kind: summary"`` for every anomaly found."""
        out = []
        for name, res in (self.results.get("checkers") or {}).items():
            for a in (res.get("anomalies") or ()) if isinstance(res, Mapping) else ():
                if isinstance(a, Mapping):
                    out.append(f"{name}: {a.get('kind')}: {a.get('summary')}")
        return out

    def explain(self) -> str:
        """Several lines for people: verdict, anomalies, report, how to reproduce."""
        lines = [f"splitbrain: {self.results.get('target')} {self.results.get('variant') or ''} "
                 f"seed={self.seed}: {self.verdict.upper()}"]
        lines += [f"  {s}" for s in self.anomalies[:20]]
        if len(self.anomalies) > 20:
            lines.append(f"  ... and {len(self.anomalies) - 20} more")
        lines.append(f"report:    {self.report or '(not written)'}")
        if self.results.get("command"):
            lines.append(f"reproduce: {self.results['command']}")
        return "\n".join(lines)


SETTINGS = ("backend", "nodes", "workload", "concurrency", "rate", "nemesis_interval")


def default_runner(spec: RunSpec) -> Path:
    """Run in-process through the ``run`` command's Python API (:func:`perform_run`).

    Exit codes 0-2 are verdicts; a bad setting or target raises
    :class:`SplitbrainError` saying which, as does an environment or harness
    failure (naming the run folder and its error).
    """
    from harness.commands.run import perform_run, resolve

    kw: dict[str, Any] = {k: v for k, v in spec.settings.items()}
    if spec.variant is not None:
        kw["variant"] = spec.variant
    if spec.nemesis is not None:
        kw["nemesis"] = spec.nemesis
    if spec.time_limit is not None:
        kw["time_limit"] = spec.time_limit
    try:
        req = resolve(spec.target, store=spec.store, options=dict(spec.options), **kw)
    except (ValueError, KeyError, LookupError) as e:
        raise SplitbrainError(f"splitbrain.run({spec.target!r}, ...): {e}") from None
    result = perform_run(req, seed=spec.seed, progress=False)
    if result.exit_code >= 128:  # Ctrl-C (or SIGTERM) stopped the run, cleanly: stop the session too
        raise KeyboardInterrupt(result.results.get("error") or "interrupted")
    if result.exit_code not in (0, 1, 2):
        raise SplitbrainError(f"run of {spec.target!r} failed with exit code {result.exit_code}: "
                              f"{result.results.get('error') or 'see ' + str(result.run_dir)}")
    return result.run_dir


class Splitbrain:
    """The ``splitbrain`` fixture's value: ``run(...)`` and the outcomes so far."""

    def __init__(self, *, runner: Runner, store: Path):
        self._runner = runner
        self.store = store
        self.outcomes: list[RunOutcome] = []

    def __repr__(self) -> str:
        return f"<splitbrain fixture, store {self.store}, {len(self.outcomes)} run(s)>"

    def run(self, target: str, *, variant: str | None = None, nemesis: str | None = None,
            time_limit: float | None = None, seed: int | None = None,
            options: Mapping[str, Any] | None = None, **settings: Any) -> RunOutcome:
        """One whole run of ``target``, checked and reported.

        ``settings``: ``backend``, ``nodes``, ``workload``, ``concurrency``,
        ``rate``, ``nemesis_interval`` (as ``splitbrain run``'s flags);
        ``options``: the target's ``--option K=V`` pairs as a dict.
        """
        from harness.report import RunDirError, write_report
        from harness.report.render import REPORT, verdict_name
        from harness.report.rundata import load_results

        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise TypeError(f"splitbrain.run() got unknown setting(s) {unknown}; expected some of "
                            f"{list(SETTINGS)}, or options={{...}} for the target's --option K=V")
        spec = RunSpec(target=target, store=self.store, variant=variant, nemesis=nemesis,
                       time_limit=time_limit, seed=seed, settings=settings,
                       options={k: str(v) for k, v in (options or {}).items()})
        run_dir = Path(self._runner(spec))
        try:
            results = load_results(run_dir)
        except RunDirError as e:
            raise SplitbrainError(str(e)) from None
        report: Path | None = run_dir / REPORT
        if not report.exists():  # type: ignore[union-attr]
            try:
                report = write_report(run_dir)
            except RunDirError:
                report = None
        verdict = verdict_name(results.get("valid"))
        s = results.get("seed")
        outcome = RunOutcome(valid=verdict == "valid", verdict=verdict, run_dir=run_dir, report=report,
                             seed=s if isinstance(s, int) else seed, results=results)
        self.outcomes.append(outcome)
        return outcome


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("splitbrain").addoption(
        "--splitbrain-store", default=None, metavar="DIR",
        help="where the splitbrain fixture stores runs (default: histories/ in the rootdir)")


@pytest.fixture
def splitbrain_runner() -> Runner:
    """How ``splitbrain.run`` performs a run; override to change it."""
    return default_runner


@pytest.fixture
def splitbrain(request: pytest.FixtureRequest, splitbrain_runner: Runner) -> Iterator[Splitbrain]:
    """Run a target under faults and gate on the verdict: ``assert splitbrain.run(...).valid``."""
    opt = request.config.getoption("--splitbrain-store")
    store = Path(opt) if opt else request.config.rootpath / "histories"
    sb = Splitbrain(runner=splitbrain_runner, store=store.resolve())
    yield sb
    for o in sb.outcomes:
        request.node.user_properties.append(("splitbrain_report", str(o.report or o.run_dir)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    sb = getattr(item, "funcargs", {}).get("splitbrain")
    if isinstance(sb, Splitbrain) and sb.outcomes:
        rep.sections.append(("splitbrain", "\n\n".join(o.explain() for o in sb.outcomes)))
