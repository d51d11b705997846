"""The leftovers registry: what is recorded, and what a sweep may and may not kill or delete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from harness.leftovers import RunRecord, process_start, state_dir, sweep


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, as the local backend starts nodes; killed at the end."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        yield p
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def dead_harness(record: RunRecord) -> None:
    """Make ``record`` look like its harness died (a start time no live process has)."""
    data = json.loads(record.path.read_text())
    data["harness"]["start"] = -1
    record.path.write_text(json.dumps(data))


def test_state_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "x"))
    assert state_dir() == tmp_path / "a"
    assert state_dir(tmp_path / "o") == tmp_path / "o"
    monkeypatch.delenv("SPLITBRAIN_STATE_DIR")
    assert state_dir() == tmp_path / "x" / "splitbrain"


def test_record_lists_processes_and_dirs_until_discarded(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    rec = RunRecord("run/1", directory=tmp_path)
    assert rec.path.parent == tmp_path / "runs" and "/" not in rec.path.name
    d = tmp_path / "splitbrain-run-1"
    rec.add_dir(d)
    rec.add_process(sleeper.pid, label="run/1/n1")
    data = json.loads(rec.path.read_text())
    assert data["harness"] == {"pid": os.getpid(), "start": process_start(os.getpid())}
    assert data["processes"] == [{"pid": sleeper.pid, "pgid": sleeper.pid,
                                  "start": process_start(sleeper.pid), "label": "run/1/n1"}]
    assert data["dirs"] == [str(d)]
    rec.remove_process(sleeper.pid)
    assert json.loads(rec.path.read_text())["processes"] == []
    with pytest.raises(ValueError, match="splitbrain-"):
        rec.add_dir(tmp_path / "home")
    rec.discard()
    assert not rec.path.exists()


def test_sweep_leaves_a_live_harnesss_run_alone(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    rec = RunRecord("live", directory=tmp_path)
    d = tmp_path / "splitbrain-live"
    d.mkdir()
    rec.add_dir(d)
    rec.add_process(sleeper.pid, label="live/n1")
    assert sweep(tmp_path) == []
    assert sleeper.poll() is None and d.exists() and rec.path.exists()


def test_sweep_kills_and_removes_a_dead_harnesss_leftovers(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    rec = RunRecord("crashed", directory=tmp_path)
    d = tmp_path / "splitbrain-crashed"
    (d / "n1" / "data").mkdir(parents=True)
    rec.add_dir(d)
    rec.add_process(sleeper.pid, label="crashed/n1")
    dead_harness(rec)
    removed = sweep(tmp_path)
    assert sleeper.wait(5) == -signal.SIGKILL
    assert not d.exists() and not rec.path.exists()
    assert [(r.kind, r.ok) for r in removed] == [("process group", True), ("directory", True), ("record", True)]
    assert "crashed: removed process group" in str(removed[0])


def test_sweep_never_kills_a_reused_pid(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    rec = RunRecord("old", directory=tmp_path)
    rec.add_process(sleeper.pid, label="old/n1")
    data = json.loads(rec.path.read_text())
    data["processes"][0]["start"] -= 1  # the recorded process started earlier: this is someone else
    data["harness"]["start"] = -1
    rec.path.write_text(json.dumps(data))
    sweep(tmp_path)
    assert sleeper.poll() is None
    assert not rec.path.exists()  # nothing of that run is left to wait for


def test_sweep_only_removes_directories_it_could_have_made(tmp_path: Path) -> None:
    keep = tmp_path / "precious"
    keep.mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "bad.json").write_text(json.dumps(
        {"run_id": "bad", "harness": {"pid": os.getpid(), "start": -1}, "processes": [], "dirs": [str(keep)]}))
    (tmp_path / "runs" / "garbage.json").write_text("{not json")
    sweep(tmp_path)
    assert keep.exists()
    assert (tmp_path / "runs" / "garbage.json").exists()  # unreadable: left for a person to look at


def test_sweep_saves_node_logs_and_marks_the_run_killed(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    from harness.store import RunInfo, read_results, results_document, write_results

    run_dir = tmp_path / "store" / "t" / "run1"
    (run_dir / "logs").mkdir(parents=True)
    info = RunInfo(run_id="run1", target="quorum-store", variant="abd", backend="local", workload="register",
                   nodes=("n1",), nemesis=(), time_limit_s=1.0, concurrency=1, seed=1)
    write_results(run_dir, results_document(info, status="running", phase="final reads"))
    (run_dir / "history.jsonl").write_text(
        '{"index": 0, "time": 5, "process": 0, "type": "invoke", "f": "read", "value": null}\n{"ind')
    rec = RunRecord("run1", directory=tmp_path, run_dir=run_dir)
    d = tmp_path / "splitbrain-run1"
    (d / "n1").mkdir(parents=True)
    (d / "n1" / "node.log").write_text("n1 says hello\n")
    rec.add_dir(d)
    rec.add_process(sleeper.pid, label="run1/n1")
    dead_harness(rec)
    removed = sweep(tmp_path)
    assert sleeper.wait(5) == -signal.SIGKILL and not d.exists() and not rec.path.exists()
    assert (run_dir / "logs" / "n1.log").read_text() == "n1 says hello\n"
    res = read_results(run_dir)
    assert res["status"] == "killed" and res["stats"]["ops"] == 1 and "final reads" in res["error"]
    assert {r.kind for r in removed} >= {"logs", "results"}
    assert "run1: saved logs of 1 node(s)" in "\n".join(map(str, removed))
    assert sweep(tmp_path) == []  # a second sweep finds nothing to do


def test_sweep_leaves_another_hosts_record_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    d = tmp_path / "splitbrain-far"
    d.mkdir()
    path = tmp_path / "runs" / "far.json"
    path.write_text(json.dumps({"run_id": "far", "host": "some-other-host", "processes": [], "dirs": [str(d)],
                                "harness": {"pid": os.getpid(), "start": -1}}))
    (left,) = sweep(tmp_path)
    assert left.verb == "left" and "some-other-host" in str(left) and "--force" in str(left)
    assert d.exists() and path.exists()
    assert [r.kind for r in sweep(tmp_path, force=True)] == ["directory", "record"]
    assert not d.exists() and not path.exists()
