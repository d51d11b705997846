"""Every way a run ends unwinds: each stop signal at each phase, SIGKILL, a full disk.

Real runs of the quorum store (``abd``, linearizable) on the local backend, in
a child process, each in a folder of its own (:mod:`tests.support.runs`).
After each: the exit code is the signal's (128 + signum), no traceback, no
process, temporary directory or run record left, ``results.json`` final and
saying what happened, the node logs saved, and the history checks as valid.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import recheck_run
from tests.support.runs import ROOT, RunUnderTest, processes_naming, wait_for

pytestmark = pytest.mark.slow

INT, TERM, HUP = signal.SIGINT, signal.SIGTERM, signal.SIGHUP
SIGNALS = {"SIGINT": (INT,), "SIGTERM": (TERM,), "SIGHUP": (HUP,), "SIGTERM+SIGINT": (TERM, INT)}

# phase -> (how the test gets there, the "phase" results.json must name)
PHASES = ["start", "workload", "heal", "final reads", "check", "report"]
_HOLDS = {"heal": "healing", "final reads": "final reads", "check": "checking", "report": "writing report"}


def _reach(run: RunUnderTest, phase: str) -> None:
    if phase == "start":  # the nodes are being spawned and waited for
        wait_for(lambda: list(run.tmp.glob("splitbrain-*/n1/node.log")) or run.proc.poll() is not None,
                 60, "the first node to be spawned")
    elif phase == "workload":
        run.wait_phase("running")
        wait_for(lambda: run.history_lines() > 30, 30, "ops in the history")
    else:
        assert run.wait_held() == _HOLDS[phase]


def _start(tmp_path: Path, phase: str, **kw) -> RunUnderTest:  # type: ignore[no-untyped-def]
    return RunUnderTest(tmp_path, hold=_HOLDS.get(phase), time_limit=30 if phase == "workload" else 0.6, **kw)


def _assert_clean_end(run: RunUnderTest, code: int, signums: tuple[int, ...], phase: str) -> dict:
    out = run.output()
    first = signums[0]
    assert code == 128 + first, out
    assert "Traceback" not in out, out
    assert run.leftovers() == [], out
    rd = run.run_dir()
    assert rd is not None
    res = json.loads((rd / "results.json").read_text())
    name = signal.Signals(first).name
    assert res["status"] == "interrupted" and res["signal"] == name, res
    assert f"interrupted ({name})" in res["error"]
    expected_phase = {"start": "starting", "workload": "running"}.get(phase, _HOLDS.get(phase))
    assert res["phase"] == expected_phase, res
    if phase != "start":
        assert res["stats"]["duration_s"] > 0.3 and res["stats"]["ops"] > 0, res["stats"]
        assert sorted(p.name for p in (rd / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    if phase == "report":  # the verdict stands, the report is said to be missing
        assert res["valid"] is True and "VALID" in out and "report not written" in out
        assert not (rd / "report.html").exists()
    else:
        assert res["valid"] == "unknown"
    if len(signums) > 1 and phase != "report":  # (a report cut short ends at once: nothing to wait for)
        # noted while the cluster unwound, or, if it came once the record was final, it skipped the report
        assert "again: still stopping" in out or "report skipped (SIGINT)" in out, out
    # the history checks: abd is linearizable (an empty one, stopped before any op, is unknown)
    assert recheck_run(rd, out=open("/dev/null", "w")) == (0 if res["stats"].get("ops") else 2)
    return res


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("sig", list(SIGNALS))
def test_a_stop_signal_in_any_phase_unwinds_everything(tmp_path: Path, sig: str, phase: str) -> None:
    run = _start(tmp_path, phase)
    try:
        _reach(run, phase)
        run.signal(*SIGNALS[sig])
        code = run.wait()
    finally:
        run.close()
    _assert_clean_end(run, code, SIGNALS[sig], phase)


def test_sigint_stops_a_run_that_inherited_it_ignored(tmp_path: Path) -> None:
    run = _start(tmp_path, "workload", sigint_ignored=True)
    try:
        _reach(run, "workload")
        run.signal(INT)
        code = run.wait(timeout=60)
    finally:
        run.close()
    _assert_clean_end(run, code, (INT,), "workload")


def test_sighup_with_the_terminal_gone_still_unwinds_and_records(tmp_path: Path) -> None:
    run = _start(tmp_path, "workload", pipe=True)
    try:
        _reach(run, "workload")
        assert run.proc.stdout is not None
        run.proc.stdout.close()  # the terminal is gone: every write to it fails from now on
        run.signal(HUP)
        code = run.wait()
    finally:
        run.close()
    assert code == 128 + HUP  # not 1 (a traceback about a closed stdout)
    assert run.leftovers() == []
    rd = run.run_dir()
    res = json.loads((rd / "results.json").read_text())
    assert (res["status"], res["signal"], res["phase"]) == ("interrupted", "SIGHUP", "running")
    assert sorted(p.name for p in (rd / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]


def test_a_sigkilled_harness_is_cleaned_up_by_its_watchdog(tmp_path: Path) -> None:
    run = _start(tmp_path, "workload")
    try:
        _reach(run, "workload")
        rd = run.run_dir()
        assert rd is not None and processes_naming("harness.watchdog " + rd.name)
        run.signal(signal.SIGKILL)
        run.proc.wait(10)
        wait_for(lambda: run.leftovers() == [], 30, "the watchdog to remove the nodes and temp dir")
    finally:
        run.close()
    res = json.loads((rd / "results.json").read_text())
    assert res["status"] == "killed" and res["phase"] == "running" and res["stats"]["ops"] > 0, res
    assert sorted(p.name for p in (rd / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    assert recheck_run(rd, out=open("/dev/null", "w")) == 0


def test_clean_after_a_sigkill_saves_logs_and_marks_the_run_killed(tmp_path: Path) -> None:
    run = _start(tmp_path, "workload")
    try:
        _reach(run, "workload")
        rd = run.run_dir()
        assert rd is not None
        (dog,) = processes_naming("harness.watchdog " + rd.name)
        import os

        os.kill(dog[0], signal.SIGKILL)  # the watchdog too: only `clean` is left to do it
        run.signal(signal.SIGKILL)
        run.proc.wait(10)
        time.sleep(0.5)
        assert [p for p, _ in processes_naming(f"{run.tmp}/")], "the nodes should have outlived it"
        assert not (rd / "logs" / "n1.log").exists()
        clean = subprocess.run([sys.executable, "-m", "harness.cli", "clean", "--no-docker",
                                "--state-dir", str(run.state)], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
    finally:
        run.close()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "saved logs of 3 node(s)" in clean.stdout and "as killed" in clean.stdout, clean.stdout
    assert run.leftovers() == []
    res = json.loads((rd / "results.json").read_text())
    assert res["status"] == "killed" and "check it with" in res["error"]
    assert sorted(p.name for p in (rd / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    assert recheck_run(rd, out=open("/dev/null", "w")) == 0  # what was recorded is linearizable
    # `check RUN_DIR` and `report` agree: an unfinished run, killed
    check = subprocess.run([sys.executable, "-m", "harness.cli", "check", str(rd)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 2 and "killed" in check.stdout, check.stdout + check.stderr
    report = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(rd)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "The run did not finish (killed)" in (rd / "report.html").read_text()


class _Boom:
    """The workload's own generator, until it breaks (a harness bug, as far as the run can tell)."""

    def __init__(self, inner, n: int = 0) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.n = inner, n

    def op(self, ctx):  # type: ignore[no-untyped-def]
        if self.n >= 20:
            raise RuntimeError("boom in the generator")
        spec, nxt = self.inner.op(ctx)
        return spec, (None if nxt is None else _Boom(nxt, self.n + 1))

    def update(self, ctx, event):  # type: ignore[no-untyped-def]
        return _Boom(self.inner.update(ctx, event), self.n)


def test_an_exception_in_the_run_unwinds_like_a_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses
    import tempfile

    from harness.commands.run import perform_run, resolve
    from harness.generators import lift

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    req = resolve("quorum-store", variant="abd", backend="local", nodes=3, nemesis="partition",
                  time_limit=5, concurrency=3, rate=50, nemesis_interval=0.4, store=tmp_path / "store")
    wl = req.target.workloads["register"]
    target = dataclasses.replace(req.target, workloads={
        "register": dataclasses.replace(wl, generator=lambda ctx: _Boom(lift(wl.generator(ctx))), final=None)})
    said: list[str] = []
    r = perform_run(dataclasses.replace(req, target=target), seed=3, progress=False,
                    echo=lambda s="", **kw: said.append(str(s)))
    assert r.exit_code == 4, said
    assert r.results["status"] == "harness-error" and "RuntimeError: boom in the generator" in r.results["error"]
    assert "Traceback" in (r.run_dir / "harness-error.txt").read_text()
    assert not any("Traceback" in s for s in said)
    assert processes_naming(f"{tmp_path}/") == []
    assert list((tmp_path / "tmp").glob("splitbrain-*")) == [] and list((tmp_path / "state" / "runs").glob("*")) == []
    assert sorted(p.name for p in (r.run_dir / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    assert r.results["stats"]["ops"] >= 1 and r.results["stats"]["duration_s"] > 0


NETNS_CASES = {"SIGTERM-workload": ("workload", (TERM,)), "SIGHUP+SIGINT-heal": ("heal", (HUP, INT)),
               "SIGINT-final reads": ("final reads", (INT,))}


@pytest.mark.parametrize("case", list(NETNS_CASES))
def test_a_stop_signal_on_the_netns_backend_leaves_no_namespace(tmp_path: Path, case: str) -> None:
    """A subset on the namespace backend: its namespaces live as long as their holder process."""
    try:
        from harness.backends.netns import available
    except ImportError:
        pytest.skip("no netns backend")
    if (why := available()) is not None:
        pytest.skip(f"netns backend unavailable: {why}")
    phase, signums = NETNS_CASES[case]
    run = _start(tmp_path, phase, backend="netns")
    try:
        _reach(run, phase)
        assert any("netns_holder" in cmd for _, cmd in run.processes()), "no namespace holder: nothing to check"
        run.signal(*signums)
        code = run.wait()
    finally:
        run.close()
    _assert_clean_end(run, code, signums, phase)


def test_a_second_signal_while_the_report_of_a_stopped_run_is_written_skips_it(tmp_path: Path) -> None:
    run = RunUnderTest(tmp_path, hold="writing report", time_limit=30)
    try:
        _reach(run, "workload")
        run.signal(TERM)
        assert run.wait_held() == "writing report"  # stopped, recorded, now writing its report
        run.signal(INT)
        code = run.wait()
    finally:
        run.close()
    out = run.output()
    assert code == 128 + TERM and "report skipped (SIGINT)" in out and "Traceback" not in out, out
    assert run.leftovers() == []
    rd = run.run_dir()
    res = json.loads((rd / "results.json").read_text())
    assert (res["status"], res["signal"], res["phase"]) == ("interrupted", "SIGTERM", "running")
    assert not (rd / "report.html").exists()
