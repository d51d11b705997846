"""General multi-key transactions at a 2PC participant: sharding, key locks, staged writes, restarts.

The pure parts (:mod:`targets.two_pc.kv`) on their own, then a real
:class:`Participant` over real SQLite, its handlers called directly (no HTTP:
the protocol is the same, and each test stays well under a second).
"Restarting" builds a new participant on the same database, which is what a
kill does to a node's memory.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from harness.node.crashpoints import CrashPoints
from harness.node.http import HttpError
from targets.two_pc import kv
from targets.two_pc.participant import KINDS, Participant


def test_int_keys_shard_by_modulo_and_others_by_a_stable_hash() -> None:
    assert [kv.shard(k, KINDS) for k in range(4)] == ["order", "inventory", "payment", "order"]
    assert kv.shard("x", KINDS) == kv.shard("x", KINDS) and kv.shard("x", KINDS) in KINDS


def test_split_keeps_each_micro_ops_position_and_participant_order() -> None:
    mops = [["append", 2, 1], ["r", 0, None], ["append", 3, 2], ["r", 2, None]]
    assert kv.split(mops, KINDS) == {"order": [[1, "r", 0, None], [2, "append", 3, 2]],
                                    "payment": [[0, "append", 2, 1], [3, "r", 2, None]]}
    with pytest.raises(ValueError, match="micro-op 1"):
        kv.split([["r", 0, None], ["cas", 1, 2]], KINDS)
    with pytest.raises(ValueError, match="key"):
        kv.split([["r", [1], None]], KINDS)


def test_lock_modes_and_conflicts() -> None:
    m = kv.modes([[0, "r", 1, None], [1, "append", 2, 5], [2, "r", 2, None]])
    assert m == {"1": "S", "2": "X"}
    assert kv.conflict({"1": "S"}, [("t1", {"1": "S"})]) is None          # readers share
    assert kv.conflict({"1": "X"}, [("t1", {"1": "S"})]) == ("1", "t1")    # a writer waits for readers
    assert kv.conflict({"1": "S"}, [("t1", {"1": "X"})]) == ("1", "t1")    # and readers for a writer
    assert kv.conflict({"3": "X"}, [("t1", {"1": "X"})]) is None


def test_stage_reads_own_writes_in_order_and_merge_puts_reads_back() -> None:
    store = {'"a"': [1]}
    reads, writes = kv.stage([[0, "r", "a", None], [1, "append", "a", 2], [2, "r", "a", None],
                              [3, "w", "b", 7], [4, "r", "b", None]], store.get)
    assert reads == [[0, [1]], [2, [1, 2]], [4, 7]]
    assert writes == {'"a"': [1, 2], '"b"': 7}
    with pytest.raises(ValueError, match="not a list"):
        kv.stage([[0, "append", "b", 1]], {'"b"': 7}.get)
    assert kv.merge([["r", "a", None], ["append", "a", 2]], [[0, [1]]]) == [["r", "a", [1]], ["append", "a", 2]]


def participant(tmp_path: Path, variant: str, lock_wait: float = 0.0) -> Participant:
    crash = CrashPoints("", 0, str(tmp_path), "order")
    return Participant(kind="order", name="order", variant=variant, db_path=str(tmp_path / "order.db"),
                       initial={}, crash=crash, coordinator=None, timeout=0.5, lock_wait=lock_wait)


def vote(p: Participant, txn: str, *mops: list) -> dict:
    status, d = p.prepare({"txn": txn, "kv": [[i, *m] for i, m in enumerate(mops)]})
    assert status == 200
    return d


@pytest.mark.parametrize("variant", ["seed", "durable"])
def test_writes_are_staged_at_prepare_and_applied_only_at_commit(tmp_path: Path, variant: str) -> None:
    p = participant(tmp_path, variant)
    try:
        assert vote(p, "t1", ["append", 0, 1], ["r", 0, None]) == {"vote": "YES", "reads": [[1, [1]]]}
        assert p._value("0") is None                                   # staged, not applied
        assert vote(p, "t2", ["r", 0, None])["vote"] == "NO"           # t1 holds key 0 exclusively
        p.commit({"txn": "t1"})
        assert p._value("0") == [1]
        assert vote(p, "t3", ["r", 0, None]) == {"vote": "YES", "reads": [[0, [1]]]}
        assert vote(p, "t4", ["r", 0, None]) == {"vote": "YES", "reads": [[0, [1]]]}   # shared
        assert vote(p, "t5", ["append", 0, 2])["vote"] == "NO"         # readers t3, t4 hold it
        p.abort({"txn": "t3"})
        p.abort({"txn": "t4"})
        assert vote(p, "t6", ["append", 0, 2])["vote"] == "YES"
        p.abort({"txn": "t6"})
        assert p._value("0") == [1]                                    # an abort applies nothing
        assert [lk["txn"] for lk in p.state()["locks"]] == []
    finally:
        p.close()


def test_a_prepare_waits_for_a_lock_released_within_lock_wait(tmp_path: Path) -> None:
    p = participant(tmp_path, "durable", lock_wait=2.0)
    try:
        assert vote(p, "t1", ["append", 0, 1])["vote"] == "YES"
        threading.Timer(0.1, p.commit, args=({"txn": "t1"},)).start()
        t0 = time.monotonic()
        assert vote(p, "t2", ["r", 0, None]) == {"vote": "YES", "reads": [[0, [1]]]}
        assert time.monotonic() - t0 < 1.5                             # woken by the commit, not the timeout
    finally:
        p.close()


def test_seed_forgets_a_prepare_on_restart_and_its_commit_fails(tmp_path: Path) -> None:
    p = participant(tmp_path, "seed")
    vote(p, "t1", ["append", 0, 1])
    p.close()
    p = participant(tmp_path, "seed")                                  # killed and restarted: memory gone
    try:
        assert vote(p, "t2", ["r", 0, None]) == {"vote": "YES", "reads": [[0, None]]}   # no lock any more
        with pytest.raises(HttpError, match="not prepared"):
            p.commit({"txn": "t1"})
        assert p._value("0") is None
        with pytest.raises(HttpError, match="nothing to release"):
            p.abort(None)                                              # the guide's argument-less abortAll
        assert [lk["txn"] for lk in p.state()["locks"]] == ["t2"]      # so t2 keeps its lock
    finally:
        p.close()


def test_durable_keeps_a_prepare_and_its_reads_over_a_restart(tmp_path: Path) -> None:
    p = participant(tmp_path, "durable")
    assert vote(p, "t1", ["r", 0, None], ["append", 0, 1]) == {"vote": "YES", "reads": [[0, None]]}
    p.close()
    p = participant(tmp_path, "durable")
    try:
        assert vote(p, "t2", ["r", 0, None])["vote"] == "NO"           # the lock survived
        assert vote(p, "t1", ["r", 0, None], ["append", 0, 1]) == {"vote": "YES", "reads": [[0, None]]}
        p.commit({"txn": "t1"})
        p.commit({"txn": "t1"})                                        # idempotent
        assert p._value("0") == [1]
        p.abort({"txn": "t7"})                                         # an abort before its prepare
        assert vote(p, "t7", ["append", 0, 2])["vote"] == "NO"         # so the late prepare votes NO
    finally:
        p.close()


class SlowPoint(CrashPoints):
    """``after-vote-yes`` armed; reaching it takes 0.2 s and is recorded instead of dying."""

    def __init__(self, data: Path) -> None:
        super().__init__("after-vote-yes", 1.0, str(data), "order")
        self.reached: list[float] = []

    def hit(self, point: str, order: object = None) -> None:
        time.sleep(0.2)
        self.reached.append(time.monotonic())


def test_a_commit_right_after_the_vote_waits_for_the_after_vote_yes_point(tmp_path: Path) -> None:
    crash = SlowPoint(tmp_path)
    p = Participant(kind="order", name="order", variant="seed", db_path=str(tmp_path / "order.db"), initial={},
                    crash=crash, coordinator=None, timeout=0.5)
    try:
        assert vote(p, "t1", ["append", 0, 1])["vote"] == "YES"
        p.commit({"txn": "t1"})                     # had the point fired, the process would be gone by now
        assert crash.reached                        # the commit waited for the point
        assert p._value("0") == [1]
    finally:
        p.close()
