"""An anomaly on a register read names the operations that wrote the value read."""

from __future__ import annotations

from checkers.api import Verdict
from checkers.linearizability import Linearizability
from harness.history import History, Op


def _h(events: list[tuple[int, str, str, object]]) -> History:
    return History.of(Op(index=i, process=p, type=t, f=f, value=v) for i, (p, t, f, v) in enumerate(events))


def test_a_read_of_a_failed_write_names_that_write_and_says_it_failed() -> None:
    h = _h([
        (0, "invoke", "write", [7, 1]), (0, "ok", "write", [7, 1]),
        (1, "invoke", "write", [7, 2]), (1, "fail", "write", [7, 2]),
        (2, "invoke", "read", [7, None]), (2, "ok", "read", [7, 2]),
    ])
    r = Linearizability(model="register", independent=True).check(h)
    assert r.verdict is Verdict.INVALID
    (a,) = r.anomalies
    assert [(w["process"], w["type"], w["invoke_index"]) for w in a.data["writers"]] == [(1, "fail", 2)]
    assert "reported fail" in a.summary and "(p1)" in a.summary
    assert 2 in a.ops  # the failed write is among the ops the anomaly names


def test_a_read_of_a_value_nobody_wrote_says_so() -> None:
    h = _h([
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", 5),
    ])
    (a,) = Linearizability(model="register").check(h).anomalies
    assert a.data["writers"] == []
    assert "no operation in the history wrote 5" in a.summary


def test_a_stale_read_lists_the_ok_writer_without_blaming_it() -> None:
    h = _h([
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        (0, "invoke", "write", 2), (0, "ok", "write", 2),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    ])
    (a,) = Linearizability(model="cas-register").check(h).anomalies
    assert [w["type"] for w in a.data["writers"]] == ["ok"]
    assert "reported fail" not in a.summary
