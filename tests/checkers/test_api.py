"""The checker API: three-valued verdicts, crash safety, composition."""

from __future__ import annotations

import itertools

import pytest

from checkers.api import Anomaly, CheckResult, Compose, Verdict, check_safe
from harness.history import History, Op


def _history() -> History:
    return History.of([
        Op(index=0, type="invoke", process=0, f="read"),
        Op(index=1, type="ok", process=0, f="read", value=1),
    ])


class _Fixed:
    def __init__(self, name: str, verdict: Verdict):
        self.name, self.verdict = name, verdict

    def check(self, history: History) -> CheckResult:
        anomalies = (Anomaly(kind="k", summary=f"{self.name} says no", ops=(1,)),) if self.verdict is Verdict.INVALID else ()
        return CheckResult(checker=self.name, verdict=self.verdict, anomalies=anomalies)


class _Crash:
    name = "crash"

    def check(self, history: History) -> CheckResult:
        raise ZeroDivisionError("boom")


@pytest.mark.parametrize("a,b", list(itertools.product(list(Verdict), repeat=2)))
def test_merge_is_commutative_and_keeps_the_worst(a: Verdict, b: Verdict) -> None:
    assert a.merge(b) is b.merge(a)
    assert a.merge(b).priority == max(a.priority, b.priority)


def test_merge_order_is_invalid_then_unknown_then_valid() -> None:
    assert Verdict.all_of([Verdict.VALID, Verdict.UNKNOWN]) is Verdict.UNKNOWN
    assert Verdict.all_of([Verdict.UNKNOWN, Verdict.INVALID, Verdict.VALID]) is Verdict.INVALID
    assert Verdict.all_of([]) is Verdict.VALID


def test_json_encoding_is_jepsens() -> None:
    assert [v.to_json() for v in Verdict] == [True, "unknown", False]
    for v in Verdict:
        assert Verdict.from_json(v.to_json()) is v


def test_a_crashing_checker_yields_unknown_with_the_error() -> None:
    r = check_safe(_Crash(), _history())
    assert r.verdict is Verdict.UNKNOWN
    assert "ZeroDivisionError: boom" in (r.error or "")


def test_compose_merges_and_keeps_each_result_by_name() -> None:
    c = Compose(checkers={"a": _Fixed("a", Verdict.VALID), "b": _Crash(), "c": _Fixed("c", Verdict.INVALID)})
    r = c.check(_history())
    assert r.verdict is Verdict.INVALID
    assert set(r.children) == {"a", "b", "c"}
    assert r.children["b"].verdict is Verdict.UNKNOWN
    assert [a.summary for a in r.anomalies] == ["c says no"]


def test_result_round_trips_through_json() -> None:
    r = Compose(checkers={"x": _Fixed("x", Verdict.INVALID)}).check(_history())
    assert CheckResult.from_json(r.to_json()) == r
