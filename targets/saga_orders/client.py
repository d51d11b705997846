"""The saga client: ``place`` orders through the orchestrator (retrying on timeout, same key), ``final`` reads.

``place`` value ``{"key", "user", "items": [[product, qty], ...]}``; ``ok``
value ``{"key", "status": CONFIRMED|FAILED|PENDING, "order", "attempts"}``,
where the status is what the system told the client (``FAILED``: it said the
order did not happen). A request that times out is sent again with the same
idempotency key, as a client would, up to ``retries`` times; if none is
answered the op is ``info``. A refused connection on the first attempt
(nothing sent) is ``fail``.

``status`` value ``{"key"}``; ``ok`` value ``{"key", "orders": [{id, status}]}``
(the order service's orders for that key, read through the orchestrator).

``final`` value ``{"wait": s}``; ``ok`` value: every service's state (see
:func:`targets.saga_orders.orchestrator.final_state`).
"""

from __future__ import annotations

from harness.client import Completion
from harness.cluster import Address
from harness.history import Op
from harness.target import WorkloadContext
from harness.node.http import Refused, Unreachable, call

__all__ = ["SagaClient"]


class SagaClient:
    def __init__(self, address: Address | None = None, timeout_s: float = 3.0, retries: int = 1) -> None:
        self.address, self.timeout_s, self.retries = address, timeout_s, retries

    def open(self, node: str, address: Address, context: WorkloadContext) -> "SagaClient":
        return SagaClient(address, float(context.options.get("client_timeout", self.timeout_s)),
                          int(context.options.get("client_retries", self.retries)))

    def setup(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        pass

    def invoke(self, op: Op) -> Completion:
        assert self.address is not None, "invoke on an unopened client"
        addr = (self.address.host, self.address.port)
        if op.f == "final":
            wait = float(op.value.get("wait", 10))
            try:
                return Completion(type="ok", value=call(addr, "POST", "/final", op.value, timeout=wait + 15))
            except (Refused, Unreachable) as e:
                return Completion(type="fail", error=str(e))
        if op.f == "status":  # a read: a timeout changes nothing, so it may be fail
            try:
                d = call(addr, "POST", "/status", op.value, timeout=self.timeout_s)
                return Completion(type="ok", value={"key": op.value["key"], "orders": d["orders"]})
            except (Refused, Unreachable) as e:
                return Completion(type="fail", error=str(e))
        if op.f != "place":
            return Completion(type="fail", error=f"unknown op {op.f!r}")
        errors: list[str] = []
        for attempt in range(1 + self.retries):
            try:
                d = call(addr, "POST", "/place", op.value, timeout=self.timeout_s)
                return Completion(type="ok", value={"key": op.value["key"], "status": d["status"],
                                                    "order": d.get("order"), "attempts": attempt + 1})
            except Refused as e:  # the orchestrator answered an error: it may have done steps first
                errors.append(str(e))
            except Unreachable as e:
                if attempt == 0 and "ConnectionRefused" in str(e):
                    return Completion(type="fail", error=str(e))
                errors.append(str(e))
        return Completion(type="info", error="; ".join(errors))
