"""Jepsen's own set and set-full test cases (jepsen/test/jepsen/checker_test.clj), reproduced.

Histories are built the way Jepsen's ``history`` helper builds them: each op
1 ms after the previous one, so latencies in ms equal differences of position.
"""

from __future__ import annotations

from typing import Any

import pytest

from checkers.api import Verdict
from checkers.sets import Set, SetFull
from harness.history import History, Op


def inv(p: int, f: str, v: Any) -> tuple[int, str, str, Any]:
    return (p, "invoke", f, v)


def ok(p: int, f: str, v: Any) -> tuple[int, str, str, Any]:
    return (p, "ok", f, v)


def history(events: list[tuple[int, str, str, Any]]) -> History:
    return History.of(Op(index=i, time=i * 1_000_000, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
                      for i, (p, t, f, v) in enumerate(events))


def test_set_reports_lost_unexpected_and_recovered_like_jepsen() -> None:
    h = history([inv(0, "add", 0), ok(0, "add", 0), inv(0, "add", 1), ok(0, "add", 1),
                 inv(1, "add", 10), (1, "info", "add", 10), inv(1, "add", 11), (1, "info", "add", 11),
                 inv(2, "add", 20), (2, "fail", "add", 20), inv(2, "add", 21), (2, "fail", "add", 21),
                 inv(4, "read", None), ok(4, "read", [0, 10, 20, 30])])
    r = Set().check(h)
    assert r.verdict is Verdict.INVALID
    s = r.stats
    assert (s["ok"], s["lost"], s["recovered"], s["unexpected"]) == ([0, 10, 20], [1], [10, 20], [30])
    assert (s["attempt_count"], s["acknowledged_count"], s["ok_count"]) == (6, 2, 3)
    assert {a.kind for a in r.anomalies} == {"lost", "unexpected"}


def test_set_never_read_is_unknown() -> None:
    assert Set().check(history([inv(0, "add", 0), ok(0, "add", 0)])).verdict is Verdict.UNKNOWN


def _full(events: list[tuple[int, str, str, Any]]) -> tuple[Verdict, dict[str, Any]]:
    r = SetFull().check(history(events))
    return r.verdict, dict(r.stats)


A, A_ = inv(0, "add", 0), ok(0, "add", 0)
R, R_PLUS, R_MINUS = inv(1, "read", None), ok(1, "read", [0]), ok(1, "read", [])
Q = {"0": 0, "0.5": 0, "0.95": 0, "0.99": 0, "1": 0}


def test_set_full_never_read() -> None:
    v, s = _full([A, A_])
    assert v is Verdict.UNKNOWN
    assert (s["never_read"], s["lost"], s["stale"], s["stable_count"]) == ([0], [], [], 0)


def test_set_full_never_confirmed_never_read() -> None:
    v, s = _full([A, R, R_MINUS])
    assert v is Verdict.UNKNOWN and s["never_read"] == [0]


@pytest.mark.parametrize("events", [[R, A, R_PLUS, A_], [R, A, A_, R_PLUS], [A, R, R_PLUS, A_],
                                    [A, R, A_, R_PLUS], [A, A_, R, R_PLUS]],
                         ids=["concurrent-before", "outside", "inside", "after", "subsequent"])
def test_set_full_successful_read_concurrently_or_after(events: list[Any]) -> None:
    v, s = _full(events)
    assert v is Verdict.VALID
    assert (s["stable_count"], s["lost"], s["never_read"], s["stale"]) == (1, [], [], [])
    assert s["stable_latencies"] == Q


def test_set_full_absent_read_after_is_lost() -> None:
    v, s = _full([A, A_, R, R_MINUS])
    assert v is Verdict.INVALID
    assert (s["lost"], s["never_read"], s["stable_count"]) == ([0], [], 0)
    assert s["lost_latencies"] == Q


@pytest.mark.parametrize("events", [[R, A, R_MINUS, A_], [R, A, A_, R_MINUS], [A, R, R_MINUS, A_],
                                    [A, R, A_, R_MINUS]])
def test_set_full_absent_read_concurrently_is_never_read(events: list[Any]) -> None:
    v, s = _full(events)
    assert v is Verdict.UNKNOWN
    assert (s["lost"], s["never_read"]) == ([], [0])


A0, A0_, A1, A1_ = inv(0, "add", 0), ok(0, "add", 0), inv(1, "add", 1), ok(1, "add", 1)
R2, R3 = inv(2, "read", None), inv(3, "read", None)


def test_set_full_write_present_missing() -> None:
    v, s = _full([A0, A1, R2, ok(2, "read", [1]), A0_, A1_, R2, ok(2, "read", [0, 1]), R2, ok(2, "read", [0]),
                  R2, ok(2, "read", [])])
    assert v is Verdict.INVALID
    assert (s["lost"], s["stale"], s["stable_count"]) == ([0, 1], [], 0)
    assert s["lost_latencies"] == {"0": 3, "0.5": 4, "0.95": 4, "0.99": 4, "1": 4}


def test_set_full_write_flutter_stable_and_lost() -> None:
    v, s = _full([A0, A0_, A1, R2, ok(2, "read", [1]), A1_, R2, R3, ok(3, "read", [1]), ok(2, "read", [0])])
    assert v is Verdict.INVALID
    assert (s["lost"], s["stale"], s["stable_count"]) == ([0], [1], 1)
    assert s["lost_latencies"] == {"0": 5, "0.5": 5, "0.95": 5, "0.99": 5, "1": 5}
    assert s["stable_latencies"] == {"0": 2, "0.5": 2, "0.95": 2, "0.99": 2, "1": 2}
    worst = s["worst_stale"][0]
    assert (worst["element"], worst["outcome"], worst["stable_latency"]) == (1, "stable", 2)
    assert (worst["known"]["index"], worst["last_absent"]["index"]) == (4, 6)


def test_set_full_linearizable_stale_is_invalid_and_duplicates_and_unknown_elements_count() -> None:
    events = [A0, A0_, A1, R2, ok(2, "read", [1]), A1_, R2, R3, ok(3, "read", [1]), ok(2, "read", [0])]
    r = SetFull(linearizable=True).check(history(events))
    assert "stale" in {a.kind for a in r.anomalies}
    v, s = _full([A, A_, R, ok(1, "read", [0, 0, 7])])
    assert v is Verdict.INVALID and s["duplicated"] == {0: 2} and s["unexpected"] == [7]
    v, s = _full([A, A_, R, ok(1, "read", [0])])
    assert v is Verdict.VALID
