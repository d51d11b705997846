"""The saga checker on hand-built final states (one per invariant) and on fault-free sequential sagas.

The legal states come from :func:`run_sequential`, a model of the three
services written here independently of the checker: each saga runs to its
end before the next begins (reserve, charge, confirm; a refusal compensates
the prefix), so by construction every invariant holds. Each invariant test
breaks exactly one thing a faulty saga would and expects that kind.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.api import Verdict
from checkers.saga import KINDS, SagaChecker, check_state
from harness.history import History, Op

PRICES = {"p1": 30, "p2": 20, "p3": 10}


def run_sequential(orders: list[tuple[str, list[list[Any]]]], stock: dict[str, int],
                   balances: dict[str, int]) -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    """Execute each order's saga alone and in full; return (final state, what each client was told)."""
    avail = dict(stock)
    bal = dict(balances)
    state: dict[str, Any] = {"orders": [], "reservations": [], "charges": [], "crashes": [], "now": 100.0}
    told: dict[str, tuple[str, Any]] = {}
    t = 1.0
    for i, (user, items) in enumerate(orders):
        oid, key, total = f"o{i + 1}", f"k{i + 1}", sum(PRICES[p] * q for p, q in items)
        order = {"id": oid, "key": key, "user": user, "items": items, "total": total, "status": "PENDING",
                 "created": t, "updated": t}
        state["orders"].append(order)
        if any(avail[p] < q for p, q in items):
            order["status"] = "CANCELLED"
            told[key] = ("FAILED", oid)
            continue
        for p, q in items:
            avail[p] -= q
        res = {"id": f"r{i + 1}", "order_id": oid, "items": items, "state": "reserved", "created": t + .1,
               "updated": t + .1}
        state["reservations"].append(res)
        if bal[user] < total:
            for p, q in items:
                avail[p] += q
            res["state"] = "released"
            order["status"] = "CANCELLED"
            told[key] = ("FAILED", oid)
            continue
        bal[user] -= total
        state["charges"].append({"id": f"c{i + 1}", "order_id": oid, "user": user, "amount": total,
                                 "state": "charged", "created": t + .2, "updated": t + .2})
        res["state"] = "confirmed"
        order["status"] = "CONFIRMED"
        told[key] = ("CONFIRMED", oid)
        t += 1
    state["stock"] = {p: {"initial": stock[p], "available": avail[p]} for p in stock}
    return state, told


def legal() -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    # o1 confirmed, o2 declined (balance), o3 out of stock, o4 confirmed
    return run_sequential([("u1", [["p1", 2]]), ("u1", [["p2", 2]]), ("u2", [["p3", 9]]), ("u2", [["p2", 1]])],
                          {"p1": 5, "p2": 5, "p3": 3}, {"u1": 70, "u2": 100})


def kinds(state: dict[str, Any], told: dict[str, tuple[str, Any]]) -> set[str]:
    return {a.kind for a in check_state(state, told)}


def order(state: dict[str, Any], oid: str) -> dict[str, Any]:
    return next(o for o in state["orders"] if o["id"] == oid)


def rows(state: dict[str, Any], table: str, oid: str) -> list[dict[str, Any]]:
    return [r for r in state[table] if r["order_id"] == oid]


def test_the_legal_state_breaks_nothing() -> None:
    s, told = legal()
    assert [o["status"] for o in s["orders"]] == ["CONFIRMED", "CANCELLED", "CANCELLED", "CONFIRMED"]
    assert check_state(s, told) == []


def test_a_pending_order_is_a_half_done_saga() -> None:
    s, told = legal()
    order(s, "o4")["status"] = "PENDING"  # charged, then the orchestrator died before confirmInventory
    rows(s, "reservations", "o4")[0]["state"] = "reserved"
    told.pop("k4")
    found = check_state(s, told)
    assert {a.kind for a in found} == {"order-not-terminal"}
    assert found[0].data["orders"] == ["o4"] and "o4" in found[0].summary and "charged 20" in found[0].summary


def test_a_cancelled_order_whose_charge_was_never_refunded() -> None:
    s, told = legal()
    order(s, "o4")["status"] = "CANCELLED"
    rows(s, "reservations", "o4")[0]["state"] = "released"
    s["stock"]["p2"]["available"] += 1
    told.pop("k4")
    assert kinds(s, told) == {"cancelled-but-charged", "illegal-saga"}


def test_a_confirmed_order_with_a_compensation_is_an_illegal_saga() -> None:
    s, told = legal()
    rows(s, "charges", "o1")[0]["state"] = "refunded"
    found = kinds(s, told)
    assert "illegal-saga" in found and "wrong-charge" not in found


def test_stock_sold_to_a_cancelled_order_is_not_conserved() -> None:
    s, told = legal()
    r = rows(s, "reservations", "o2")[0]  # the declined order kept its deducted stock (a dropped restore)
    r["state"] = "confirmed"
    s["stock"]["p2"]["available"] -= 2
    found = check_state(s, told)
    leak = [a for a in found if a.kind == "stock-not-conserved"]
    assert leak and leak[0].data["orders"] == ["o2"] and "leaked 2" in leak[0].summary


def test_negative_stock() -> None:
    s, told = legal()
    s["stock"]["p3"] = {"initial": -1, "available": -1}
    assert kinds(s, told) == {"negative-stock"}


def test_stock_still_reserved_for_a_cancelled_order_is_an_orphan() -> None:
    s, told = legal()
    rows(s, "reservations", "o2")[0]["state"] = "reserved"
    s["stock"]["p2"]["available"] -= 2
    found = kinds(s, told)
    assert "orphan-reservation" in found and "stock-not-conserved" not in found


def test_a_reservation_for_no_order_is_an_orphan() -> None:
    s, told = legal()
    s["reservations"].append({"id": "r9", "order_id": "o9", "items": [["p1", 1]], "state": "reserved",
                              "created": 9.0, "updated": 9.0})
    s["stock"]["p1"]["available"] -= 1
    assert kinds(s, told) == {"orphan-reservation"}


def test_a_second_charge_for_one_order() -> None:
    s, told = legal()
    c = dict(rows(s, "charges", "o1")[0], id="c9", created=9.0)
    s["charges"].append(c)
    found = kinds(s, told)
    assert {"double-charge", "wrong-charge"} <= found


def test_a_charge_for_no_order() -> None:
    s, told = legal()
    s["charges"].append({"id": "c9", "order_id": "o9", "user": "u1", "amount": 30, "state": "charged",
                         "created": 9.0, "updated": 9.0})
    assert kinds(s, told) == {"charge-without-order"}
    s["charges"][-1]["state"] = "refunded"
    assert kinds(s, told) == set()


def test_what_the_client_was_told_must_hold() -> None:
    s, told = legal()
    told["k2"] = ("CONFIRMED", "o2")  # told confirmed, but it was cancelled
    assert kinds(s, told) == {"ack-broken"}
    s, told = legal()
    told["k9"] = ("CONFIRMED", None)  # told confirmed, and no such order exists
    assert kinds(s, told) == {"ack-broken"}
    s, told = legal()
    told["k1"] = ("FAILED", "o1")     # told failed, but it was confirmed and charged
    assert kinds(s, told) == {"ack-broken"}


def test_two_orders_for_one_key() -> None:
    s, told = legal()
    order(s, "o4")["key"] = "k1"
    found = check_state(s, told)
    assert {a.kind for a in found} == {"duplicate-orders-for-key"}
    assert found[0].data["orders"] == ["o1", "o4"]


def test_a_terminal_status_that_a_read_saw_must_not_change() -> None:
    s, told = legal()
    assert check_state(s, told, seen={"o1": ("CONFIRMED", 1.5), "o2": ("CANCELLED", None)}) == []
    found = check_state(s, told, seen={"o2": ("CONFIRMED", 1.5), "o7": ("CANCELLED", 2.0)})
    assert [a.kind for a in found] == ["status-regressed", "status-regressed"]
    assert "at 1.50 s saw order o2 CONFIRMED" in found[0].summary and "missing" in found[1].summary


def test_the_checker_takes_status_reads_from_the_history() -> None:
    s, told = legal()
    h = _history(s, told)
    read = [Op(index=0, type="invoke", process=5, f="status", value={"key": "k2"}, time=1),
            Op(index=1, type="ok", process=5, f="status",
               value={"key": "k2", "orders": [{"id": "o2", "status": "CONFIRMED"}]}, time=2)]
    ops = read + [Op(index=o.index + 2, type=o.type, process=o.process, f=o.f, value=o.value, time=o.time)
                  for o in h.ops]
    r = SagaChecker().check(History.of(ops))
    assert {a.kind for a in r.anomalies} == {"status-regressed"}


def test_every_kind_is_tested_above() -> None:
    import inspect
    import sys
    src = inspect.getsource(sys.modules[__name__])
    assert all(f'"{k}"' in src for k in KINDS if k != "wrong-charge") and "wrong-charge" in src


def _history(state: dict[str, Any], told: dict[str, tuple[str, Any]]) -> History:
    ops: list[Op] = []
    for i, (key, (status, oid)) in enumerate(told.items()):
        ops.append(Op(index=len(ops), type="invoke", process=i % 3, f="place", value={"key": key}, time=i * 10))
        ops.append(Op(index=len(ops), type="ok", process=i % 3, f="place",
                      value={"key": key, "status": status, "order": oid}, time=i * 10 + 5))
    t = len(told) * 10 + 10
    ops.append(Op(index=len(ops), type="invoke", process=0, f="final", value={"wait": 1}, time=t))
    ops.append(Op(index=len(ops), type="ok", process=0, f="final", value=state, time=t + 5))
    return History.of(ops)


def test_the_checker_reads_the_history_and_says_unknown_without_a_final_read() -> None:
    s, told = legal()
    assert SagaChecker().check(_history(s, told)).verdict is Verdict.VALID
    order(s, "o1")["status"] = "PENDING"
    rows(s, "reservations", "o1")[0]["state"] = "reserved"
    r = SagaChecker().check(_history(s, told))
    assert r.verdict is Verdict.INVALID and {a.kind for a in r.anomalies} == {"order-not-terminal", "ack-broken"}
    h = History.of([Op(index=0, type="invoke", process=0, f="place", value={"key": "k"}, time=0)])
    assert SagaChecker().check(h).verdict is Verdict.UNKNOWN


_item = st.tuples(st.sampled_from(sorted(PRICES)), st.integers(1, 3)).map(list)
_order = st.tuples(st.sampled_from(["u1", "u2", "u3"]),
                   st.lists(_item, min_size=1, max_size=2, unique_by=lambda x: x[0]))


@settings(max_examples=100, deadline=None)
@given(st.lists(_order, max_size=25), st.integers(0, 12), st.integers(0, 200))
def test_sagas_run_one_at_a_time_without_faults_never_break_an_invariant(
        orders: list[tuple[str, list[list[Any]]]], stock: int, balance: int) -> None:
    state, told = run_sequential(orders, {p: stock for p in PRICES}, {u: balance for u in ("u1", "u2", "u3")})
    assert check_state(copy.deepcopy(state), told) == []
    assert SagaChecker().check(_history(state, told)).verdict is (Verdict.VALID)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_documented(kind: str) -> None:
    import checkers.saga as mod
    assert f"``{kind}``" in (mod.__doc__ or "")


def test_the_prose_aligns_the_services_clock_and_names_each_nearby_fault_once() -> None:
    s, told = legal()
    order(s, "o4")["status"] = "PENDING"
    rows(s, "reservations", "o4")[0]["state"] = "reserved"
    told.pop("k4")
    h = _history(s, told)   # final completes at 55 ns ~ 0 s; the services' "now" is 100.0 wall seconds
    kill = [Op(index=0, type="info", process="nemesis", f="kill", value={"nodes": ["orchestrator"]},
               time=int(-97.7e9)),
            Op(index=1, type="info", process="nemesis", f="kill", value={"nodes": ["orchestrator"]},
               time=int(-97.6e9))]
    ops = kill + [Op(index=o.index + 2, type=o.type, process=o.process, f=o.f, value=o.value, time=o.time)
                  for o in h.ops]
    (a,) = SagaChecker().check(History.of(ops)).anomalies
    assert "created at -98.00 s" in a.summary and "charged 20 (c4) at -97.80 s" in a.summary
    assert a.summary.count("kill orchestrator") == 1 and "kill orchestrator at -97.70 s" in a.summary
