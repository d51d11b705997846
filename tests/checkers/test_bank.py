"""The bank checker: totals conserved, no negative balances, no unknown accounts."""

from __future__ import annotations

from typing import Any

from checkers.api import Verdict
from checkers.bank import Bank
from harness.history import History, Op


def reads(*values: Any) -> History:
    ops = []
    for i, v in enumerate(values):
        ops += [Op(index=2 * i, process=0, type="invoke", f="read", value=None),
                Op(index=2 * i + 1, process=0, type="ok", f="read", value=v)]
    ops += [Op(index=len(ops), process=1, type="invoke", f="transfer", value={"from": 0, "to": 1, "amount": 5}),
            Op(index=len(ops) + 1, process=1, type="info", f="transfer", value=None)]
    return History.of(ops)


def test_conserved_totals_are_valid() -> None:
    r = Bank(total=20, accounts=[0, 1]).check(reads({"0": 10, "1": 10}, {"0": 5, "1": 15}))
    assert r.verdict is Verdict.VALID and r.stats["reads"] == 2


def test_wrong_total_negative_unknown_account_and_nil_balance_are_each_found() -> None:
    r = Bank(total=20, accounts=[0, 1]).check(reads({"0": 10, "1": 11}))
    assert r.verdict is Verdict.INVALID and [a.kind for a in r.anomalies] == ["wrong-total"]
    assert "sums to 21, not 20" in r.anomalies[0].summary
    r = Bank(total=20, accounts=[0, 1]).check(reads({"0": -5, "1": 25}))
    assert [a.kind for a in r.anomalies] == ["negative-value"]
    assert Bank(total=20, accounts=[0, 1], negative_balances=True).check(reads({"0": -5, "1": 25})).verdict \
        is Verdict.VALID
    r = Bank(total=20, accounts=[0, 1]).check(reads({"0": 10, "1": 5, "2": 5}))
    assert [a.kind for a in r.anomalies] == ["unexpected-key"]
    r = Bank(total=20).check(reads({"0": 10, "1": None}))
    assert [a.kind for a in r.anomalies] == ["nil-balance"]


def test_total_defaults_to_the_first_read() -> None:
    assert Bank().check(reads({"0": 7, "1": 3}, {"0": 2, "1": 8})).verdict is Verdict.VALID
    assert Bank().check(reads({"0": 7, "1": 3}, {"0": 2, "1": 9})).verdict is Verdict.INVALID
    assert Bank().check(History.of([])).verdict is Verdict.UNKNOWN
