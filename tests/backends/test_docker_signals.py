"""Stop signals on the Docker backend: a representative subset of tests/harness/test_signals.py.

Each case is a real ``splitbrain run --backend docker`` in a child process,
stopped in one phase by one signal (or two in a row, or SIGKILL). Afterwards
no container, network or volume labelled with the run's id is left, nor a
host firewall rule naming the run's bridge (the FORWARD/NAT rules the engine
made for it, seen during the run so the check can fail), nor a local
process, temp dir or run record; ``results.json`` is final; the history
checks. Containers are named by the backend after the run id
(``splitbrain-<run id>-n1``), so runs of other tests never collide.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from harness.backends.docker_engine import RUN_LABEL, clean_leftovers
from harness.store import recheck_run
from tests.backends.test_docker import engine  # noqa: F401 - the session's engine fixture
from tests.support.runs import RunUnderTest, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.docker]

INT, TERM, HUP = signal.SIGINT, signal.SIGTERM, signal.SIGHUP


@pytest.fixture(scope="module")
def qs_engine(engine):  # type: ignore[no-untyped-def]
    """test_docker's engine (skips without one), with the quorum store's image built."""
    from harness.images import ImageBuildError, ensure_base_image, ensure_target_image
    from harness.registry import get_target

    try:
        ensure_target_image(engine, get_target("quorum-store"), base=ensure_base_image(engine))
    except ImageBuildError as e:
        pytest.skip(f"cannot build the images here: {e}")
    return engine


def _firewall() -> str:
    out = []
    for tool in ("iptables-save", "iptables-legacy-save"):
        try:
            out.append(subprocess.run([tool], capture_output=True, text=True, timeout=20).stdout)
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "\n".join(out)


def _labelled(engine, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The run's containers, networks and volumes (the low-level list: no inspect of one being removed)."""
    f = {"label": f"{RUN_LABEL}={run_id}"}
    return ([f"container {c['Names'][0]}" for c in engine.api.containers(all=True, filters=f)]
            + [f"network {n['Name']}" for n in engine.api.networks(filters=f)]
            + [f"volume {v['Name']}" for v in (engine.api.volumes(filters=f).get("Volumes") or [])])


class _DockerRun:
    """A docker run under test: ``run``, and once up its ``run_id`` and ``bridge`` (its host rules seen).

    Leaving the block closes the run; anything still labelled with its id is removed and fails the test.
    """

    def __init__(self, engine, tmp_path: Path, **kw) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.run = RunUnderTest(tmp_path, backend="docker", **kw)
        self.run_id: str | None = None
        self.bridge = ""

    def __enter__(self) -> "_DockerRun":
        return self

    def up(self, *, busy: bool = False) -> None:
        """Wait until the containers serve (and, ``busy``, ops are being recorded)."""
        self.run.wait_phase("running", timeout=180)
        self.run_id = self.run.results()["run_id"]
        (net,) = self.engine.networks.list(filters={"label": f"{RUN_LABEL}={self.run_id}"})
        self.bridge = f"br-{net.id[:12]}"
        assert self.bridge in _firewall(), "the engine made no host rule for the run's bridge: nothing to check"
        if busy:
            wait_for(lambda: self.run.history_lines() > 30, 60, "ops in the history")

    def __exit__(self, *exc: object) -> None:
        self.run.close()
        if self.run_id is not None and _labelled(self.engine, self.run_id):
            left = _labelled(self.engine, self.run_id)
            clean_leftovers(self.run_id, self.engine)  # a failed test must not leave them to the next
            pytest.fail(f"left behind: {left}")


CASES = {  # name -> (hold phase or None for the workload, signals, the phase results.json names)
    "SIGTERM-workload": (None, (TERM,), "running"),  # faults in effect, containers busy
    "SIGHUP+SIGINT-heal": ("healing", (HUP, INT), "healing"),  # a hangup, then an impatient Ctrl-C
    "SIGINT-check": ("checking", (INT,), "checking"),  # cluster gone already: only the record is left
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_stop_signal_leaves_no_container_network_or_rule(qs_engine, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    hold, signums, phase = CASES[case]
    with _DockerRun(qs_engine, tmp_path, hold=hold, time_limit=30 if hold is None else 1.5) as d:
        d.up(busy=hold is None)
        if hold is not None:
            assert d.run.wait_held(timeout=120) == hold
        d.run.signal(*signums)
        code = d.run.wait(timeout=120)
    run = d.run
    out = run.output()
    assert code == 128 + signums[0], out
    assert "Traceback" not in out
    assert d.bridge not in _firewall()
    assert run.leftovers() == []
    rd = run.run_dir()
    res = json.loads((rd / "results.json").read_text())
    assert (res["status"], res["signal"], res["phase"]) == ("interrupted", signal.Signals(signums[0]).name, phase)
    assert res["stats"]["ops"] > 0 and res["stats"]["duration_s"] > 0.3
    assert sorted(p.name for p in (rd / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    assert recheck_run(rd, out=open("/dev/null", "w")) == 0


def test_a_sigkilled_harness_s_containers_are_removed_by_its_watchdog(qs_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with _DockerRun(qs_engine, tmp_path, time_limit=30) as d:
        d.up(busy=True)
        d.run.signal(signal.SIGKILL)
        d.run.proc.wait(10)
        wait_for(lambda: not _labelled(qs_engine, d.run_id), 60, "the watchdog to remove the containers")
        wait_for(lambda: d.run.results().get("status") == "killed", 30, "results.json marked killed")
    assert d.bridge not in _firewall()
    wait_for(lambda: d.run.leftovers() == [], 10, "the watchdog to exit")
    rd = d.run.run_dir()
    assert sorted(p.name for p in (rd / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    assert recheck_run(rd, out=open("/dev/null", "w")) == 0


def test_clean_saves_a_dead_runs_container_logs_and_marks_it_killed(qs_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os

    from tests.support.runs import processes_naming

    with _DockerRun(qs_engine, tmp_path, time_limit=30) as d:
        d.up(busy=True)
        rd = d.run.run_dir()
        (dog,) = processes_naming("harness.watchdog " + rd.name)
        os.kill(dog[0], signal.SIGKILL)  # the watchdog too: only `clean` is left to do it
        d.run.signal(signal.SIGKILL)
        d.run.proc.wait(10)
        assert len([x for x in _labelled(qs_engine, d.run_id) if x.startswith("container")]) == 3
        done = clean_leftovers(d.run_id, qs_engine)  # this run's only: other tests' runs are not ours
    assert sum(x.startswith("saved log of") for x in done) == 3 and any("as killed" in x for x in done), done
    assert d.bridge not in _firewall()
    assert sorted(p.name for p in (rd / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    assert json.loads((rd / "results.json").read_text())["status"] == "killed"
