"""The choreography variant's event bus: the guide's ``EventBus`` as a node of its own.

``POST /publish {type, data}`` queues the event in memory and answers at
once; worker threads deliver it to each subscriber's ``POST /event`` exactly
as the guide's ``publish`` does: once, and a handler's failure (an error
answer, a timeout, a dead service) is logged and dropped. Nothing is stored,
so killing the bus loses what it held: at-most-once delivery. Subscriptions
are fixed (the guide's ``subscribe`` calls), by role name.

Each event received and each delivery is recorded in the bus's step trace
(:class:`targets.saga_orders.trace.StepTrace`: the event type, the order, who
published it, each subscriber's outcome), read by ``GET /trace`` for the final
reads; an observation record only, the delivery rules above are unchanged.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Mapping

from harness.node.http import Refused, Unreachable, call, log
from targets.saga_orders.trace import StepTrace

__all__ = ["SUBSCRIPTIONS", "Bus"]

SUBSCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "ORDER_CREATED": ("inventory",),
    "INVENTORY_DEDUCTED": ("payment",),
    "INVENTORY_DEDUCTION_FAILED": ("order",),
    "PAYMENT_COMPLETED": ("order",),
    "PAYMENT_FAILED": ("inventory", "order"),
}


class Bus:
    def __init__(self, *, name: str, services: Mapping[str, tuple[str, int]], timeout: float,
                 workers: int = 8, trace: StepTrace | None = None) -> None:
        self.name, self.services, self.timeout, self.trace = name, services, timeout, trace
        self.q: "queue.Queue[dict[str, Any]]" = queue.Queue()
        self.delivered = self.dropped = 0
        for _ in range(workers):
            threading.Thread(target=self._deliver_loop, daemon=True).start()

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/health"): lambda _: (200, {"status": "ok", "role": "bus"}),
                ("POST", "/publish"): self.publish,
                ("POST", "/disarm"): lambda _: (200, {"disarmed": True}),  # the bus has no crash points
                ("GET", "/trace"): lambda _: (200, {"trace": self.trace.read() if self.trace else []}),
                ("GET", "/stats"): lambda _: (200, {"delivered": self.delivered, "dropped": self.dropped,
                                                    "queued": self.q.qsize()})}

    def publish(self, ev: Any) -> tuple[int, Any]:
        if self.trace is not None:  # received from its publisher: a message from that service to the bus
            self.trace.record((ev.get("data") or {}).get("order"), ev.get("type", "?"), to=ev.get("from"),
                              outcome="received")
        self.q.put(ev)
        return 202, {"queued": True}

    def _deliver_loop(self) -> None:
        while True:
            ev = self.q.get()
            for sub in SUBSCRIPTIONS.get(ev["type"], ()):
                try:
                    if self.trace is not None:
                        self.trace.call(ev["data"].get("order"), ev["type"], sub,
                                        lambda: call(self.services[sub], "POST", "/event", ev, timeout=self.timeout))
                    else:
                        call(self.services[sub], "POST", "/event", ev, timeout=self.timeout)
                    self.delivered += 1
                except (Refused, Unreachable) as e:  # the guide: console.error, and on to the next
                    self.dropped += 1
                    log(self.name, f"handler {sub} failed for {ev['type']} of order "
                                   f"{ev['data'].get('order')}: {e}")
