"""rw-register: each anomaly class found in a hand-built history, and not in a near-identical one."""

from __future__ import annotations

from typing import Any

import pytest

from checkers.api import Verdict
from checkers.elle import RWRegister
from harness.history import History, HistoryError
from tests.support.txn_histories import TxnLog, assert_pair, concurrent

Mops = list[list[Any]]


def kinds(h: History, **kw: Any) -> set[str]:
    return set(RWRegister(**kw).check(h).stats["counts"])


def w(k: str, v: int) -> list[Any]:
    return ["w", k, v]


def r(k: str, v: int | None) -> list[Any]:
    return ["r", k, v]


CASES: dict[str, tuple[list[Mops], list[Mops]]] = {
    "G1c": ([[w("x", 1), r("y", 1)], [w("y", 1), r("x", 1)]],
            [[w("x", 1), r("y", 1)], [w("y", 1), r("x", None)]]),
    # T2 sees T1's write of x but the initial y, though T1 wrote y too.
    "G-single": ([[w("x", 1), w("y", 1)], [r("x", 1), r("y", None)]],
                 [[w("x", 1), w("y", 1)], [r("x", 1), r("y", 1)]]),
    "G2-item": ([[r("x", None), r("y", None), w("x", 1)], [r("x", None), r("y", None), w("y", 1)]],
                [[r("x", None), r("y", None), w("x", 1)], [r("x", 1), r("y", None), w("y", 1)]]),
    "lost-update": ([[r("x", None), w("x", 1)], [r("x", None), w("x", 2)]],
                    [[r("x", None), w("x", 1)], [r("x", 1), w("x", 2)]]),
    "G1b": ([[w("x", 1), w("x", 2)], [r("x", 1)]], [[w("x", 1), w("x", 2)], [r("x", 2)]]),
    "internal": ([[w("x", 1), r("x", None)]], [[w("x", 1), r("x", 1)]]),
    "never-written": ([[w("x", 1)], [r("x", 7)]], [[w("x", 1)], [r("x", None)]]),
    "cyclic-versions": ([[r("x", 1), w("x", 2)], [r("x", 2), w("x", 1)]],
                        [[r("x", 1), w("x", 2)], [r("x", None), w("x", 1)]]),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_found_and_not_found(kind: str) -> None:
    assert_pair(RWRegister(), kind, *CASES[kind])


def test_g1a_read_of_a_failed_write() -> None:
    assert "G1a" in kinds(concurrent([w("x", 1)], [r("x", 1)], fail=[0]))
    assert kinds(concurrent([w("x", 1)], [r("x", 1)])) == set()
    # Every write of an aborted transaction is aborted, not only its last.
    assert "G1a" in kinds(concurrent([w("x", 1), w("x", 2)], [r("x", 1)], fail=[0]))


def test_write_skew_is_allowed_by_snapshot_isolation_but_not_serializability() -> None:
    bad = concurrent(*CASES["G2-item"][0])
    assert RWRegister(models=["snapshot-isolation"]).check(bad).verdict is Verdict.VALID
    res = RWRegister(models=["serializable"]).check(bad)
    assert res.verdict is Verdict.INVALID and res.stats["anomaly_types"] == ["G2-item"]
    assert "snapshot-isolation" in " ".join(res.stats["satisfies"])
    assert res.stats["violates"] == ["repeatable-read"]


def test_lost_update_is_proscribed_by_snapshot_isolation() -> None:
    res = RWRegister(models=["snapshot-isolation"]).check(concurrent(*CASES["lost-update"][0]))
    assert res.verdict is Verdict.INVALID and "lost-update" in res.stats["anomaly_types"]


def test_sequential_keys_orders_a_process_own_versions() -> None:
    # p0 writes x=1 then x=2; p1 reads 2 and later 1: only per-key process order shows the regression.
    log = TxnLog().txn(0, [w("x", 1)]).txn(0, [w("x", 2)])
    log.invoke(1, [r("x", 2)]).invoke(2, [r("x", 1)]).complete(1).complete(2)
    h = log.history()
    assert RWRegister(models=["serializable"]).check(h).verdict is Verdict.VALID
    res = RWRegister(models=["serializable"], sequential_keys=True).check(h)
    assert res.verdict is Verdict.VALID   # 1 < 2, and p2 read the older one: serializable still
    log2 = TxnLog().txn(0, [w("x", 1)]).txn(0, [w("x", 2), r("y", None)])
    log2.invoke(1, [w("y", 1), r("x", 1)]).complete(1)
    h2 = log2.history()
    assert RWRegister(models=["serializable"]).check(h2).verdict is Verdict.VALID
    res2 = RWRegister(models=["serializable"], sequential_keys=True).check(h2)
    assert res2.verdict is Verdict.INVALID, res2.stats


def test_linearizable_keys_orders_versions_by_real_time() -> None:
    def h(last_read: int) -> History:
        return TxnLog().txn(0, [w("x", 1)]).txn(1, [w("x", 2)]).txn(2, [r("x", last_read)]).history()

    assert RWRegister().check(h(1)).verdict is Verdict.VALID   # nothing orders 1 and 2
    res = RWRegister(linearizable_keys=True).check(h(1))
    assert res.verdict is Verdict.INVALID and "cyclic-versions" in res.stats["anomaly_types"]
    assert RWRegister(linearizable_keys=True).check(h(2)).verdict is Verdict.VALID


def test_explanation_gives_the_version_order_reason() -> None:
    res = RWRegister().check(concurrent(*CASES["G2-item"][0]))
    (a,) = [x for x in res.anomalies if x.kind == "G2-item"]
    assert "read the initial (nil) state of key :y, and T2 wrote the next version 1" in a.data["text"]
    assert [s["type"] for s in a.data["steps"]] == ["rw", "rw"]


def test_same_value_written_twice_is_bad_input() -> None:
    with pytest.raises(HistoryError, match="written to key :x twice"):
        RWRegister().check(concurrent([w("x", 1)], [w("x", 1)]))
