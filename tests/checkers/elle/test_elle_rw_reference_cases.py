"""Elle's own rw-register cases (jepsen-io/elle test/elle/rw_register_test.clj), reproduced.

Where Elle's test documents a known miss ("TODO: this represents a bug"), we check that we
do flag it.
"""

from __future__ import annotations

from typing import Any

from checkers.api import Verdict
from checkers.elle import RWRegister
from harness.history import History
from tests.support.txn_histories import TxnLog, concurrent


def op(text: str) -> list[list[Any]]:
    """``wx1`` writes x = 1, ``ry2`` reads y = 2, ``rx_`` reads x = nil."""
    return [[text[i], text[i + 1], None if text[i + 2] == "_" else int(text[i + 2])]
            for i in range(0, len(text), 3)]


def kinds(h: History, **kw: Any) -> set[str]:
    return set(RWRegister(**kw).check(h).stats["counts"])


def test_internal_cases() -> None:
    assert "internal" not in kinds(concurrent(op("wy2"), op("ry2wx2rx2wx1rx1")))
    assert "internal" in kinds(concurrent(op("wx1"), op("rx1wx2rx1")))


def test_g1a_and_g1b_cases() -> None:
    assert "G1a" in kinds(concurrent(op("rx2"), op("wx2"), fail=[1]))
    assert kinds(concurrent(op("wx1"), op("rx1"))) == set()
    assert "G1b" in kinds(concurrent(op("rx2"), op("wx2wx1")))
    assert "G1b" not in kinds(concurrent(op("wx1wx2"), op("rx_rx2")))


def test_a_read_of_a_value_nobody_wrote_is_flagged() -> None:
    # Elle's test keeps this valid and marks it as a known bug; we report it.
    h = TxnLog().txn(0, op("wx1")).txn(1, op("rx2")).history()
    res = RWRegister(models=["strict-serializable"], linearizable_keys=True).check(h)
    assert res.verdict is Verdict.INVALID and res.stats["anomaly_types"] == ["never-written"]


def test_read_read_with_linearizable_keys_is_cyclic_versions() -> None:
    h = TxnLog().txn(0, [["w", "x", 1]]).txn(1, [["w", "x", 2]]).txn(2, op("rx1")).history()
    # (Elle's case reads 2 with no writer; here 2 is written, so only the version cycle remains.)
    res = RWRegister(models=["strict-serializable"], linearizable_keys=True).check(h)
    assert res.stats["anomaly_types"] == ["cyclic-versions"]


def test_g0_needs_sequential_keys() -> None:
    t1, t2 = op("wx1wy2"), op("wx2wy1")
    assert kinds(concurrent(t1, t2), models=["read-uncommitted"]) == set()   # nothing orders the versions
    log = TxnLog().txn(0, t1).txn(1, t2).txn(0, op("rx2")).txn(1, op("ry2"))
    h = log.history()
    assert kinds(h, models=["read-uncommitted"]) == set()
    res = RWRegister(models=["read-uncommitted"], sequential_keys=True).check(h)
    assert res.stats["anomaly_types"] == ["G0"] and res.stats["violates"] == ["read-uncommitted"]
