"""One saga order as a lane trace (:mod:`checkers.lanes`), and the sentence that says why it broke.

Built from the final read (each service's own rows: an order's ``created``
and ``updated``, each reservation's and charge's; ``crashes``; the
orchestrator's step ``trace``, see :mod:`targets.saga_orders.trace`), the
client's ``place`` ops for the order's key and the fault windows. Lanes,
top to bottom: ``client``, ``orchestrator`` (its calls, drawn as messages to
the service called), ``bus`` (choreography, when a fault touched it),
``order``, ``inventory``, ``payment`` (the rows each service wrote: forward
steps, compensations, and what the final read still found at the end).

:func:`explain` turns a trace into the report's and terminal's prose: the
invariant, what was done and when, what interrupted it (a crash point, a
kill, a call that failed or timed out), and what was left::

    every order ends CONFIRMED or CANCELLED; order o17 is still PENDING after recovery: created (total 250)
    at 12.10 s, reserved 2 of p1 (r9) at 12.15 s, charged 250 (c7) at 12.30 s, orchestrator crashed at
    crash point `after-charge` at 12.31 s; left: the order still PENDING, 2 of p1 still reserved (r9)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from checkers.lanes import FaultSpan, LaneEvent, crashes_near, fault_phrase, lane_trace, when

__all__ = ["INVARIANTS", "SagaLanes", "explain"]

INVARIANTS = {
    "order-not-terminal": "every order ends CONFIRMED or CANCELLED",
    "illegal-saga": "a saga's steps are all done, or a prefix of them undone in reverse",
    "stock-not-conserved": "stock is conserved: initial = available + reserved + sold",
    "negative-stock": "stock never goes below zero",
    "orphan-reservation": "nothing stays reserved for an order that is over",
    "double-charge": "an order is charged at most once",
    "wrong-charge": "a confirmed order is charged its total, once",
    "cancelled-but-charged": "a cancelled order nets to zero",
    "charge-without-order": "no payment without an order",
    "ack-broken": "what the client was told holds",
    "duplicate-orders-for-key": "one idempotency key, at most one order",
    "status-regressed": "a terminal status never changes",
}
COMPENSATIONS = ("cancelOrder", "releaseInventory", "refundPayment")
BUS_STEPS = {("ORDER_CREATED", "inventory"): "reserveInventory", ("INVENTORY_DEDUCTED", "payment"): "processPayment",
             ("PAYMENT_COMPLETED", "order"): "confirmOrder", ("PAYMENT_FAILED", "order"): "cancelOrder",
             ("INVENTORY_DEDUCTION_FAILED", "order"): "cancelOrder",
             ("PAYMENT_FAILED", "inventory"): "releaseInventory"}
"""(event, subscriber) -> the step whose row the subscriber's handler writes (choreography)."""
SERVICE_LANES = ("order", "inventory", "payment")


def _items(items: Sequence[Any]) -> str:
    return ", ".join(f"{q} of {p}" for p, q in items)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOp:
    """A ``place`` op of one key: sent at ``start``, answered at ``end`` (``None``: no answer)."""

    start: float
    end: float | None
    told: str  # CONFIRMED | FAILED | PENDING | "no answer" | "refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class SagaLanes:
    """Builds lane traces from one final read (see the module docstring)."""

    final: Mapping[str, Any]
    offset: float
    faults: tuple[FaultSpan, ...] = ()
    places: Mapping[str, Sequence[ClientOp]] = field(default_factory=dict)
    end: float | None = None
    extra_crashes: Sequence[LaneEvent] = ()  # crash-point nemesis events from the history

    def t(self, wall: float) -> float:
        return float(wall) + self.offset

    def lanes(self) -> tuple[str, ...]:
        bus = any("bus" in f.nodes for f in self.faults) or any(c.get("node") == "bus"
                                                                for c in self.final.get("crashes", [])) \
            or bool(self.final.get("bus_trace"))
        return ("client", "orchestrator", *(("bus",) if bus else ()), *SERVICE_LANES)

    def events(self, oid: str) -> list[LaneEvent]:
        f = self.final
        o = next((x for x in f.get("orders", []) if x["id"] == oid), None)
        key = o["key"] if o is not None else None
        end = self.end
        ev: list[LaneEvent] = []
        for c in self.places.get(key, ()) if key is not None else ():
            ev.append(LaneEvent(lane="client", at=c.start, end=c.end, kind="client", what=f"place → {c.told}",
                                outcome="ok" if c.end is not None else "unreachable"))
        rows = self._row_times(oid)
        for r in f.get("trace", []):
            mine = r.get("subject") == oid or (r.get("step") == "createOrder" and
                                               (r.get("detail") == oid or (key is not None and r.get("subject") == key
                                                                           and r.get("detail") is None)))
            if not mine:
                continue
            step = str(r.get("step"))
            out = str(r.get("outcome", "ok"))
            verb = {"refused": "refused", "unreachable": "no answer", "sent": "never answered"}.get(out, "ok")
            lo, hi = float(r["start"]), float(r["end"] if r.get("end") is not None else r["start"] + 10.0)
            peer = next((t for t in rows.get(step, ()) if lo - 0.05 <= t <= hi + 0.05), None)  # the row it wrote
            ev.append(LaneEvent(lane="orchestrator", at=self.t(r["start"]),
                                end=None if r.get("end") is None else self.t(r["end"]), kind="message",
                                to=r.get("to"), outcome="lost" if out == "sent" else out, what=f"{step} → {verb}",
                                peer_at=None if peer is None else self.t(peer), detail=r.get("error")))
        for r in f.get("bus_trace", []):  # choreography: events into the bus, and each delivery out of it
            if r.get("subject") != oid:
                continue
            out = str(r.get("outcome", "ok"))
            if out == "received":
                ev.append(LaneEvent(lane=str(r.get("to")), to="bus", at=self.t(r["start"]) - 0.001,
                                    peer_at=self.t(r["start"]), kind="message", what=f"publish {r.get('step')}"))
                continue
            verb = {"refused": "refused", "unreachable": "no answer", "sent": "never answered"}.get(out, "ok")
            lo, hi = float(r["start"]), float(r["end"] if r.get("end") is not None else r["start"] + 10.0)
            step = BUS_STEPS.get((str(r.get("step")), str(r.get("to"))), "")
            peer = next((t for t in rows.get(step, ()) if lo - 0.05 <= t <= hi + 0.05), None)  # what the handler did
            ev.append(LaneEvent(lane="bus", to=str(r.get("to")), at=self.t(r["start"]),
                                end=None if r.get("end") is None else self.t(r["end"]), kind="message",
                                outcome="lost" if out == "sent" else out, what=f"{r.get('step')} → {verb}",
                                peer_at=None if peer is None else self.t(peer), detail=r.get("error")))
        if o is not None:
            ev.append(LaneEvent(lane="order", at=self.t(o["created"]), kind="step",
                                what=f"created (total {o['total']})"))
            if o["status"] in ("CONFIRMED", "CANCELLED"):
                ev.append(LaneEvent(lane="order", at=self.t(o["updated"]),
                                    kind="step" if o["status"] == "CONFIRMED" else "compensation",
                                    what=o["status"].lower()))
            elif end is not None:
                ev.append(LaneEvent(lane="order", at=end, kind="state", outcome="lost",
                                    what=f"the order still {o['status']}"))
        for r in f.get("reservations", []):
            if r["order_id"] != oid:
                continue
            items = _items(r["items"])
            if r["state"] == "confirmed" and r["updated"] == r["created"]:  # choreography deducts outright
                ev.append(LaneEvent(lane="inventory", at=self.t(r["created"]), kind="step",
                                    what=f"deducted {items} ({r['id']})"))
                continue
            ev.append(LaneEvent(lane="inventory", at=self.t(r["created"]), kind="step",
                                what=f"reserved {items} ({r['id']})"))
            if r["state"] == "confirmed":
                ev.append(LaneEvent(lane="inventory", at=self.t(r["updated"]), kind="step",
                                    what=f"confirmed {r['id']}"))
            elif r["state"] in ("released", "expired"):
                ev.append(LaneEvent(lane="inventory", at=self.t(r["updated"]), kind="compensation",
                                    what=f"{r['id']} {r['state']}"))
            elif end is not None:
                ev.append(LaneEvent(lane="inventory", at=end, kind="state", outcome="lost",
                                    what=f"{items} still reserved ({r['id']})"))
        for c in f.get("charges", []):
            if c["order_id"] != oid:
                continue
            ev.append(LaneEvent(lane="payment", at=self.t(c["created"]), kind="step",
                                what=f"charged {c['amount']} ({c['id']})"))
            if c["state"] == "refunded":
                ev.append(LaneEvent(lane="payment", at=self.t(c["updated"]), kind="compensation",
                                    what=f"refunded {c['id']}"))
            elif end is not None and (o is None or o["status"] != "CONFIRMED"):
                ev.append(LaneEvent(lane="payment", at=end, kind="state", outcome="lost",
                                    what=f"{c['amount']} still charged ({c['id']})"))
        ev += self._crashes(oid, ev)
        return sorted(ev, key=lambda e: e.at)

    def _row_times(self, oid: str) -> dict[str, list[float]]:
        """Step name -> wall times of the rows that step (or compensation) writes for ``oid``."""
        f = self.final
        out: dict[str, list[float]] = {}
        for o in f.get("orders", []):
            if o["id"] == oid:
                out.setdefault("createOrder", []).append(o["created"])
                done = {"CONFIRMED": "confirmOrder", "CANCELLED": "cancelOrder"}.get(o["status"])
                if done:
                    out.setdefault(done, []).append(o["updated"])
        for r in f.get("reservations", []):
            if r["order_id"] == oid:
                out.setdefault("reserveInventory", []).append(r["created"])
                done = {"confirmed": "confirmInventory", "released": "releaseInventory"}.get(r["state"])
                if done:
                    out.setdefault(done, []).append(r["updated"])
        for c in f.get("charges", []):
            if c["order_id"] == oid:
                out.setdefault("processPayment", []).append(c["created"])
                if c["state"] == "refunded":
                    out.setdefault("refundPayment", []).append(c["updated"])
        return out

    def _crashes(self, oid: str, ev: Sequence[LaneEvent]) -> list[LaneEvent]:
        """Crash points fired for this order, and by any node while its saga ran (they end it too)."""
        times = [e.at for e in ev if e.kind != "state"]
        span = (min(times), max(times)) if times else None
        lanes = set(self.lanes())
        return crashes_near(self.final.get("crashes", []), self.extra_crashes, subject=oid,
                            span=span, slack=(0.5, 1.0),
                            lane_of=lambda node: node if node in lanes else "orchestrator",
                            t=lambda wall: None if wall is None else self.t(wall), in_word="in order")

    def trace(self, oid: str) -> dict[str, Any]:
        o = next((x for x in self.final.get("orders", []) if x["id"] == oid), None)
        title = (f"order {oid} (not in the order service)" if o is None else
                 f"order {oid} (key {o['key']}, {o['user']}, {_items(o['items'])}, total {o['total']}, "
                 f"now {o['status']})")
        return lane_trace(subject=oid, title=title, lanes=self.lanes(), events=self.events(oid),
                          faults=self.faults, end=self.end)


def story(evs: Sequence[Mapping[str, Any]], faults: Sequence[Mapping[str, Any]], *, keep: int = 7) -> list[str]:
    """What happened, in time order: the services' rows, the calls that failed, crashes, faults beginning.

    At most ``keep`` phrases: the first two and the last ones (the interruption is near the end).
    """
    items: list[tuple[float, str]] = []
    done = [e for e in evs if e.get("lane") in SERVICE_LANES and e.get("kind") in ("step", "compensation")]
    items += [(e["at"], f"{e['what']} at {when(e['at'])}") for e in done]
    failed = [e for e in evs if e.get("kind") == "message" and e.get("outcome") not in ("ok", "no")]
    for m in failed[:3]:
        what = str(m["what"]).split(" → ")[0]
        how = {"refused": "was refused", "lost": "was sent and never answered"}.get(
            str(m.get("outcome")), "got no answer (outcome unknown)")
        t = m.get("end") or m["at"]
        did = (f" ({m.get('to')} did it at {when(m['peer_at'])}; the answer never came back)"
               if m.get("peer_at") is not None and m.get("outcome") != "refused" else "")
        call = (f"the bus's delivery of {what} to {m.get('to')}" if m.get("lane") == "bus" else
                f"the {m.get('lane')}'s {what} call to {m.get('to')}")
        items.append((t, f"{call} {how} at {when(t)}{did}"
                      + (f" ({m['detail']})" if m.get("detail") else "")))
    crashes = [e for e in evs if e.get("kind") == "crash"]
    items += [(e["at"], f"{e.get('detail') or e.get('what')} at {when(e['at'])}") for e in crashes[:2]]
    times = [e["at"] for e in evs if e.get("kind") != "state"]
    if times:
        lo, hi = min(times), max(times)
        for f in faults:
            if f.get("start") is not None and lo - 0.5 <= f["start"] <= hi + 1.0:
                items.append((f["start"], fault_phrase(f)))
            elif f.get("start") is not None and f["start"] < lo and (f.get("end") is None or f["end"] > lo):
                items.append((lo - 1e-6, f"while {fault_phrase(f)}"))
    items.sort(key=lambda x: x[0])
    out = [w for _, w in items]
    return out if len(out) <= keep else out[:2] + ["…"] + out[-(keep - 2):]


def explain(kind: str, why: str, trace: Mapping[str, Any]) -> str:
    """The invariant, then the order's story from its lane trace (see the module docstring)."""
    evs = [e for e in trace.get("events", []) if isinstance(e, Mapping)]
    faults = [f for f in trace.get("faults", []) if isinstance(f, Mapping)]
    told = story(evs, faults)
    left = [str(e["what"]) for e in evs if e.get("kind") == "state"]
    who = f"order {trace.get('subject')}"
    head = why if why.startswith(who) else f"{why}; {who}"
    text = f"{INVARIANTS.get(kind, kind)}; {head}: " + (", ".join(told) or "no step recorded")
    if left:
        text += "; left: " + ", ".join(left)
    return text
