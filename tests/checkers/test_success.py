"""``RequireSuccess``: a history with no ok operation is unknown, with the reason, never valid."""

from __future__ import annotations

from dataclasses import dataclass

from checkers.api import CheckResult, Verdict
from checkers.success import RequireSuccess, no_success_reason
from harness.history import History, Op


@dataclass(frozen=True)
class Says:
    verdict: Verdict
    name: str = "fixed"

    def check(self, history: History) -> CheckResult:
        return CheckResult(checker=self.name, verdict=self.verdict)


def _history(*outcomes: str) -> History:
    ops, i = [], 0
    for p, t in enumerate(outcomes):
        ops.append(Op(index=i, type="invoke", process=p, f="write", value=[0, p]))
        i += 1
        if t != "open":
            ops.append(Op(index=i, type=t, process=p, f="write", value=[0, p]))
            i += 1
    return History.of(ops)


def test_valid_with_no_ok_becomes_unknown_with_the_counts() -> None:
    r = RequireSuccess(checker=Says(Verdict.VALID)).check(_history("fail", "info", "open"))
    assert r.verdict is Verdict.UNKNOWN and r.checker == "fixed"
    assert r.error is not None and "no operation succeeded: 3 invoked, 1 failed, 2 indeterminate" in r.error


def test_an_empty_history_is_unknown_too() -> None:
    r = RequireSuccess(checker=Says(Verdict.VALID)).check(_history())
    assert r.verdict is Verdict.UNKNOWN and "no client operation was invoked" in str(r.error)


def test_one_ok_keeps_the_verdict_and_invalid_is_never_softened() -> None:
    assert RequireSuccess(checker=Says(Verdict.VALID)).check(_history("fail", "ok")).verdict is Verdict.VALID
    assert RequireSuccess(checker=Says(Verdict.INVALID)).check(_history("fail")).verdict is Verdict.INVALID
    assert no_success_reason(_history("ok")) is None


def test_a_crashing_checker_is_still_unknown_with_its_own_error() -> None:
    class Crash:
        name = "crash"

        def check(self, history: History) -> CheckResult:
            raise RuntimeError("boom")

    r = RequireSuccess(checker=Crash()).check(_history("ok"))
    assert r.verdict is Verdict.UNKNOWN and "boom" in str(r.error)
