"""Whole ``splitbrain run quorum-store --workload set`` runs: read-modify-write loses adds, vclock does not.

20 clients on 3 keys at full speed make read-modify-write races on every
key within a second, so the ``seed`` run loses acknowledged adds even
before the partition (which only adds stale quorums); the ``vclock`` run,
whose adds are merged server-side, loses none under the same schedule. The
lost elements are named with the add that overwrote them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def run(variant: str, store: Path) -> dict:
    argv = [sys.executable, "-m", "harness.cli", "run", "quorum-store", "--workload", "set", "--variant", variant,
            "--nemesis", "partition", "--nemesis-interval", "1.5", "--time-limit", "5", "--concurrency", "20",
            "--rate", "0", "--seed", "5", "--store", str(store), "--option", "keys=3"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=150)
    folders = sorted((store / "quorum-store").glob("2*"))
    assert folders, proc.stdout + proc.stderr
    return json.loads((folders[-1] / "results.json").read_text())


def test_vclock_merges_concurrent_adds_and_loses_none(tmp_path: Path) -> None:
    d = run("vclock", tmp_path)
    assert d["valid"] is True, [a["summary"] for c in d["checkers"].values() for a in c["anomalies"]][:3]
    assert sum(c["stats"]["stable_count"] for c in d["checkers"].values()) > 50
    assert all(c["stats"]["lost_acknowledged_count"] == 0 for c in d["checkers"].values())


def test_seed_read_modify_write_loses_acknowledged_adds_and_names_who_overwrote_them(tmp_path: Path) -> None:
    d = run("seed", tmp_path)
    assert d["valid"] is False
    checkers = d["checkers"].values()
    assert sum(c["stats"]["lost_acknowledged_count"] for c in checkers) > 0
    lost = [a for c in checkers for a in c["anomalies"] if a["kind"] == "lost"]
    named = [a for a in lost if (a["data"].get("explanation") or {}).get("overwritten_by")]
    assert named, [a["summary"] for a in lost][:3]
    a = named[0]
    assert "wrote version" in a["summary"] and "over it" in a["summary"]
    by = a["data"]["explanation"]["overwritten_by"]
    assert by["element"] != a["data"]["element"] and by["version"] > a["data"]["explanation"]["add"]["version"]
