"""The saga invariants: what an order flow across several services must leave behind once healed.

A pure function of the history: the ``place`` ops (what each client was
told) and the last ``ok`` ``final`` op, whose value is every service's own
database read after the faults were healed and the sagas given time to
finish (see ``targets/saga_orders``)::

    {"orders": [{id, key, user, items: [[p, q], ...], total, status, created, updated}],
     "stock": {p: {initial, available}},
     "reservations": [{id, order_id, items, state: reserved|confirmed|released|expired, created, updated}],
     "charges": [{id, order_id, user, amount, state: charged|refunded, created, updated}],
     "crashes": [{node, point, order, at}], "now": wall-clock seconds at the read}

Invariants, each an anomaly kind naming the orders involved:

``order-not-terminal``       an order is neither CONFIRMED nor CANCELLED (a half-done saga)
``illegal-saga``             a terminal order's steps are not "all done" nor "a prefix, then the
                             compensations of exactly that prefix" (Garcia-Molina and Salem): a
                             CONFIRMED order with a compensation or a missing step, a CANCELLED
                             order with a step left uncompensated
``stock-not-conserved``      per product, initial != available + reserved + sold, where sold is the
                             quantity of CONFIRMED orders: stock leaked or oversold
``negative-stock``           a product's available stock is below zero
``orphan-reservation``       stock still reserved for an order that is terminal, or for no order
``double-charge``            an order charged (and not refunded) more than once
``wrong-charge``             a CONFIRMED order whose net charge is not its total
``cancelled-but-charged``    a CANCELLED order whose charges do not net to zero
``charge-without-order``     a charge naming an order the order service does not have
``ack-broken``               the client was told CONFIRMED and the order is not, or told FAILED and
                             it was confirmed or charged
``duplicate-orders-for-key`` one idempotency key, several orders
``status-regressed``         a ``status`` read saw an order CONFIRMED or CANCELLED, and the final
                             read has it in another state, or not at all (a terminal state changed)

Times in the prose are seconds since the run began: the services' wall
clock is aligned to the history by the final read's ``now`` and its
completion time. Each anomaly's ``data`` holds the orders named
(``orders``), a lane trace for each of the first three (``lanes``, see
:mod:`checkers.saga_lanes`: every step and compensation per service with
its time, the orchestrator's calls, the client's requests, the faults and
crash points in effect) and ``explanation``, the invariant and the first
order's story told from that trace; ``ops`` are the client's ``place`` ops
for those orders.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any, Iterable, Mapping

from checkers.api import Anomaly, CheckResult, Verdict, first_of_each_kind
from checkers.lanes import crash_events, fault_spans, refine_offset
from checkers.saga_lanes import ClientOp, SagaLanes, explain
from harness.history import History, Op

__all__ = ["KINDS", "SagaChecker", "check_state", "trace_of"]

KINDS = ("order-not-terminal", "illegal-saga", "stock-not-conserved", "negative-stock", "orphan-reservation",
         "double-charge", "wrong-charge", "cancelled-but-charged", "charge-without-order", "ack-broken",
         "duplicate-orders-for-key", "status-regressed")
LIMIT = 8
TERMINAL = ("CONFIRMED", "CANCELLED")


def _qty(items: Iterable[Any], product: str) -> int:
    return sum(int(q) for p, q in items if p == product)


class _View:
    """The final state indexed by order, with a clock mapping wall time to run seconds."""

    def __init__(self, final: Mapping[str, Any], offset: float | None,
                 faults: tuple[tuple[float, str], ...]) -> None:
        self.orders = {o["id"]: o for o in final.get("orders", [])}
        self.stock = final.get("stock", {})
        self.res: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in final.get("reservations", []):
            self.res[r["order_id"]].append(r)
        self.charges: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in final.get("charges", []):
            self.charges[c["order_id"]].append(c)
        self.crashes: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for c in final.get("crashes", []):
            self.crashes[c.get("order")].append(c)
        self.offset, self.faults = offset, faults

    def t(self, wall: float | None) -> str:
        if wall is None:
            return "?"
        return f"{wall + self.offset:.2f} s" if self.offset is not None else f"wall {wall:.2f}"

    def net(self, oid: str) -> int:
        return sum(int(c["amount"]) for c in self.charges.get(oid, []) if c["state"] == "charged")

    def trace(self, oid: str) -> str:
        """One order's recorded steps and compensations, in time order, in prose."""
        o = self.orders.get(oid)
        ev: list[tuple[float, str]] = []
        if o is not None:
            ev.append((o["created"], f"created at {self.t(o['created'])}"))
        for r in self.res.get(oid, []):
            items = ", ".join(f"{q} of {p}" for p, q in r["items"])
            if r["state"] == "confirmed" and r["updated"] == r["created"]:  # choreography: deducted outright
                ev.append((r["created"], f"deducted {items} ({r['id']}) at {self.t(r['created'])}"))
                continue
            ev.append((r["created"], f"reserved {items} ({r['id']}) at {self.t(r['created'])}"))
            if r["state"] != "reserved":
                ev.append((r["updated"], f"{r['id']} {r['state']} at {self.t(r['updated'])}"))
        for c in self.charges.get(oid, []):
            ev.append((c["created"], f"charged {c['amount']} ({c['id']}) at {self.t(c['created'])}"))
            if c["state"] == "refunded":
                ev.append((c["updated"], f"{c['id']} refunded at {self.t(c['updated'])}"))
        for c in self.crashes.get(oid, []):
            ev.append((c["at"], f"{c['node']} crashed at point {c['point']} at {self.t(c['at'])}"))
        ev.sort(key=lambda e: e[0])  # stable: a step before its own compensation on a tie
        lo = ev[0][0] if ev else None
        hi = ev[-1][0] if ev else None
        if lo is not None and hi is not None and self.offset is not None:
            near = [f"{what} at {ts:.2f} s" for ts, what in self.faults
                    if lo + self.offset - 1.0 <= ts <= hi + self.offset + 1.0]
            if near:
                ev.append((hi, "faults around it: " + ", ".join(near[:4])))
        head = (f"order {oid}" if o is None else
                f"order {oid} (key {o['key']}, {o['user']}, total {o['total']}, now {o['status']})")
        return head + ": " + ("; ".join(w for _, w in ev) if ev else "no step recorded")


def trace_of(final: Mapping[str, Any], oid: str) -> str:
    """The prose trace of one order in a final state (no clock alignment)."""
    return _View(final, None, ()).trace(oid)


def check_state(final: Mapping[str, Any], told: Mapping[str, tuple[str, Any]] | None = None, *,
                offset: float | None = None, faults: tuple[tuple[float, str], ...] = (),
                seen: Mapping[str, tuple[str, float | None]] | None = None,
                lanes: SagaLanes | None = None) -> list[Anomaly]:
    """Every invariant broken by ``final``.

    ``told`` maps key -> (status told, order id) from ok ``place`` ops;
    ``seen`` maps order id -> (terminal status a ``status`` read returned, run seconds of that read);
    ``lanes`` builds the orders' lane traces (by default from ``final`` alone, on ``offset``).
    """
    v = _View(final, offset, faults)
    if lanes is None:
        off = offset if offset is not None else 0.0
        lanes = SagaLanes(final=final, offset=off, end=None if final.get("now") is None else final["now"] + off)
    out: list[Anomaly] = []

    def add(kind: str, orders: list[str], why: str, **data: Any) -> None:
        traces = [v.trace(o) for o in orders[:3]]
        more = f" (and {len(orders) - 3} more)" if len(orders) > 3 else ""
        shown = [lanes.trace(o) for o in orders[:3]]
        told_why = f"{why}{more}"
        out.append(Anomaly(kind=kind, summary=f"{told_why}. " + " | ".join(traces),
                           data={"orders": orders, **data, "lanes": shown,
                                 "explanation": explain(kind, told_why, shown[0]) if shown else
                                 f"{kind}: {told_why}"}))

    for oid, o in v.orders.items():
        live = [r for r in v.res.get(oid, []) if r["state"] in ("reserved", "confirmed")]
        charged = [c for c in v.charges.get(oid, []) if c["state"] == "charged"]
        if o["status"] not in TERMINAL:
            add("order-not-terminal", [oid], f"order {oid} is still {o['status']} after recovery")
            continue
        if o["status"] == "CONFIRMED":
            comp = [r["id"] for r in v.res.get(oid, []) if r["state"] in ("released", "expired")] + \
                   [c["id"] for c in v.charges.get(oid, []) if c["state"] == "refunded"]
            confirmed = [r for r in live if r["state"] == "confirmed"]
            if comp or not confirmed or not charged:
                add("illegal-saga", [oid], f"order {oid} is CONFIRMED but "
                    + ("has compensations " + ", ".join(comp) if comp else
                       "has no confirmed reservation" if not confirmed else "was never charged"))
            if v.net(oid) != int(o["total"]) and charged:
                add("wrong-charge", [oid], f"order {oid} is CONFIRMED with total {o['total']} "
                    f"but is charged {v.net(oid)} net", charged=v.net(oid))
        else:
            if live or charged:
                left = [r["id"] for r in live] + [c["id"] for c in charged]
                add("illegal-saga", [oid], f"order {oid} is CANCELLED but its steps "
                    + ", ".join(left) + " were never compensated")
            if v.net(oid):
                add("cancelled-but-charged", [oid], f"order {oid} is CANCELLED yet its charges "
                    f"net {v.net(oid)}, not 0", charged=v.net(oid))
        if len(charged) > 1:
            add("double-charge", [oid], f"order {oid} is charged {len(charged)} times "
                f"({', '.join(c['id'] for c in charged)})", charges=[c["id"] for c in charged])
        held = [r for r in v.res.get(oid, []) if r["state"] == "reserved"]
        if held:
            add("orphan-reservation", [oid], f"order {oid} is {o['status']} and still holds reservation "
                + ", ".join(r["id"] for r in held))
    for oid in sorted(set(v.res) - set(v.orders)):
        held = [r["id"] for r in v.res[oid] if r["state"] in ("reserved", "confirmed")]
        if held:
            add("orphan-reservation", [oid], f"reservation(s) {', '.join(held)} hold stock for order "
                f"{oid}, which the order service does not have")
    for oid in sorted(set(v.charges) - set(v.orders)):
        if v.net(oid):
            add("charge-without-order", [oid], f"{v.net(oid)} charged for order {oid}, "
                "which the order service does not have")

    for p, s in sorted(v.stock.items()):
        reserved = sum(_qty(r["items"], p) for rs in v.res.values() for r in rs if r["state"] == "reserved")
        sold = sum(_qty(o["items"], p) for o in v.orders.values() if o["status"] == "CONFIRMED")
        if s["available"] < 0:
            add("negative-stock", [], f"product {p} has {s['available']} available", product=p)
        if s["initial"] != s["available"] + reserved + sold:
            diff = s["initial"] - s["available"] - reserved - sold
            culprits = sorted(oid for oid, rs in v.res.items()
                              if sum(_qty(r["items"], p) for r in rs if r["state"] == "confirmed")
                              != (_qty(v.orders[oid]["items"], p)
                                  if oid in v.orders and v.orders[oid]["status"] == "CONFIRMED" else 0))
            add("stock-not-conserved", culprits,
                f"product {p}: initial {s['initial']} != available {s['available']} + reserved {reserved} "
                f"+ sold {sold} ({'leaked' if diff > 0 else 'oversold'} {abs(diff)})",
                product=p, initial=s["initial"], available=s["available"], reserved=reserved, sold=sold)

    by_key: dict[str, list[str]] = defaultdict(list)
    for oid, o in v.orders.items():
        by_key[o["key"]].append(oid)
    for key, oids in sorted(by_key.items()):
        if len(oids) > 1:
            add("duplicate-orders-for-key", oids, f"idempotency key {key} made {len(oids)} orders "
                f"({', '.join(oids)})", key=key)

    for key, (status, oid) in sorted((told or {}).items()):
        o = v.orders.get(oid) if oid else None
        if status == "CONFIRMED" and (o is None or o["status"] != "CONFIRMED"):
            add("ack-broken", [oid] if oid else [], f"the client was told order {oid} (key {key}) is "
                f"CONFIRMED, but it is {'missing' if o is None else o['status']}", key=key)
        elif status == "FAILED" and oid and (v.net(oid) or (o is not None and o["status"] == "CONFIRMED")):
            add("ack-broken", [oid], f"the client was told order {oid} (key {key}) FAILED, but it is "
                f"{o['status'] if o else 'missing'} and charged {v.net(oid)} net", key=key)
    for oid, (status, at) in sorted((seen or {}).items()):
        o = v.orders.get(oid)
        if o is None or o["status"] != status:
            when = "" if at is None else f" at {at:.2f} s"
            add("status-regressed", [oid], f"a status read{when} saw order {oid} {status}, but the final read "
                f"has it {'missing' if o is None else o['status']}", seen=status)
    return out


def _faults(history: History) -> tuple[tuple[float, str], ...]:
    """Each fault once, as (run seconds, "kill orchestrator").

    A nemesis op's invocation and completion are both recorded; the second
    event of one kind within 2 s of the first is taken as its completion and
    only lends it the nodes it names ("start" -> "start inventory").
    """
    out: list[tuple[float, str, str]] = []  # (s, f, description)
    for e in history.nemesis:
        if e.time is None:
            continue
        t = e.time / 1e9
        nodes = e.value.get("nodes") if isinstance(e.value, dict) else None
        what = f"{e.f} {', '.join(nodes)}" if nodes else e.f
        if out and out[-1][1] == e.f and t - out[-1][0] <= 2.0:
            if nodes and out[-1][2] == e.f:
                out[-1] = (out[-1][0], e.f, what)
            continue
        out.append((t, e.f, what))
    return tuple((t, what) for t, _, what in out)


_LANE_NODES = ("orchestrator", "bus", "order", "inventory", "payment")


def _call_spans(history: History, final: Mapping[str, Any]) -> list[tuple[float, float, float, float]]:
    """Each answered ``place`` op with the orchestrator's answered createOrder call it made (by key)."""
    calls = {r["subject"]: r for r in final.get("trace", []) if r.get("step") == "createOrder"
             and r.get("outcome") == "ok" and r.get("end") is not None}
    out = []
    for o in history.operations:
        c = o.completion
        if (o.f == "place" and o.status == "ok" and isinstance(o.invoke.value, dict) and o.invoke.time is not None
                and c is not None and c.time is not None and o.invoke.value.get("key") in calls):
            r = calls[o.invoke.value["key"]]
            if o.invoke.value.get("key") is not None:
                out.append((o.invoke.time / 1e9, c.time / 1e9, float(r["start"]), float(r["end"])))
    return out


class SagaChecker:
    """The saga invariants over a history with a ``final`` read (see the module docstring)."""

    def __init__(self, *, name: str = "saga") -> None:
        self.name = name

    def check(self, history: History) -> CheckResult:
        told: dict[str, tuple[str, Any]] = {}
        seen: dict[str, tuple[str, float | None]] = {}
        final_op: Op | None = None
        places = 0
        for o in history.operations:
            if o.f == "place":
                places += 1
                if o.status == "ok" and isinstance(o.completion.value, dict):  # type: ignore[union-attr]
                    d = o.completion.value  # type: ignore[union-attr]
                    if d.get("status") in ("CONFIRMED", "FAILED"):
                        told[o.invoke.value["key"]] = (d["status"], d.get("order"))
            elif o.f == "status" and o.status == "ok" and isinstance(o.completion.value, dict):  # type: ignore[union-attr]
                at = None if o.invoke.time is None else o.invoke.time / 1e9
                for row in o.completion.value.get("orders") or []:  # type: ignore[union-attr]
                    if row.get("status") in TERMINAL:
                        seen.setdefault(row["id"], (row["status"], at))
            elif o.f == "final" and o.status == "ok":
                final_op = o.completion
        if final_op is None:
            return CheckResult(checker=self.name, verdict=Verdict.UNKNOWN,
                               stats={"places": places}, error="no final read succeeded: the services' "
                               "state after recovery is unknown")
        final = final_op.value
        offset = None
        if final_op.time is not None and final.get("now") is not None:
            offset = refine_offset(final_op.time / 1e9 - float(final["now"]), _call_spans(history, final))
        faults = _faults(history)
        client_ops: dict[str, list[ClientOp]] = defaultdict(list)
        place_ops: dict[str, list[int]] = defaultdict(list)
        for o in history.operations:
            if o.f == "place" and o.invoke.time is not None and isinstance(o.invoke.value, dict):
                c = o.completion
                told_s = (c.value.get("status") if o.status == "ok" and isinstance(c.value, dict)  # type: ignore[union-attr]
                          else "refused" if o.status == "fail" else "no answer")
                end = None if o.status == "info" or c is None or c.time is None else c.time / 1e9
                client_ops[o.invoke.value.get("key")].append(ClientOp(start=o.invoke.time / 1e9, end=end,
                                                                  told=str(told_s)))
                place_ops[o.invoke.value.get("key")].append(o.invoke.index)
        lanes = None
        if offset is not None:
            lanes = SagaLanes(final=final, offset=offset, faults=fault_spans(history), places=client_ops,
                              end=final_op.time / 1e9,  # type: ignore[operator]
                              extra_crashes=[e for _, e in crash_events(history, {n: n for n in _LANE_NODES}, offset)])
        found = check_state(final, told, offset=offset, faults=faults, seen=seen, lanes=lanes)
        key_of = {o["id"]: o["key"] for o in final.get("orders", [])}
        found = [dataclasses.replace(a, ops=tuple(i for oid in a.data.get("orders", [])[:3]
                                                  for i in place_ops.get(key_of.get(oid), ())))
                 for a in found]
        kept, counts = first_of_each_kind(found, LIMIT)
        orders = final.get("orders", [])
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if found else Verdict.VALID,
                           anomalies=kept,
                           stats={"places": places, "orders": len(orders), "told": len(told),
                                  "confirmed": sum(o["status"] == "CONFIRMED" for o in orders),
                                  "cancelled": sum(o["status"] == "CANCELLED" for o in orders),
                                  "crashes": len(final.get("crashes", [])), "counts": counts})
