"""The terminal's account of an anomaly: cause first, the witness in real-time order, the search as detail.

The same lines serve ``splitbrain check`` and the verdict ``splitbrain run`` prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checkers.linearizability import Linearizability
from harness.anomaly_text import anomaly_lines
from harness.history import op_to_json
from harness.store import verdict_text
from tests.checkers.test_witness import failed_write_read, stale_read


def test_the_lines_lead_with_the_cause_then_the_witness_with_nodes_times_and_errors() -> None:
    (a,) = Linearizability(model="register").check(failed_write_read()).anomalies
    lines = anomaly_lines(a.to_json())
    assert lines[0].startswith("nonlinearizable: read of a failed write: the read (p3 via n4) returned 878")
    assert lines[1] == "  witness (2 ops, minimal; real-time order):"
    assert lines[2] == "    [10] p2 n3 write 878  fail  0.020-0.025 s  error: timed out  <- reported fail, yet its value was read"
    assert lines[3].startswith("    [12] p3 n4 read nil -> 878  ok  0.030-0.033 s")
    assert lines[4].startswith("  search: process 3 read 878 (index 12..13) cannot be linearized")


def test_the_run_verdict_carries_the_witness_but_not_the_search_detail() -> None:
    (a,) = Linearizability(model="register").check(stale_read()).anomalies
    doc = {"valid": False, "target": "t", "variant": "v", "workload": "register", "nemesis": ["partition"],
           "checkers": {"linearizability": {"valid": False, "anomalies": [a.to_json()]}}, "seed": 1, "command": "c"}
    text = verdict_text(doc, "/run")
    assert "    - nonlinearizable: stale read: write 878 (p2 via n3) completed at 0.025 s" in text
    assert "      witness (3 ops, minimal; real-time order):" in text
    assert "<- stale read" in text and "search:" not in text


def test_check_prints_the_witness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    path = tmp_path / "h.jsonl"
    path.write_text("".join(op_to_json(o) + "\n" for o in stale_read().ops))
    assert main(["check", str(path), "--model", "register"]) == 1
    out = capsys.readouterr().out
    assert "stale read: write 878 (p2 via n3) completed at 0.025 s, before the read (p3 via n4) began" in out
    assert "[10] p2 n3 write 878  ok  0.020-0.025 s  <- overwrote it" in out
