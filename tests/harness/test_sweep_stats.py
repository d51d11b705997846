"""The sweep's columns on hand-built histories: availability in fault windows, latency percentiles,
anomalies per 1,000 ops, and how a row sums its runs."""

from __future__ import annotations

from typing import Any

import pytest

from harness.history import History, Op, Operation
from harness.sweep_stats import (FaultWindow, Share, fault_windows, percentile, row_figures, run_figures,
                                 sweep_rows)

MS = 1_000_000


def _history(*ops: tuple[int, str, int | None, int | None, str]) -> tuple[Operation, ...]:
    """Client ops from ``(process, f, invoke ms, completion ms or None, completion type)``."""
    events: list[tuple[int, int, Op]] = []
    for p, f, t0, t1, typ in ops:
        events.append((t0, 0, Op(index=0, type="invoke", process=p, f=f, value=[0, None], time=t0 * MS)))
        if t1 is not None:
            events.append((t1, 1, Op(index=0, type=typ, process=p, f=f, value=[0, 1], time=t1 * MS)))
    events.sort(key=lambda e: (e[0], e[1]))
    built = [Op(index=i, type=o.type, process=o.process, f=o.f, value=o.value, time=o.time)
             for i, (_, _, o) in enumerate(events)]
    return History.of(built).operations


def _results(faults: list[dict[str, Any]] | None = None, anomalies: dict[str, list[str]] | None = None,
             valid: Any = True, status: str = "done") -> dict[str, Any]:
    checkers = {name: {"checker": name, "valid": not kinds, "anomalies": [{"kind": k, "summary": k} for k in kinds]}
                for name, kinds in (anomalies or {}).items()}
    return {"valid": valid, "status": status, "faults": faults or [], "checkers": checkers}


def _fault(start_ms: int, end_ms: int | None, kind: str = "partition") -> dict[str, Any]:
    return {"kind": kind, "start_ns": start_ms * MS, "end_ns": None if end_ms is None else end_ms * MS}


def test_availability_counts_ops_invoked_in_a_fault_that_did_not_complete_ok() -> None:
    ops = _history(
        (0, "read", 5, 8, "ok"),        # before the fault: outside
        (1, "write", 9, 30, "fail"),    # invoked before, failed during: outside
        (2, "read", 10, 12, "ok"),      # in the fault from 10 to 20
        (3, "write", 11, 15, "fail"),
        (4, "write", 12, None, "info"),  # never completed: not ok
        (5, "read", 14, 40, "info"),
        (6, "read", 20, 21, "ok"),      # the fault ended at 20: outside (half-open)
    )
    fig = run_figures(ops, _results([_fault(10, 20)]))
    assert fig.not_ok_in_fault == Share(part=3, whole=4) and fig.not_ok_in_fault.value == 0.75
    assert fig.reads_not_ok_in_fault == Share(part=1, whole=2)
    assert fig.writes_not_ok_in_fault == Share(part=2, whole=2)
    assert fig.not_ok_outside == Share(part=1, whole=3)
    assert fig.ops == 7


def test_a_fault_never_healed_lasts_to_the_end_and_a_run_without_faults_has_no_in_fault_share() -> None:
    ops = _history((0, "write", 50, 60, "ok"), (1, "write", 500, 501, "fail"))
    assert run_figures(ops, _results([_fault(40, None, "kill")])).not_ok_in_fault == Share(part=1, whole=2)
    none = run_figures(ops, _results([]))
    assert none.not_ok_in_fault.value is None and none.not_ok_outside == Share(part=1, whole=2)
    assert fault_windows([_fault(1, None), {"kind": "kill"}, "junk", {"start_ns": True}]) == (
        FaultWindow(kind="partition", start_ns=MS, end_ns=None),)


def test_latency_is_of_ok_ops_only_reads_apart_from_everything_else() -> None:
    ops = _history(
        (0, "read", 0, 10, "ok"), (1, "read", 0, 20, "ok"), (2, "read", 0, 30, "ok"), (3, "read", 0, 1000, "fail"),
        (4, "write", 0, 5, "ok"), (5, "add", 0, 7, "ok"), (6, "cas", 0, 9000, "info"),
    )
    fig = run_figures(ops, _results())
    assert sorted(fig.read_latency_ms) == [10.0, 20.0, 30.0]
    assert sorted(fig.write_latency_ms) == [5.0, 7.0]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(x) for x in range(100, 0, -1)]  # 1..100, unsorted
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.99) == 99.0 and percentile(values, 1) == 100.0
    assert percentile([3.0], 0.99) == 3.0 and percentile([1.0, 2.0], 0.5) == 1.0
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError):
        percentile([1.0], 0)


def test_anomalies_per_thousand_ops_over_a_rows_runs_and_the_verdict_counts() -> None:
    ops_a = _history(*[(p, "write", p, p + 1, "ok") for p in range(1000)])
    ops_b = _history(*[(p, "read", p, p + 2, "ok") for p in range(500)])
    a = run_figures(ops_a, _results(anomalies={"linearizability": ["nonlinearizable", "nonlinearizable"],
                                               "set": ["lost"]}, valid=False))
    b = run_figures(ops_b, _results(anomalies={"linearizability": []}))
    c = run_figures((), _results(valid="unknown"))
    d = run_figures((), _results(status="interrupted"))
    e = run_figures((), {}, verdict="error")
    assert (a.verdict, b.verdict, c.verdict, d.verdict, e.verdict) == ("invalid", "valid", "unknown", "error", "error")
    assert a.anomalies == 3 and a.anomaly_kinds == {"nonlinearizable": 2, "lost": 1}
    row = row_figures("W=1, R=1", "weak", [a, b, c, d, e])
    assert (row.runs, row.anomalous, row.unknown, row.errors) == (5, 1, 1, 2)
    assert row.ops == 1500 and row.anomalies == 3 and row.per_1k_ops == pytest.approx(2.0)
    assert row.write_p50_ms == 1.0 and row.read_p99_ms == 2.0
    doc = row.to_json()
    assert doc["anomalies_per_1k_ops"] == pytest.approx(2.0) and doc["anomaly_kinds"]["lost"] == 1
    assert row_figures("empty", "", [e]).per_1k_ops is None


def test_an_anomaly_kind_carries_the_pattern_its_checker_named() -> None:
    results = _results(anomalies={"linearizability": ["nonlinearizable", "nonlinearizable"]}, valid=False)
    results["checkers"]["linearizability"]["anomalies"][0]["data"] = {"cause": {"label": "stale read"}}
    results["checkers"]["linearizability"]["anomalies"][1]["data"] = {"cause": "not a mapping"}
    assert run_figures((), results).anomaly_kinds == {"nonlinearizable (stale read)": 1, "nonlinearizable": 1}


def test_rows_group_runs_in_the_order_rows_first_appear_with_the_first_claim() -> None:
    fig = run_figures(_history((0, "read", 0, 4, "ok")), _results())
    rows = sweep_rows([("b", "claim b", fig), ("a", "claim a", fig), ("b", "other", fig)])
    assert [(r.row, r.claim, r.runs) for r in rows] == [("b", "claim b", 2), ("a", "claim a", 1)]
    assert rows[0].read_p50_ms == 4.0


def test_a_checker_that_lists_only_the_first_anomalies_is_counted_by_its_stats_and_children_once() -> None:
    lost = [{"kind": "lost", "summary": f"element {i} lost"} for i in range(8)]
    leaf = {"valid": False, "anomalies": lost, "stats": {"lost_count": 35, "never_read_count": 60,
                                                       "stale_count": 4}}
    results = {"valid": False, "status": "done", "checkers": {
        "set:0": leaf,
        "set": {"valid": False, "anomalies": lost + lost, "children": {"a": leaf, "b": {
            "valid": False, "anomalies": lost[:2], "stats": {"lost_count": True}}}},
    }}
    # set:0: 35 lost (the 8 listed topped up; stale is not listed, never_read is no anomaly kind);
    # the composed set: its children, 35 + 2, not its own list of their anomalies
    assert run_figures((), results).anomaly_kinds == {"lost": 35 + 35 + 2}
