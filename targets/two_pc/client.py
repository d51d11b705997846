"""The 2PC client: ``place`` a transaction, ``read-all`` a snapshot, ``final`` read, all via the coordinator.

``place`` value ``{"txn", "user", "items": [[product, qty], ...]}``; ``ok``
value ``{"txn", "status": COMMITTED|ABORTED, "reason"}``: what the
coordinator told the client. No answer after sending (timeout, reset) is
``info``: the transaction may still commit. A refused connection (nothing
sent) is ``fail``. Transactions are never resent (the seed coordinator has
no idempotency: a resend would be a second transaction).

``read-all`` (value ``None``) is read-only: a timeout is ``fail``; ``ok``
value: each participant's snapshot (see
:meth:`targets.two_pc.participant.Participant.snapshot`).

``final`` value ``{"wait": s}``; ``ok`` value: every participant's state
(see :meth:`targets.two_pc.coordinator._Coordinator.final`).

``txn`` (the ``list-append`` and ``rw-register`` workloads) value: Elle
micro-ops ``[[f, key, value], ...]``, sent as ``POST /txn {txn, mops}``
under the id ``x<process>-<op index>`` (unique in a run). COMMITTED is
``ok`` with the micro-ops, reads filled in; ABORTED is ``fail`` (the
coordinator decided abort in phase one, before any commit); no answer, or an
error answer, is ``info`` as for ``place``.
"""

from __future__ import annotations

from harness.client import Completion
from harness.cluster import Address
from harness.history import Op
from harness.target import WorkloadContext
from harness.node.http import Refused, Unreachable, call

__all__ = ["TwoPcClient"]


class TwoPcClient:
    def __init__(self, address: Address | None = None, timeout_s: float = 5.0) -> None:
        self.address, self.timeout_s = address, timeout_s

    def open(self, node: str, address: Address, context: WorkloadContext) -> "TwoPcClient":
        return TwoPcClient(address, float(context.options.get("client_timeout", self.timeout_s)))

    def setup(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        pass

    def invoke(self, op: Op) -> Completion:
        assert self.address is not None, "invoke on an unopened client"
        addr = (self.address.host, self.address.port)
        try:
            if op.f == "final":
                wait = float(op.value.get("wait", 5))
                return Completion(type="ok", value=call(addr, "POST", "/final", op.value, timeout=wait + 20))
            if op.f == "read-all":
                return Completion(type="ok", value=call(addr, "GET", "/read-all", timeout=self.timeout_s))
            if op.f not in ("place", "txn"):
                return Completion(type="fail", error=f"unknown op {op.f!r}")
        except (Refused, Unreachable) as e:
            return Completion(type="fail", error=str(e))
        path, body = "/place", op.value
        if op.f == "txn":
            path, body = "/txn", {"txn": f"x{op.process}-{op.index}", "mops": op.value}
        try:
            d = call(addr, "POST", path, body, timeout=self.timeout_s)
        except Refused as e:
            return Completion(type="info", error=str(e))  # an error answer may come after some work
        except Unreachable as e:
            if "ConnectionRefused" in str(e):
                return Completion(type="fail", error=str(e))
            return Completion(type="info", error=str(e))
        if op.f == "txn":
            if d["status"] == "COMMITTED":
                return Completion(type="ok", value=d["mops"])
            return Completion(type="fail", error=d.get("reason") or d["status"])
        return Completion(type="ok", value={"txn": op.value["txn"], "status": d["status"],
                                            "reason": d.get("reason")})
