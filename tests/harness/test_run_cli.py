"""``splitbrain run`` and ``splitbrain targets``: usage errors in-process, whole runs on the local backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.history import read_jsonl

ROOT = Path(__file__).resolve().parents[2]


def test_targets_lists_targets_variants_and_workloads(capsys):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    assert "quorum-store:" in out
    assert "--variant seed (default)" in out and "--variant abd" in out
    assert "workloads: counter, list-append, register (default), set" in out


@pytest.mark.parametrize("args, message", [
    (["no-such-target"], "unknown target 'no-such-target'"),
    (["quorum-store", "--variant", "nope"], "has no variant 'nope'"),
    (["quorum-store", "--workload", "nope"], "has no workload 'nope'"),
    (["quorum-store", "--nemesis", "flood"], "unknown fault(s) ['flood']"),
    (["quorum-store", "--nemesis", "partition", "--nodes", "1"], "no partition"),
    (["quorum-store", "--nodes", "0"], "--nodes must be at least 1"),
    (["quorum-store", "--option", "keys"], "expected KEY=VALUE"),
    (["quorum-store", "--option", "foo=bar"], "unknown --option foo for quorum-store; it knows: client_timeout"),
    (["quorum-store", "--time-limit", "0"], "--time-limit must be > 0"),
    (["quorum-store", "--backend", "cloud"], "unknown backend 'cloud'"),
    (["quorum-store", "--repeat", "0"], "--repeat must be at least 1"),
])
def test_usage_errors_exit_3_with_the_reason_and_create_no_run_folder(tmp_path, capsys, args, message):
    assert main(["run", *args, "--store", str(tmp_path)]) == 3
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # writes a report: about a second
def test_an_unavailable_backend_exits_4_and_still_writes_the_run_folder(tmp_path, capsys, monkeypatch):
    from harness.backends import BACKENDS

    monkeypatch.setitem(BACKENDS, "ssh", "harness.backends.ssh:open_ssh_cluster")  # registered, not built
    code = main(["run", "quorum-store", "--backend", "ssh", "--nemesis", "none", "--seed", "1",
                 "--store", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 4, out
    assert "ERROR: the run could not be completed" in out
    results = json.loads((tmp_path / "quorum-store" / "latest" / "results.json").read_text())
    assert results["status"] == "environment-error" and results["valid"] == "unknown" and results["error"]


@pytest.mark.slow
def test_abd_run_without_faults_is_valid_and_leaves_a_complete_run_folder(tmp_path, capsys):
    junit = tmp_path / "junit.xml"
    code = main(["run", "quorum-store", "--variant", "abd", "--nemesis", "none", "--nodes", "3",
                 "--concurrency", "3", "--time-limit", "1.5", "--rate", "50", "--seed", "7", "--repeat", "2",
                 "--store", str(tmp_path / "store"), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    latest = tmp_path / "store" / "quorum-store" / "latest"
    run_dir = latest.resolve()
    assert "VALID" in out and str(run_dir.name) in out
    results = json.loads((run_dir / "results.json").read_text())
    assert results["valid"] is True and results["status"] == "done" and results["seed"] == 8  # 2nd run: seed+1
    assert results["command"].endswith("--seed 8") and "--variant abd" in results["command"]
    assert "0 of 2 run(s) found anomalies" in out
    assert results["stats"]["ops"] == results["stats"]["ok"] > 20
    h = read_jsonl(run_dir / "history.jsonl")
    assert len(h.operations) == results["stats"]["ops"]
    finals = [op for op in h.operations if op.invoke.time > 1.5e9 and op.f == "read"]
    assert finals  # the final reads ran after the time limit
    assert sorted(p.name for p in (run_dir / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    import xml.etree.ElementTree as ET
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert len(suites) == 2 and all(s.get("failures") == "0" for s in suites)


@pytest.mark.slow
def test_sigint_stops_the_run_and_keeps_a_readable_history(tmp_path):
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "quorum-store", "--nemesis", "none", "--nodes", "3",
         "--concurrency", "3", "--time-limit", "60", "--rate", "100", "--seed", "3", "--store", str(store)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        hist = None
        while time.monotonic() < deadline:
            found = [p for p in store.glob("quorum-store/*/history.jsonl") if p.parent.name != "latest"]
            if found and found[0].stat().st_size > 5000:
                hist = found[0]
                break
            time.sleep(0.1)
        assert hist is not None, "the run never started recording"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    run_dir = hist.parent
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "interrupted" and results["valid"] == "unknown"
    assert "splitbrain check" in results["error"]
    h = read_jsonl(hist, tolerate_torn_tail=True)
    assert len(h.operations) > 10
    assert str(run_dir) in out
