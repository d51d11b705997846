"""Elle's own list-append checker cases (jepsen-io/elle test/elle/list_append_test.clj), reproduced.

Elle's names map to ours: ``G-single-item`` is ``G-single``, ``G-nonadjacent-item-process`` is
``G-nonadjacent-process``. Elle builds most of these from completions alone; here each
transaction gets its invocation, all on their own processes and overlapping (``concurrent``)
unless the case is about process or real-time order.
"""

from __future__ import annotations

from typing import Any

from checkers.api import Verdict
from checkers.elle import ListAppend
from harness.history import History
from tests.support.txn_histories import TxnLog, concurrent


def op(text: str) -> list[list[Any]]:
    """Elle's test notation: ``ax1`` appends 1 to x, ``ry12`` reads y = [1 2], ``rx`` reads x = []."""
    mops: list[list[Any]] = []
    i = 0
    while i < len(text):
        f, k = text[i], text[i + 1]
        i += 2
        digits = ""
        while i < len(text) and text[i].isdigit():
            digits += text[i]
            i += 1
        if f == "a":
            mops.append(["append", k, int(digits)])
        else:
            mops.append(["r", k, [int(c) for c in digits]])
    return mops


def check(h: History, *models: str) -> tuple[Verdict, list[str], list[str]]:
    r = ListAppend(models=models).check(h)
    return r.verdict, sorted(r.stats["counts"]), r.stats["violates"]


def test_g0() -> None:
    h = concurrent(op("ax1ay1"), op("ax2ay2"), op("rx12ry21"))
    assert check(h, "read-uncommitted") == (Verdict.INVALID, ["G0"], ["read-uncommitted"])


def test_g1a() -> None:
    h = concurrent(op("ax1"), op("rx1"), fail=[0])
    assert check(h, "read-uncommitted")[0] is Verdict.VALID        # read-uncommitted allows it
    assert check(h, "read-committed") == (Verdict.INVALID, ["G1a"], ["read-committed"])
    assert check(h, "repeatable-read")[:2] == (Verdict.INVALID, ["G1a"])


def test_g1b_is_also_g_single() -> None:
    h = TxnLog().txn(0, op("ax1ax2")).txn(1, op("rx1")).history()
    verdict, kinds, _ = check(h, "serializable")
    assert verdict is Verdict.INVALID and kinds == ["G-single", "G1b"]
    res = ListAppend(models=["serializable"]).check(h)
    (cyc,) = [a for a in res.anomalies if a.kind == "G-single"]
    assert sorted(s["type"] for s in cyc.data["steps"]) == ["rw", "wr"]


def test_g1c() -> None:
    h = concurrent(op("ax1ry1"), op("ax2ay1"), op("rx12ry1"))
    assert check(h, "read-committed") == (Verdict.INVALID, ["G1c"], ["read-committed"])


def test_g_single() -> None:
    h = concurrent(op("ax1ay1"), op("ax2ry"), op("rx12"))
    assert check(h, "read-committed")[0] is Verdict.VALID
    assert check(h, "serializable") == (Verdict.INVALID, ["G-single"], ["snapshot-isolation", "repeatable-read"])


def test_g2_item() -> None:
    h = concurrent(op("ax1ry"), op("ay1rx"))
    assert check(h, "read-committed")[0] is Verdict.VALID
    assert check(h, "serializable") == (Verdict.INVALID, ["G2-item"], ["repeatable-read"])
    assert check(h, "repeatable-read")[:2] == (Verdict.INVALID, ["G2-item"])


def _four(read_process: int) -> History:
    return (TxnLog().txn(0, op("ax1")).txn(1, op("ax2")).txn(read_process, op("rx1")).txn(3, op("rx12"))
            .history())


def test_strong_si_violation() -> None:
    h = _four(read_process=2)
    assert check(h, "serializable")[0] is Verdict.VALID
    assert check(h, "strict-serializable") == (Verdict.INVALID, ["G-single-realtime"],
                                               ["strong-snapshot-isolation"])


def test_strong_session_si_violation() -> None:
    h = _four(read_process=1)
    assert check(h, "serializable")[0] is Verdict.VALID
    assert check(h, "strong-session-snapshot-isolation") == (Verdict.INVALID, ["G-single-process"],
                                                             ["strong-session-snapshot-isolation"])


def test_g_nonadjacent_process() -> None:
    # elle issue 17: t0 saw t3's z but not t1's x; t2 (after t1 on p1) did not see t3's z.
    log = TxnLog().txn(0, [["r", "x", []], ["r", "z", [1]]]).txn(1, op("ax1")).txn(1, [["r", "z", []]])
    h = log.txn(2, op("az1")).history()
    assert check(h, "serializable")[0] is Verdict.VALID
    verdict, kinds, violates = check(h, "strong-session-snapshot-isolation")
    assert verdict is Verdict.INVALID and "G-nonadjacent-process" in kinds
    assert violates == ["strong-session-snapshot-isolation"]


def test_contradictory_read_orders() -> None:
    h = concurrent(op("ax1ry1"), op("ax2"), op("ax3ay1"), op("rx13"), op("rx123"))
    verdict, kinds, violates = check(h, "serializable")
    assert verdict is Verdict.INVALID and kinds == ["G1c", "incompatible-order"]
    assert violates == ["read-committed"]
