"""List-append: each anomaly class found in a hand-built history, and not in a near-identical one.

Transactions of one pattern overlap (all invoked, then all completed) unless a
test is about real-time or process order, so only the data edges decide.
"""

from __future__ import annotations

from typing import Any

import pytest

from checkers.api import Verdict
from checkers.elle import ListAppend
from harness.history import History, HistoryError
from tests.support.txn_histories import TxnLog, assert_pair, concurrent

Mops = list[list[Any]]


def kinds(h: History, *models: str) -> set[str]:
    return set(ListAppend(models=models or ("strict-serializable",)).check(h).stats["counts"])


def ap(k: str, v: int) -> list[Any]:
    return ["append", k, v]


def r(k: str, v: list[int] | None) -> list[Any]:
    return ["r", k, v]


CASES: dict[str, tuple[list[Mops], list[Mops]]] = {
    # T1 and T2 both append to x and y; x shows T1 first, y shows T2 first.
    "G0": ([[ap("x", 1), ap("y", 1)], [ap("x", 2), ap("y", 2)], [r("x", [1, 2])], [r("y", [2, 1])]],
           [[ap("x", 1), ap("y", 1)], [ap("x", 2), ap("y", 2)], [r("x", [1, 2])], [r("y", [1, 2])]]),
    # Each reads the other's append.
    "G1c": ([[ap("x", 1), r("y", [1])], [ap("y", 1), r("x", [1])]],
            [[ap("x", 1), r("y", [1])], [ap("y", 1), r("x", [])]]),
    # T2 sees T1's x but not T1's y.
    "G-single": ([[ap("x", 1), ap("y", 1)], [r("x", [1]), r("y", [])], [r("y", [1])]],
                 [[ap("x", 1), ap("y", 1)], [r("x", [1]), r("y", [1])], [r("y", [1])]]),
    # T1 -rw-> T2 -wr-> T3 -rw-> T4 -wr-> T1: two anti-dependencies, never adjacent.
    "G-nonadjacent": ([[r("a", []), r("d", [1])], [ap("a", 1), ap("b", 1)], [r("b", [1]), r("c", [])],
                       [ap("c", 1), ap("d", 1)], [r("a", [1]), r("c", [1])]],
                      [[r("a", []), r("d", [])], [ap("a", 1), ap("b", 1)], [r("b", [1]), r("c", [])],
                       [ap("c", 1), ap("d", 1)], [r("a", [1]), r("c", [1]), r("d", [1])]]),
    # Write skew: each read the key the other appended to, empty.
    "G2-item": ([[r("x", []), ap("y", 1)], [r("y", []), ap("x", 1)], [r("x", [1]), r("y", [1])]],
                [[r("x", []), ap("y", 1)], [r("y", [1]), ap("x", 1)], [r("x", [1]), r("y", [1])]]),
    "internal": ([[ap("x", 1), r("x", [])]], [[ap("x", 1), r("x", [1])]]),
    # Both read x empty and appended: one of the two updates was not seen by the other.
    "lost-update": ([[r("x", []), ap("x", 1)], [r("x", []), ap("x", 2)], [r("x", [1, 2])]],
                    [[r("x", []), ap("x", 1)], [r("x", [1]), ap("x", 2)], [r("x", [1, 2])]]),
    "incompatible-order": ([[ap("x", 1)], [ap("x", 2)], [r("x", [1, 2])], [r("x", [2])]],
                           [[ap("x", 1)], [ap("x", 2)], [r("x", [1, 2])], [r("x", [1])]]),
    "duplicate-elements": ([[ap("x", 1)], [r("x", [1, 1])]], [[ap("x", 1)], [r("x", [1])]]),
    "never-written": ([[ap("x", 1)], [r("x", [1, 9])]], [[ap("x", 1)], [r("x", [1])]]),
    # T2 reads its own append of 1, which it makes only later.
    "future-read": ([[ap("x", 0)], [r("x", [0, 1]), ap("x", 1)]], [[ap("x", 0)], [r("x", [0]), ap("x", 1)]]),
    # T2 reads T1's first append to x, which T1 followed with a second one.
    "G1b": ([[ap("x", 1), ap("x", 2)], [r("x", [1])], [r("x", [1, 2])]],
            [[ap("x", 1), ap("x", 2)], [r("x", [1, 2])], [r("x", [1, 2])]]),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_found_and_not_found(kind: str) -> None:
    assert_pair(ListAppend(), kind, *CASES[kind])


def test_g1a_aborted_read_and_its_committed_twin() -> None:
    assert "G1a" in kinds(concurrent([ap("x", 1)], [r("x", [1])], fail=[0]))
    assert kinds(concurrent([ap("x", 1)], [r("x", [1])])) == set()
    # An info append may have committed: reading it is fine.
    assert kinds(concurrent([ap("x", 1)], [r("x", [1])], info=[0])) == set()


def test_dirty_update_builds_on_an_aborted_append() -> None:
    bad = kinds(concurrent([ap("x", 1)], [ap("x", 2)], [r("x", [1, 2])], fail=[0]))
    assert {"dirty-update", "G1a"} <= bad
    assert kinds(concurrent([ap("x", 1)], [ap("x", 2)], [r("x", [1, 2])])) == set()


def test_internal_with_unknown_prefix_checks_the_suffix() -> None:
    assert kinds(concurrent([ap("x", 1)], [ap("x", 3), r("x", [1, 3])])) == set()
    assert "internal" in kinds(concurrent([ap("x", 1)], [ap("x", 3), r("x", [3, 1])]))


def _sequential(*txns: tuple[int, Mops]) -> History:
    log = TxnLog()
    for p, mops in txns:
        log.txn(p, mops)
    return log.history()


def test_g_single_realtime_is_a_stale_read() -> None:
    stale = _sequential((0, [ap("x", 1)]), (1, [r("x", [])]), (2, [r("x", [1])]))
    assert kinds(stale) == {"G-single-realtime"}
    assert ListAppend(models=["serializable"]).check(stale).verdict is Verdict.VALID
    res = ListAppend().check(stale)
    assert res.verdict is Verdict.INVALID
    assert res.stats["violates"] == ["strong-snapshot-isolation"]
    assert "strong-session-serializable" in res.stats["satisfies"]
    # The same reads, but the read overlaps the append: no real-time order, valid.
    log = TxnLog().invoke(0, [ap("x", 1)]).invoke(1, [r("x", [])]).complete(0).complete(1)
    log.txn(2, [r("x", [1])])
    assert ListAppend().check(log.history()).verdict is Verdict.VALID


def test_g_single_process_when_only_sessions_are_assumed() -> None:
    same = _sequential((0, [ap("x", 1)]), (0, [r("x", [])]), (2, [r("x", [1])]))
    assert kinds(same, "strong-session-snapshot-isolation") == {"G-single-process"}
    other = _sequential((0, [ap("x", 1)]), (1, [r("x", [])]), (2, [r("x", [1])]))
    assert kinds(other, "strong-session-snapshot-isolation") == set()


def test_g0_realtime_and_g1c_realtime() -> None:
    h = _sequential((0, [ap("x", 1)]), (1, [ap("x", 2)]), (2, [r("x", [2, 1])]))
    assert kinds(h) == {"G0-realtime"}
    assert kinds(_sequential((0, [ap("x", 1)]), (1, [ap("x", 2)]), (2, [r("x", [1, 2])]))) == set()
    h = _sequential((0, [r("y", [1])]), (1, [ap("y", 1)]))   # read the future's append
    assert kinds(h) == {"G1c-realtime"}


def test_explanation_names_each_edge_in_prose() -> None:
    bad = CASES["G-single"][0]
    res = ListAppend().check(concurrent(*bad))
    (a,) = [x for x in res.anomalies if x.kind == "G-single"]
    assert [s["type"] for s in a.data["steps"]] == ["wr", "rw"]
    text = a.data["text"]
    assert "T2 observed T1's append of 1 to key :x" in text
    assert "T2 read key :y as the empty (initial) state, without T1's append of 1" in text
    assert text.rstrip().endswith("a contradiction!")
    assert a.ops == (0, 1)


def test_same_element_appended_twice_is_bad_input_with_its_line() -> None:
    log = TxnLog().txn(0, [ap("x", 1)]).txn(1, [ap("x", 1)])
    h = History.of(log.ops, source="h.edn", lines=[10, 11, 12, 13])
    with pytest.raises(HistoryError, match=r"h.edn:13: element 1 appended to key :x twice"):
        ListAppend().check(h)


def test_a_bad_micro_op_is_bad_input() -> None:
    log = TxnLog().txn(0, [["write", "x", 1]])
    with pytest.raises(HistoryError, match="bad micro-op"):
        ListAppend().check(log.history())


def test_timeout_makes_the_verdict_unknown_not_valid() -> None:
    bad = CASES["G-single"][0]     # a cycle exists, but there is no time to look for it
    res = ListAppend(timeout_s=1e-9).check(concurrent(*bad))
    assert res.verdict is Verdict.UNKNOWN
    assert "not searched for" in (res.error or "")
    assert res.stats["not_searched"]


def test_g0_process_and_g1c_process() -> None:
    session = "strong-session-snapshot-isolation"
    h = TxnLog().txn(0, [ap("x", 1)]).txn(0, [ap("x", 2)]).txn(1, [r("x", [2, 1])]).history()
    assert kinds(h, session) == {"G0-process"}
    h = TxnLog().txn(0, [ap("x", 1)]).txn(1, [ap("x", 2)]).invoke(2, [r("x", [2, 1])]).complete(2).history()
    assert kinds(h, session) == set()            # other processes: no session order
    future = TxnLog().txn(0, [ap("x", 1), r("y", [1])]).txn(0, [ap("y", 1)]).history()
    assert kinds(future, session) == {"G1c-process"}
    assert kinds(TxnLog().txn(0, [ap("x", 1), r("y", [])]).txn(0, [ap("y", 1)]).history(), session) == set()


def test_g2_item_realtime_needs_the_real_time_edge() -> None:
    # T1 -rw-> T2 -rw-> T3 -rt-> T1: T3 finished before T1 began.
    def h(t1_after_t3: bool) -> History:
        log = TxnLog().invoke(2, [r("z", []), ap("w", 1)])
        if t1_after_t3:
            log.txn(3, [ap("z", 1)]).txn(1, [r("w", [])])
        else:
            log.invoke(3, [ap("z", 1)]).invoke(1, [r("w", [])]).complete(3).complete(1)
        return log.complete(2).txn(4, [r("z", [1]), r("w", [1])]).history()

    assert kinds(h(True)) == {"G2-item-realtime"}
    assert kinds(h(False)) == set()


def test_g_nonadjacent_realtime() -> None:
    # T1 -rw-> T2 -rt-> T3 -rw-> T4 -rt-> T1
    def h(stale: bool) -> History:
        log = TxnLog().invoke(4, [ap("b", 1)]).invoke(2, [ap("a", 1)]).complete(4)
        log.invoke(1, [r("a", [])]).complete(2)
        log.txn(3, [r("b", [] if stale else [1])]).complete(1)
        return log.txn(5, [r("a", [1]), r("b", [1])]).history()

    assert {"G-nonadjacent-realtime", "G-single-realtime"} <= kinds(h(True))
    assert kinds(h(False)) == set()


def test_unread_appends_come_after_everything_read() -> None:
    # A stale read with no later read to place the append: it still came after the empty state.
    stale = _sequential((0, [ap("x", 1)]), (1, [r("x", [])]))
    assert kinds(stale) == {"G-single-realtime"}
    res = ListAppend().check(stale)
    (a,) = res.anomalies
    assert "which no read ever saw and so came later" in a.data["text"]
    log = TxnLog().invoke(0, [ap("x", 1)]).invoke(1, [r("x", [])]).complete(0).complete(1)
    assert kinds(log.history()) == set()
    # Several unread appends: each came after what was read, and after the last element read.
    h = _sequential((0, [ap("x", 1)]), (1, [r("x", [1])]), (2, [ap("x", 2)]), (3, [ap("x", 3)]),
                    (4, [r("x", [1])]))
    assert kinds(h) == {"G-single-realtime"}
    assert ListAppend(models=["serializable"]).check(h).verdict is Verdict.VALID


def test_nothing_committed_is_unknown_not_valid() -> None:
    res = ListAppend().check(concurrent([ap("x", 1)], [r("x", [])], fail=[0, 1]))
    assert res.verdict is Verdict.UNKNOWN and "nothing to check" in (res.error or "")
    assert ListAppend().check(History.of([])).verdict is Verdict.UNKNOWN
