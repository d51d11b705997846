"""The atomic-commit checker's lock bound: locks held longer than ``lock_bound_s``, how long, and by whom.

Hand-built participant logs from the serial model of
``test_atomic_commit`` (every lock held 0.1 s), then one participant's
lock stretched past the bound or kept to just inside it. A lock released
after the bound is a liveness finding in ``stats["held_long"]`` and leaves
the verdict alone; a lock still held at the end stays a ``blocking``
anomaly, now with how long each holder has held it.
"""

from __future__ import annotations

import pytest

from checkers.api import Verdict
from checkers.atomic_commit import LOCK_BOUND_S, AtomicCommit, Down, check_logs
from targets.two_pc.workload import ORDERS, lock_bound_of
from harness.history import History
from harness.target import WorkloadContext
from tests.checkers.test_atomic_commit import _history, _nem, entry, hold, run_serial


def one_order() -> tuple[dict, dict[str, str]]:
    return run_serial([("u1", [["p1", 1]]), ("u2", [["p2", 2]])])  # t0 locked at 0.0 s, t1 at 1.0 s


def test_a_lock_held_longer_than_the_bound_is_reported_with_how_long_and_which_participants() -> None:
    final, told = one_order()
    entry(final, "order", "t0")["decided_at"] = 7.5
    entry(final, "payment", "t0")["decided_at"] = 6.25
    found, stats = check_logs(final, told, down=[Down(start=1.0, end=6.0, why="killed")])
    assert found == []  # liveness, not a violation: both were released
    assert stats["lock_bound_s"] == LOCK_BOUND_S == 5.0 and stats["held_long_count"] == 1
    (h,) = stats["held_long"]
    assert h["txn"] == "t0" and h["participants"] == ["order", "payment"]
    assert h["held_s"] == {"order": 7.5, "payment": 6.25} and h["longest_s"] == 7.5
    assert h["summary"] == ("t0's locks were held longer than the 5 s bound: order 7.50 s (from 0.00 s, committed "
                            "at 7.50 s), payment 6.25 s (from 0.00 s, committed at 6.25 s); the coordinator was "
                            "down from 1.00 s (killed)")
    # the whole checker: the same logs in a history are still valid, and say so in their stats
    r = AtomicCommit().check(_history(final, told))
    assert r.verdict is Verdict.VALID and [x["txn"] for x in r.stats["held_long"]] == ["t0"]


def test_a_lock_released_within_the_bound_is_not_reported_and_the_bound_is_an_option() -> None:
    final, told = one_order()
    entry(final, "inventory", "t1")["decided_at"] = 5.9  # held 4.9 s from 1.0 s
    assert check_logs(final, told)[1]["held_long"] == []
    (h,) = check_logs(final, told, lock_bound_s=4.0)[1]["held_long"]
    assert h["txn"] == "t1" and h["held_s"] == {"inventory": 4.9} and "4 s bound" in h["summary"]
    assert "coordinator" not in h["summary"]  # no outage: nothing to blame
    r = AtomicCommit(lock_bound_s=4.0).check(_history(final, told))
    assert r.stats["lock_bound_s"] == 4.0 and r.stats["held_long_count"] == 1


def test_the_target_option_sets_the_checkers_bound() -> None:
    ctx = WorkloadContext(nodes=("n1",), variant="seed", concurrency=1, options={"lock_bound_s": "2.5"})
    final, told = one_order()
    entry(final, "payment", "t0")["decided_at"] = 3.0
    r = ORDERS.checker(ctx).check(_history(final, told))
    assert r.stats["lock_bound_s"] == 2.5 and r.stats["held_long"][0]["held_s"] == {"payment": 3.0}
    assert lock_bound_of({}) == 5.0
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ValueError, match="lock_bound_s must be a positive number"):
            lock_bound_of({"lock_bound_s": bad})


def test_a_lock_lost_at_a_restart_counts_until_the_restart() -> None:
    final, told = one_order()
    e = entry(final, "payment", "t0")
    e["state"], e["decided_at"], e["lost_at"] = "prepared", None, 8.0  # seed: the restart forgot it
    (h,) = check_logs(final, told)[1]["held_long"]
    assert h["held_s"] == {"payment": 8.0} and "lost at a restart at 8.00 s" in h["summary"]
    # the lock went with the process: its death (a kill or a crash point) is the release, when known
    (h,) = check_logs(final, told, deaths={"payment": [-2.0, 6.5, 7.0]})[1]["held_long"]
    assert h["held_s"] == {"payment": 6.5} and "lost when it died at 6.50 s" in h["summary"]
    assert check_logs(final, told, deaths={"payment": [3.0]})[1]["held_long"] == []  # died after 3 s: within
    ops = list(_history(final, told).ops)  # the checker reads payment's kill from the nemesis events
    _nem(ops, "kill", 6.0, ["payment"])
    r = AtomicCommit().check(History.of(ops))
    assert r.stats["held_long"][0]["held_s"] == {"payment": 6.0}
    e["lost_at"] = -1.0  # lost by an earlier incarnation, before this prepare: no release time known
    assert check_logs(final, told)[1]["held_long"] == []


def test_a_lock_still_held_at_the_end_is_blocking_with_how_long_each_holder_held_it() -> None:
    final, told = run_serial([("u1", [["p1", 1]])])
    for p in ("order", "inventory"):
        hold(final, p, "t0")
    final["participants"]["inventory"]["locks"][0]["since"] = 2.0
    final["participants"]["payment"]["log"]["t0"]["state"] = "aborted"
    found, stats = check_logs(final, {})  # final "now" is 100 s
    (a,) = [a for a in found if a.kind == "blocking"]
    assert a.data["holders"] == ["inventory", "order"] and a.data["held_s"] == {"inventory": 98.0, "order": 100.0}
    assert a.summary.startswith("in doubt at the end: inventory, order still hold t0's locks at the end "
                                "(in doubt since 0.00 s); held 100.00 s by the final read")
    assert a.data["class"] == "liveness" and stats["held_long"] == []  # listed once, as the anomaly
    assert AtomicCommit().check(_history(final, {})).verdict is Verdict.INVALID  # as before: in doubt at the end


def test_the_checkers_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lock_bound_s"):
        AtomicCommit(lock_bound_s=0)
