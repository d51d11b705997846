"""The nodes' step trace: each call's record after it returns, and a ``sent`` one for a call cut short."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.node.http import Refused, Unreachable
from targets.saga_orders.trace import StepTrace


def test_each_call_leaves_one_record_with_its_outcome(tmp_path: Path) -> None:
    t = StepTrace(tmp_path, "orchestrator")
    t.call("o1", "processPayment", "payment", lambda: {"id": "c1"}, detail=lambda d: d["id"])

    def refused() -> None:
        raise Refused(402, "payment declined")

    def silent() -> None:
        raise Unreachable("timed out")
    with pytest.raises(Refused):
        t.call("o1", "confirmInventory", "inventory", refused)
    with pytest.raises(Unreachable):
        t.call("o1", "refundPayment", "payment", silent)
    recs = t.read()
    assert [(r["step"], r["outcome"], r.get("detail")) for r in recs] == [
        ("processPayment", "ok", "c1"), ("confirmInventory", "refused", None), ("refundPayment", "unreachable", None)]
    assert all(r["start"] <= r["end"] for r in recs) and recs[1]["error"] == "402: payment declined"


def test_a_call_the_node_died_in_keeps_its_sent_record_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    t = StepTrace(tmp_path, "coordinator")
    t.record("t1", "commit", to="payment", start=5.0, outcome="sent")  # what call() writes first
    t.call("t1", "prepare", "order", lambda: {"vote": "YES"}, detail=lambda d: d["vote"])
    with open(t.file, "a") as f:
        f.write('{"node": "coordinator", "subj')  # SIGKILL mid-write
    recs = t.read()
    assert [(r["step"], r["outcome"], r["end"]) for r in recs][0] == ("commit", "sent", None)
    assert [(r["step"], r["outcome"]) for r in recs][1:] == [("prepare", "ok")]  # its sent record dropped
