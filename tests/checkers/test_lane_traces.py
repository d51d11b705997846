"""The lane traces the saga and atomic-commit checkers put into their anomalies, on hand-built final reads.

Each test builds the state a faulty run leaves (a saga cut by a crash point
after the charge; a 2PC whose coordinator crashed after its decision, and the
seed's argument-less abort) and checks the trace and the explanation say what
happened, where and when: the lane, the time on the run's clock, the crash
point, what was left.
"""

from __future__ import annotations

from typing import Any

import pytest

from checkers.api import Anomaly
from checkers.atomic_commit import check_logs
from checkers.lanes import FaultSpan
from checkers.saga import check_state
from checkers.saga_lanes import ClientOp, SagaLanes
from checkers.two_pc_lanes import with_lanes

WALL = 1000.0  # node wall clock at run second 0: offset = -1000


def saga_final() -> dict[str, Any]:
    """o17: created, reserved 2 of p1, charged 250; the orchestrator died at after-charge; never resumed."""
    w = WALL
    return {
        "orders": [{"id": "o17", "key": "k17", "user": "u3", "items": [["p1", 2]], "total": 250, "status": "PENDING",
                    "created": w + 12.10, "updated": w + 12.10}],
        "stock": {"p1": {"initial": 10, "available": 8}},
        "reservations": [{"id": "r9", "order_id": "o17", "items": [["p1", 2]], "state": "reserved",
                          "created": w + 12.15, "updated": w + 12.15}],
        "charges": [{"id": "c7", "order_id": "o17", "user": "u3", "amount": 250, "state": "charged",
                     "created": w + 12.30, "updated": w + 12.30}],
        "crashes": [{"node": "orchestrator", "point": "after-charge", "order": "o17", "at": w + 12.40}],
        "trace": [
            {"node": "orchestrator", "subject": "k17", "step": "createOrder", "to": "order", "start": w + 12.08,
             "end": w + 12.11, "outcome": "ok", "detail": "o17"},
            {"node": "orchestrator", "subject": "o17", "step": "reserveInventory", "to": "inventory",
             "start": w + 12.12, "end": w + 12.16, "outcome": "ok", "detail": "r9"},
            {"node": "orchestrator", "subject": "o17", "step": "processPayment", "to": "payment",
             "start": w + 12.20, "end": w + 12.35, "outcome": "ok", "detail": "c7"},
            {"node": "orchestrator", "subject": "o99", "step": "processPayment", "to": "payment",
             "start": w + 12.20, "end": w + 12.35, "outcome": "ok", "detail": "c8"},  # another order's
        ],
        "now": w + 30.0,
    }


def saga_anomaly(**lanes_kw: Any) -> Anomaly:
    final = saga_final()
    lanes = SagaLanes(final=final, offset=-WALL, end=30.0, **lanes_kw)
    (a,) = check_state(final, {}, offset=-WALL, lanes=lanes)
    return a


def test_a_saga_anomaly_traces_its_order_on_one_lane_per_service() -> None:
    a = saga_anomaly(places={"k17": [ClientOp(start=12.0, end=None, told="no answer")]})
    assert a.kind == "order-not-terminal"
    (t,) = a.data["lanes"]
    assert t["subject"] == "o17" and t["lanes"] == ["client", "orchestrator", "order", "inventory", "payment"]
    by = {(e["lane"], e["what"]): e for e in t["events"]}
    assert by[("payment", "charged 250 (c7)")]["at"] == 12.3 and by[("payment", "charged 250 (c7)")]["kind"] == "step"
    assert by[("inventory", "reserved 2 of p1 (r9)")]["at"] == 12.15
    crash = by[("orchestrator", "✗ after-charge")]
    assert crash["kind"] == "crash" and crash["at"] == 12.4
    calls = [e for e in t["events"] if e["kind"] == "message"]
    assert [(e["what"], e["to"]) for e in calls] == [("createOrder → ok", "order"),
                                                     ("reserveInventory → ok", "inventory"),
                                                     ("processPayment → ok", "payment")]  # not o99's call
    left = [e["what"] for e in t["events"] if e["kind"] == "state"]
    assert left == ["the order still PENDING", "2 of p1 still reserved (r9)", "250 still charged (c7)"]
    assert by[("client", "place → no answer")].get("end") is None


def test_the_saga_explanation_says_which_invariant_broke_and_how() -> None:
    text = saga_anomaly().data["explanation"]
    assert text.startswith("every order ends CONFIRMED or CANCELLED; order o17 is still PENDING")
    order = ["created (total 250) at 12.10 s", "reserved 2 of p1 (r9) at 12.15 s", "charged 250 (c7) at 12.30 s",
             "orchestrator crashed at crash point `after-charge` at 12.40 s",
             "left: the order still PENDING, 2 of p1 still reserved (r9)"]
    at = [text.index(s) for s in order]
    assert at == sorted(at), text


def test_a_kill_on_a_lane_is_a_fault_of_that_lane_and_is_told() -> None:
    kill = FaultSpan(kind="kill", start=12.35, end=15.0, nodes=("orchestrator",), what="kill orchestrator")
    far = FaultSpan(kind="partition", start=40.0, end=42.0, nodes=("order", "payment"), what="partition far")
    final = saga_final()
    final["crashes"] = []
    (a,) = check_state(final, {}, offset=-WALL, lanes=SagaLanes(final=final, offset=-WALL, end=30.0,
                                                                  faults=(kill, far)))
    (t,) = a.data["lanes"]
    assert [(f["what"], f["lanes"]) for f in t["faults"]] == [("kill orchestrator", ["orchestrator"])]
    assert "the orchestrator was killed at 12.35 s (until 15.00 s)" in a.data["explanation"]


def tpc_final() -> dict[str, Any]:
    """t1: all voted YES, the coordinator decided commit and died at after-decision; locks still held.
    t2: payment voted NO, the seed's abort() carried no transaction: order's lock still held."""
    w = WALL

    def part(p: str, log: dict[str, Any], locks: list[dict[str, Any]]) -> dict[str, Any]:
        return {"participant": p, "name": p, "log": log, "locks": locks, "resources": {}, "initial": {},
                "crashes": []}
    work = {"order": {"order": "t1", "user": "u1", "items": [["p1", 1]], "total": 30}}
    return {
        "participants": {
            "order": part("order", {"t1": {"state": "prepared", "work": work["order"], "prepared_at": w + 5.01,
                                           "decided_at": None, "note": None},
                                    "t2": {"state": "prepared", "work": {}, "prepared_at": w + 7.01,
                                           "decided_at": None, "note": None}},
                          [{"txn": "t1", "since": w + 5.01}, {"txn": "t2", "since": w + 7.01}]),
            "inventory": part("inventory", {"t1": {"state": "prepared", "work": {}, "prepared_at": w + 5.03,
                                                   "decided_at": None, "note": None}},
                              [{"txn": "t1", "since": w + 5.03}]),
            "payment": part("payment", {"t1": {"state": "prepared", "work": {}, "prepared_at": w + 5.05,
                                               "decided_at": None, "note": None},
                                        "t2": {"state": "aborted", "work": {}, "prepared_at": None,
                                               "decided_at": w + 7.05, "note": "voted NO: u1: 0 free, 30 needed"}},
                            [{"txn": "t1", "since": w + 5.05}]),
        },
        "coordinator": {"name": "coordinator", "undone": [],
                        "crashes": [{"node": "coordinator", "point": "after-decision", "order": "t1", "at": w + 5.07}],
                        "trace": [
                            *[{"subject": "t1", "step": "prepare", "to": p, "start": w + t, "end": w + t + 0.015,
                               "outcome": "ok", "detail": "YES"}
                              for p, t in (("order", 5.0), ("inventory", 5.02), ("payment", 5.04))],
                            {"subject": "t1", "step": "decision", "start": w + 5.06, "end": w + 5.06,
                             "outcome": "ok", "detail": "commit"},
                            {"subject": "t2", "step": "prepare", "to": "order", "start": w + 7.0, "end": w + 7.02,
                             "outcome": "ok", "detail": "YES"},
                            {"subject": "t2", "step": "prepare", "to": "payment", "start": w + 7.04,
                             "end": w + 7.06, "outcome": "ok", "detail": "NO"},
                            {"subject": "t2", "step": "decision", "start": w + 7.06, "end": w + 7.06,
                             "outcome": "ok", "detail": "abort"},
                            {"subject": "t2", "step": "abort", "to": "order", "start": w + 7.07, "end": w + 7.08,
                             "outcome": "refused", "error": "400: abort without a transaction: nothing to release"},
                        ]},
        "now": w + 20.0,
    }


def tpc_anomalies() -> dict[str, Anomaly]:
    final = tpc_final()
    found, _ = check_logs(final, {"t2": "ABORTED"}, offset=-WALL)
    return {a.kind: a for a in with_lanes(found, final, None, -WALL, end=20.0)}


def test_a_2pc_anomaly_traces_its_messages_from_the_coordinator_to_each_participant() -> None:
    a = tpc_anomalies()["blocking"]
    (t,) = a.data["lanes"]
    assert t["subject"] == "t1" and t["lanes"] == ["client", "coordinator", "order", "inventory", "payment"]
    msgs = [(e["what"], e["to"], e.get("peer_at")) for e in t["events"] if e["kind"] == "message"]
    assert msgs == [("prepare → YES", "order", 5.01), ("prepare → YES", "inventory", 5.03),
                    ("prepare → YES", "payment", 5.05)]
    locks = {e["lane"]: e for e in t["events"] if e["kind"] == "lock"}
    assert set(locks) == {"order", "inventory", "payment"} and all("end" not in e for e in locks.values())
    kinds = [(e["lane"], e["kind"]) for e in t["events"] if e["kind"] in ("decision", "crash")]
    assert kinds == [("coordinator", "decision"), ("coordinator", "crash")]
    text = a.data["explanation"]
    assert text.startswith("no participant stays blocked holding a prepared transaction")
    assert "the coordinator decided commit at 5.06 s" in text
    assert "coordinator crashed at crash point `after-decision` at 5.07 s" in text
    assert "left: order still holds the lock, inventory still holds the lock, payment still holds the lock" in text


def test_the_argument_less_abort_is_a_refused_message_on_the_lanes() -> None:
    a = tpc_anomalies()["locks-kept-by-abort"]
    (t,) = a.data["lanes"]
    (abort,) = [e for e in t["events"] if e["kind"] == "message" and e["what"].startswith("abort")]
    assert abort["what"] == "abort() → refused" and abort["outcome"] == "refused" and abort["to"] == "order"
    assert [e["what"] for e in t["events"] if e["lane"] == "payment"] == ["voted NO: u1: 0 free, 30 needed"]
    assert "its abort() to order was refused at 7.08 s (400: abort without a transaction" in a.data["explanation"]


def test_a_call_the_orchestrator_died_in_is_sent_and_never_answered() -> None:
    final = saga_final()
    final["trace"][2] = {**final["trace"][2], "outcome": "sent", "end": None}  # the kill came mid-call
    final["crashes"] = []
    (a,) = check_state(final, {}, offset=-WALL, lanes=SagaLanes(final=final, offset=-WALL, end=30.0))
    (pay,) = [e for e in a.data["lanes"][0]["events"] if e["kind"] == "message" and e["to"] == "payment"]
    assert pay["what"] == "processPayment → never answered" and pay["outcome"] == "lost" and "end" not in pay
    assert pay["peer_at"] == 12.3  # the charge row it wrote: it got there, its answer did not get back
    assert ("the orchestrator's processPayment call to payment was sent and never answered at 12.20 s "
            "(payment did it at 12.30 s; the answer never came back)") in a.data["explanation"]


def test_choreography_puts_the_bus_on_a_lane_of_its_own_with_what_it_dropped() -> None:
    w = WALL
    final = saga_final()
    final.update(trace=[], crashes=[], charges=[])
    final["reservations"][0].update(state="confirmed", updated=final["reservations"][0]["created"])  # deducted
    final["bus_trace"] = [
        {"subject": "o17", "step": "ORDER_CREATED", "to": "order", "start": w + 12.11, "end": w + 12.11,
         "outcome": "received"},
        {"subject": "o17", "step": "ORDER_CREATED", "to": "inventory", "start": w + 12.12, "end": w + 12.16,
         "outcome": "ok"},
        {"subject": "o17", "step": "INVENTORY_DEDUCTED", "to": "inventory", "start": w + 12.16, "end": w + 12.16,
         "outcome": "received"},
        {"subject": "o17", "step": "INVENTORY_DEDUCTED", "to": "payment", "start": w + 12.17, "end": w + 12.67,
         "outcome": "unreachable", "error": "timed out"},
    ]
    found = check_state(final, {}, offset=-WALL, lanes=SagaLanes(final=final, offset=-WALL, end=30.0))
    a = next(x for x in found if x.kind == "order-not-terminal")
    (t,) = a.data["lanes"]
    assert t["lanes"] == ["client", "orchestrator", "bus", "order", "inventory", "payment"]
    msgs = [(e["lane"], e["to"], e["what"]) for e in t["events"] if e["kind"] == "message"]
    assert msgs == [("order", "bus", "publish ORDER_CREATED"), ("bus", "inventory", "ORDER_CREATED → ok"),
                    ("inventory", "bus", "publish INVENTORY_DEDUCTED"),
                    ("bus", "payment", "INVENTORY_DEDUCTED → no answer")]
    assert ("the bus's delivery of INVENTORY_DEDUCTED to payment got no answer (outcome unknown) at 12.67 s"
            in a.data["explanation"])


def test_the_offset_moves_into_the_bounds_the_client_ops_set_and_only_then() -> None:
    from checkers.lanes import refine_offset

    # node did its part at wall 1004.0-1004.1 during a client op at run 4.0-4.2: offset in [-1000.0, -999.9]
    spans = [(4.0, 4.2, 1004.0, 1004.1), (5.0, 5.3, 1005.05, 1005.2)]  # second: [-1000.05, -999.9]
    assert refine_offset(-999.5, spans) == pytest.approx(-999.9)  # the final read's answer came late: pulled back
    assert refine_offset(-999.95, spans) == -999.95  # already consistent: kept
    assert refine_offset(-999.5, [(4.0, 4.1, 1004.0, 1004.1), (5.0, 5.1, 1004.0, 1004.1)]) == -999.5  # contradictory
