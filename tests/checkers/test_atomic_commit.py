"""The atomic-commit checker on hand-built participant logs and histories, one test per property.

The legal logs come from :func:`run_serial`, a model of a correct 2PC
written here independently of the checker: each transaction runs alone, every
participant votes on its own resources, and all commit or all abort (with
their locks released), so by construction every property holds. Each
property test breaks exactly what a faulty 2PC would and expects that kind.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.api import Verdict
from checkers.atomic_commit import AtomicCommit, Down, check_logs
from harness.history import NEMESIS, History, Op

PRICES = {"p1": 30, "p2": 20, "p3": 10}
PARTS = ("order", "inventory", "payment")


def run_serial(txns: list[tuple[str, list[list[Any]]]], stock: dict[str, int] | None = None,
               balances: dict[str, int] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Each transaction alone, to its end: (final state, what each client was told)."""
    stock = dict(stock or {"p1": 10, "p2": 10, "p3": 10})
    balances = dict(balances or {"u1": 200, "u2": 200})
    avail, bal = dict(stock), dict(balances)
    logs: dict[str, dict[str, Any]] = {p: {} for p in PARTS}
    told: dict[str, str] = {}
    for i, (user, items) in enumerate(txns):
        txn, t = f"t{i}", float(i)
        total = sum(PRICES[p] * q for p, q in items)
        work = {"order": {"order": txn, "user": user, "items": items, "total": total},
                "inventory": {"items": items}, "payment": {"user": user, "amount": total}}
        ok = all(avail[p] >= q for p, q in items) and bal[user] >= total
        for p in PARTS:
            logs[p][txn] = {"state": "committed" if ok else "aborted", "work": work[p], "prepared_at": t,
                            "decided_at": t + 0.1, "note": None}
        if ok:
            for p, q in items:
                avail[p] -= q
            bal[user] -= total
        told[txn] = "COMMITTED" if ok else "ABORTED"
    res = {"order": ({}, {}), "inventory": (stock, avail), "payment": (balances, bal)}
    final = {"participants": {p: {"participant": p, "log": logs[p], "locks": [], "initial": dict(res[p][0]),
                                  "resources": dict(res[p][1]), "crashes": []} for p in PARTS},
             "coordinator": {"name": "coordinator", "crashes": [], "undone": []}, "now": 100.0}
    return final, told


def legal() -> tuple[dict[str, Any], dict[str, str]]:
    return run_serial([("u1", [["p1", 2]]), ("u2", [["p2", 1], ["p3", 3]]), ("u1", [["p1", 20]]),
                       ("u2", [["p3", 1]])])


def kinds(final: dict[str, Any], told: dict[str, str], **kw: Any) -> set[str]:
    return {a.kind for a in check_logs(final, told, **kw)[0]}


def entry(final: dict[str, Any], part: str, txn: str) -> dict[str, Any]:
    return final["participants"][part]["log"][txn]


def hold(final: dict[str, Any], part: str, txn: str) -> None:
    """Make ``part`` still hold ``txn`` prepared with its lock, undecided."""
    e = entry(final, part, txn)
    e["state"], e["decided_at"] = "prepared", None
    final["participants"][part]["locks"].append({"txn": txn, "since": e["prepared_at"], "holds": {}})


_item = st.tuples(st.sampled_from(sorted(PRICES)), st.integers(1, 4)).map(list)
_txn = st.tuples(st.sampled_from(["u1", "u2"]), st.lists(_item, min_size=1, max_size=2, unique_by=lambda x: x[0]))


@settings(max_examples=60, deadline=None)
@given(st.lists(_txn, max_size=12))
def test_serial_two_phase_commits_break_no_property(txns: list[Any]) -> None:
    final, told = run_serial(txns)
    found, stats = check_logs(final, told)
    assert found == [] and stats["blocking_resolved"] == []


def test_atomicity_committed_at_one_participant_aborted_or_absent_at_another() -> None:
    final, told = legal()
    assert kinds(final, told) == set()
    entry(final, "payment", "t0")["state"] = "aborted"
    # (the balance stays as charged: money agrees with the committed orders, only atomicity breaks)
    found, _ = check_logs(final, {})
    assert [a.kind for a in found] == ["atomicity"]
    assert found[0].data["txns"] == ["t0"] and "payment (aborted)" in found[0].summary
    assert found[0].data["recorded"]["t0"] == {"order": "committed", "inventory": "committed", "payment": "aborted"}
    # committed although one participant never voted YES: it has no record at all
    final, told = legal()
    del final["participants"]["inventory"]["log"]["t1"]
    assert kinds(final, {}) == {"atomicity"}


def test_client_told_committed_must_be_committed_everywhere() -> None:
    final, told = legal()
    entry(final, "inventory", "t0")["state"] = "prepared"  # its commit failed: the prepared state was lost
    final["participants"]["inventory"]["resources"]["p1"] += 2
    found, _ = check_logs(final, told)
    a = next(a for a in found if a.kind == "commit-reported-not-committed")
    assert a.summary.startswith("commit reported although a participant failed: the client was told t0 COMMITTED")
    assert "inventory: prepared, then forgotten" in a.summary
    assert "commit-reported-not-committed" not in kinds(final, {**told, "t0": "ABORTED"})


def test_client_told_aborted_must_be_committed_nowhere() -> None:
    final, told = legal()
    assert told["t2"] == "ABORTED"
    assert kinds(final, {**told, "t0": "ABORTED"}) == {"abort-reported-but-committed"}


def test_conservation_at_the_end_stock_and_money() -> None:
    final, told = legal()
    final["participants"]["inventory"]["resources"]["p3"] -= 1  # stock taken that no committed order holds
    found, _ = check_logs(final, told)
    assert [(a.kind, a.data["resource"]) for a in found] == [("not-conserved", "p3")]
    final, told = legal()
    final["participants"]["payment"]["resources"]["u2"] += 50
    found, _ = check_logs(final, told)
    assert [(a.kind, a.data["resource"]) for a in found] == [("not-conserved", "money")]


def test_conservation_in_every_read_all() -> None:
    final, told = legal()
    good = {"inventory": {"resources": {"p1": 8}, "initial": {"p1": 10}, "taken": {"p1": 2}}}
    assert kinds(final, told, reads=[(1.0, good)]) == set()
    bad = copy.deepcopy(good)
    bad["inventory"]["resources"]["p1"] = 7
    found, _ = check_logs(final, told, reads=[(1.0, good), (2.5, bad)])
    assert [a.kind for a in found] == ["not-conserved"] and "read-all at 2.50 s" in found[0].summary
    neg = {"payment": {"resources": {"u1": -5}, "initial": {"u1": -5}, "taken": {}}}
    assert kinds(final, told, reads=[(3.0, neg)]) == {"not-conserved"}


def test_locks_kept_by_an_abort_that_releases_nothing() -> None:
    final, told = legal()
    assert told["t2"] == "ABORTED"
    hold(final, "order", "t2")
    hold(final, "inventory", "t2")
    found, _ = check_logs(final, told)
    assert [a.kind for a in found] == ["locks-kept-by-abort"]
    a = found[0]
    assert a.summary.startswith("locks kept by argument-less abort: the client was told t2 ABORTED, yet "
                                "inventory, order still hold its lock")
    assert a.data["holders"] == ["inventory", "order"] and a.data["class"] == "liveness"
    final, told = legal()
    assert kinds(final, told) == set()  # the same abort with its locks released


def test_blocking_after_a_coordinator_crash_unresolved() -> None:
    final, told = run_serial([("u1", [["p1", 1]])])
    for p in ("order", "inventory"):
        hold(final, p, "t0")
    entry(final, "payment", "t0")["state"] = "aborted"  # never prepared there (no record) is the same
    final["participants"]["inventory"]["resources"]["p1"] += 1
    final["participants"]["payment"]["resources"]["u1"] += 30
    final["participants"]["order"]["log"]["t0"]["state"] = "prepared"
    told = {}  # the client got no answer
    down = [Down(start=0.05, end=3.0, why="crash point after-prepare-inventory of t0")]
    found, _ = check_logs(final, told, down=down)
    assert [a.kind for a in found] == ["blocking"]
    assert found[0].summary.startswith("blocking after coordinator crash: inventory, order prepared t0 (at 0.00 s)")
    assert "down from 0.05 s (crash point after-prepare-inventory of t0) to 3.00 s, and it never resolved" \
        in found[0].summary
    found, _ = check_logs(final, told)  # no coordinator outage: in doubt, but not the guide's crash problem
    assert [a.data["problem"] for a in found] == ["in doubt at the end"]
    found, _ = check_logs(final, told, down=[Down(start=-5, end=-1, why="killed")])  # down only before it
    assert [a.data["problem"] for a in found] == ["in doubt at the end"]


def test_blocking_resolved_after_restart_is_reported_not_a_violation() -> None:
    final, told = run_serial([("u1", [["p1", 1]])])
    for p in PARTS:
        entry(final, p, "t0")["decided_at"] = 6.0  # held from 0.0 s to 6.0 s
    down = [Down(start=1.0, end=5.0, why="killed")]
    found, stats = check_logs(final, told, down=down)
    assert found == []
    assert stats["blocking_resolved_count"] == 3
    assert stats["blocking_resolved"][0]["summary"] == (
        "inventory held t0 prepared from 0.00 s to 6.00 s (6.00 s) while the coordinator was down from "
        "1.00 s (killed); resolved as committed after it came back")
    assert check_logs(final, told)[1]["blocking_resolved"] == []  # no outage, nothing blocked
    # an outage that began before the lock was taken (the lock was the restarted coordinator's) does not count
    assert check_logs(final, told, down=[Down(start=-3.0, end=6.5, why="killed")])[1]["blocking_resolved"] == []
    # nor one that began after it was released
    assert check_logs(final, told, down=[Down(start=6.5, end=9.0, why="killed")])[1]["blocking_resolved"] == []


def _nem(ops: list[Op], f: str, t: float, nodes: list[str]) -> None:
    for typ in ("invoke", "info"):
        ops.append(Op(index=len(ops), type=typ, process=NEMESIS, f=f, value={"nodes": nodes}, time=int(t * 1e9)))


def _history(final: dict[str, Any] | None, told: dict[str, str], kills: list[tuple[float, float]] = ()) -> History:
    ops: list[Op] = []
    for i, (txn, status) in enumerate(told.items()):
        ops.append(Op(index=len(ops), type="invoke", process=i % 3, f="place", value={"txn": txn}, time=i * 10))
        ops.append(Op(index=len(ops), type="ok", process=i % 3, f="place",
                      value={"txn": txn, "status": status}, time=i * 10 + 5))
    for a, b in kills:
        _nem(ops, "kill", a, ["coordinator"])
        _nem(ops, "start", b, ["coordinator"])
    if final is not None:
        ops.append(Op(index=len(ops), type="invoke", process=0, f="final", value={"wait": 1}, time=int(20e9)))
        ops.append(Op(index=len(ops), type="ok", process=0, f="final", value=final, time=int(100e9)))
    return History.of(ops)


def test_the_checker_reads_told_kills_and_crash_points_from_the_history() -> None:
    final, told = legal()
    assert AtomicCommit().check(_history(final, told)).verdict is Verdict.VALID
    hold(final, "order", "t0")  # the final read's now is 100 s at 100 s: the offset is 0
    final["participants"]["order"]["log"]["t0"]["prepared_at"] = 4.0
    final["participants"]["order"]["locks"][0]["since"] = 4.0
    r = AtomicCommit().check(_history(final, {}, kills=[(5.0, 9.0)]))
    assert r.verdict is Verdict.INVALID
    assert [a.kind for a in r.anomalies] == ["atomicity", "not-conserved", "not-conserved", "blocking"]
    assert r.stats["problems"] == ["blocking after coordinator crash"]
    assert r.stats["coordinator_down"] == [{"start": 5.0, "end": 9.0, "why": "killed"}]
    # a crash point: down from the recorded crash to the next start of the coordinator
    final["coordinator"]["crashes"] = [{"node": "coordinator", "point": "after-decision", "order": "t0", "at": 6.0}]
    r = AtomicCommit().check(_history(final, {}, kills=[(30.0, 31.0)]))
    assert {"start": 6.0, "end": 31.0, "why": "crash point after-decision of t0"} in r.stats["coordinator_down"]
    assert "blocking after coordinator crash" in r.stats["problems"]


def test_no_final_read_or_an_unreachable_participant_is_unknown() -> None:
    final, told = legal()
    assert AtomicCommit().check(_history(None, told)).verdict is Verdict.UNKNOWN
    final["participants"]["payment"] = {"participant": "payment", "unreachable": "timed out"}
    r = AtomicCommit().check(_history(final, told))
    assert r.verdict is Verdict.UNKNOWN and "payment" in (r.error or "")
