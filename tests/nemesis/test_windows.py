"""fault_windows reads when each fault was in effect from a literal history."""

from __future__ import annotations

from typing import Any

from harness.history import NEMESIS, Op
from nemesis.windows import FaultWindow, fault_windows


def _h(*events: tuple[Any, ...]) -> list[Op]:
    """Events as (time, process, type, f, value[, error]); index = position."""
    out = []
    for i, e in enumerate(events):
        t, p, typ, f, v, *err = e
        out.append(Op(index=i, time=t, process=p, type=typ, f=f, value=v, error=err[0] if err else None))
    return out


N = NEMESIS
PART = {"kind": "halves", "summary": "n1 n2 | n3 n4 n5", "links": [["n1", "n3"], ["n3", "n1"]],
        "verified": True, "probe": {}}


def test_a_verified_partition_is_in_effect_from_its_confirmation_to_the_heals() -> None:
    h = _h((10, N, "info", "start-partition", {"kind": "halves"}),
           (20, 0, "invoke", "read", None),
           (30, N, "info", "start-partition", PART),
           (40, 0, "ok", "read", 1),
           (50, N, "info", "stop-partition", None),
           (60, N, "info", "stop-partition", {"links": PART["links"], "verified": True}))
    assert fault_windows(h) == [FaultWindow(
        kind="partition", start_ns=30, end_ns=60, nodes=("n1", "n3"),
        detail={"kind": "halves", "summary": "n1 n2 | n3 n4 n5", "links": PART["links"]},
        start_index=2, end_index=5)]


def test_an_unverified_partition_is_no_window_and_a_failed_heal_keeps_it_open() -> None:
    h = _h((1, N, "info", "start-partition", None),
           (2, N, "info", "start-partition", PART | {"verified": False}, "partition not in effect"),
           (3, N, "info", "start-partition", None),
           (4, N, "info", "start-partition", PART),
           (5, N, "info", "stop-partition", None),
           (6, N, "info", "stop-partition", {"verified": False}, "healed, but links still drop"))
    (w,) = fault_windows(h)
    assert (w.start_ns, w.end_ns, w.start_index) == (4, None, 3)


def test_kill_window_closes_when_every_killed_node_is_back() -> None:
    h = _h((1, N, "info", "kill", {"nodes": ["n2", "n4"]}),
           (2, N, "info", "kill", {"nodes": ["n2", "n4"]}),
           (3, N, "info", "start", {"nodes": ["n2"]}),
           (4, N, "info", "start", {"nodes": ["n2"]}),
           (5, N, "info", "start", "all"),
           (6, N, "info", "start", {"nodes": ["n4"]}))
    (w,) = fault_windows(h)
    assert (w.kind, w.nodes, w.start_ns, w.end_ns, w.end_index) == ("kill", ("n2", "n4"), 2, 6, 5)
    assert w.detail == {"nodes": ["n2", "n4"]}


def test_a_kill_that_failed_everywhere_is_no_window_and_pause_never_resumed_stays_open() -> None:
    h = _h((1, N, "info", "kill", {"nodes": ["n1"]}),
           (2, N, "info", "kill", {"nodes": [], "failed": {"n1": "x"}}, "kill failed on n1: x"),
           (3, N, "info", "pause", {"nodes": ["n3"]}),
           (4, N, "info", "pause", {"nodes": ["n3"]}),
           (5, 1, "invoke", "write", 3))
    (w,) = fault_windows(h)
    assert (w.kind, w.nodes, w.start_ns, w.end_ns) == ("pause", ("n3",), 4, None)


def test_a_fault_whose_confirmation_is_missing_is_not_claimed() -> None:
    h = _h((1, N, "info", "pause", {"nodes": ["n3"]}))  # the run died mid-fault
    assert fault_windows(h) == []


def test_jepsen_start_stop_pairs_are_generic_faults() -> None:
    h = _h((1, N, "info", "start", None),
           (2, N, "info", "start", "Cut off {:n1 #{:n2}}"),
           (3, N, "info", "stop", None),
           (4, N, "info", "stop", "fully connected"))
    (w,) = fault_windows(h)
    assert (w.kind, w.start_ns, w.end_ns, w.detail) == ("fault", 2, 4, "Cut off {:n1 #{:n2}}")


def test_to_json_has_the_results_json_fields() -> None:
    w = FaultWindow(kind="kill", start_ns=5, end_ns=None, detail={"nodes": ["n1"]}, nodes=("n1",),
                    start_index=1)
    assert w.to_json() == {"kind": "kill", "start_ns": 5, "end_ns": None, "detail": {"nodes": ["n1"]},
                           "nodes": ["n1"], "start_index": 1, "end_index": None}


def test_windows_are_sorted_by_start_and_untimed_histories_work() -> None:
    h = [Op(index=i, process=N, type="info", f=f, value=v) for i, (f, v) in enumerate([
        ("pause", {"nodes": ["n1"]}), ("pause", {"nodes": ["n1"]}),
        ("kill", {"nodes": ["n2"]}), ("kill", {"nodes": ["n2"]}),
        ("resume", None), ("resume", {"nodes": ["n1"]})])]
    ws = fault_windows(h)
    assert [(w.kind, w.start_index, w.end_index, w.start_ns) for w in ws] == [
        ("pause", 1, 5, None), ("kill", 3, None, None)]


def test_a_partial_kill_claims_the_nodes_it_did_kill_and_a_verified_partition_with_a_warning_counts() -> None:
    h = _h((1, N, "info", "kill", {"nodes": ["n1", "n3"]}),
           (2, N, "info", "kill", {"nodes": ["n1"], "failed": {"n3": "x"}}, "kill failed on n3: x"),
           (3, N, "info", "start-partition", None),
           (4, N, "info", "start-partition", PART, "links that were not cut drop traffic too"))
    ws = fault_windows(h)
    assert [(w.kind, w.nodes, w.start_ns) for w in ws] == [("kill", ("n1",), 2), ("partition", ("n1", "n3"), 4)]
