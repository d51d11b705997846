"""The gossip test target: nodes that reach each other at the addresses they advertise.

``gossip_node.py`` binds a ``client`` and a ``peer`` port; it is told its own
address and one seed peer, and learns every other member's address from the
members themselves. ``state(address)`` reads a node's view of whom it hears.
The ``watch`` workload reads that view now and then, and its checker accepts
any history: the runs exist to show what the traffic counters say.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from checkers.api import CheckResult, Verdict
from harness import generators as gen
from harness.client import Completion
from harness.cluster import Address
from harness.generators import OpSpec
from harness.history import History, Op
from harness.target import NodeContext, Target, Workload, WorkloadContext

__all__ = ["NODE_SCRIPT", "TARGET", "state"]

NODE_SCRIPT = Path(__file__).with_name("gossip_node.py")


def node_command(ctx: NodeContext) -> list[str]:
    seed = ctx.peers[sorted(ctx.peers)[0]] if ctx.peers else None
    return [ctx.python, str(NODE_SCRIPT), "--name", ctx.name, "--host", ctx.listen.host,
            "--client-port", str(ctx.ports["client"]), "--peer-port", str(ctx.ports["peer"]),
            "--seed", str(seed) if seed else ""]


def state(address: Address, *, timeout: float = 1.0) -> dict[str, Any]:
    with socket.create_connection((address.host, address.port), timeout=timeout) as s:
        s.settimeout(timeout)
        return json.loads(s.makefile().readline())


def ready(address: Address) -> bool:
    try:
        return "heard" in state(address, timeout=0.5)
    except (OSError, ValueError):
        return False


class GossipClient:
    def __init__(self, address: Address | None = None) -> None:
        self.address = address

    def open(self, node: str, address: Address, context: object = None) -> "GossipClient":
        return GossipClient(address)

    def setup(self) -> None:
        pass

    def invoke(self, op: Op) -> Completion:
        assert self.address is not None
        try:
            return Completion(type="ok", value=sorted(state(self.address)["heard"]))
        except (OSError, ValueError) as e:
            return Completion(type="fail", error=f"{type(e).__name__}: {e}")

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        pass


class AcceptAll:
    def check(self, history: History) -> CheckResult:
        return CheckResult(checker="accept-all", verdict=Verdict.VALID)


WATCH = Workload(
    name="watch", description="read each node's view of whom it hears",
    generator=lambda ctx: gen.rate(20, gen.repeat(OpSpec(f="view"))),
    checker=lambda ctx: AcceptAll())

TARGET = Target(
    name="gossip",
    description="test target: members learn each other's addresses from each other",
    variants={"default": "the only variant"},
    default_variant="default",
    node_command=node_command,
    ready=ready,
    client=GossipClient,
    workloads={"watch": WATCH},
    default_workload="watch",
    default_nodes=3,
    ports={"client": 0, "peer": 0},
    source_dir=Path(__file__).parent,
)
