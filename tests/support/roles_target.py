"""Multi-role test targets around ``roles_node.py`` (for tests of roles and role-aimed faults).

``COORDINATED``  one ``coordinator`` (takes the clients, fans every put out to
                 its peers) and three ``participant`` s (clients=False).
``SHOP``         an ``orchestrator`` and one each of ``orders``, ``inventory``,
                 ``payment``: four roles of one node each.

Each role has its own node command (the coordinator/orchestrator is started
with ``--fan-out``) and its own readiness probe (it checks the role the node
reports, so a node started with the wrong role's command never becomes ready).
:func:`hears` asks a node which peers it hears from: the target's own view.
No workloads: these are for testing backends and the nemesis, not ``splitbrain run``.
:func:`coordinated` and :func:`shop` take the node script's path, for a
container where it lives elsewhere (``tests/support/roles_docker/``).
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Callable

from harness.client import Completion
from harness.cluster import Address
from harness.history import Op
from harness.target import NodeContext, Role, Target, WorkloadContext

__all__ = ["COORDINATED", "NODE_SCRIPT", "SHOP", "coordinated", "get", "hears", "shop"]

NODE_SCRIPT = Path(__file__).with_name("roles_node.py")


def get(address: Address, path: str, *, timeout: float = 2.0) -> Any:
    conn = http.client.HTTPConnection(address.host, address.port, timeout=timeout)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def hears(address: Address, *, timeout: float = 0.3) -> set[str]:
    """The peers the node at ``address`` hears from right now (through its own peer addresses)."""
    return set(get(address, f"/hears?timeout={timeout}", timeout=timeout * 4 + 2)["hears"])


def _command(script: str, *, fan_out: bool) -> Callable[[NodeContext], list[str]]:
    def command(ctx: NodeContext) -> list[str]:
        argv = [ctx.python, script, "--name", ctx.name, "--role", ctx.role,
                "--host", ctx.listen.host, "--port", str(ctx.listen.port),
                "--peers", json.dumps({name: str(addr) for name, addr in ctx.peers.items()})]
        return argv + (["--fan-out"] if fan_out else [])
    return command


def _ready_as(role: str) -> Callable[[Address], bool]:
    def ready(address: Address) -> bool:
        try:
            d = get(address, "/health", timeout=0.5)
        except (OSError, ValueError, http.client.HTTPException):
            return False
        return d.get("status") == "ok" and d.get("role") == role
    return ready


class RolesClient:
    """``write [k, v]`` / ``read [k, None]`` against the node it is opened on (the coordinator)."""

    def __init__(self, address: Address | None = None, timeout_s: float = 1.0) -> None:
        self.address, self.timeout_s = address, timeout_s

    def open(self, node: str, address: Address, context: WorkloadContext) -> "RolesClient":
        return RolesClient(address, float(context.options.get("client_timeout", self.timeout_s)))

    def setup(self) -> None:
        pass

    def invoke(self, op: Op) -> Completion:
        assert self.address is not None, "invoke on an unopened client"
        k, v = op.value
        try:
            if op.f == "write":
                ok = get(self.address, f"/put?k={k}&v={v}", timeout=self.timeout_s).get("ok")
                return Completion(type="ok", value=[k, v]) if ok else Completion(type="info", error="not on every peer")
            return Completion(type="ok", value=[k, get(self.address, f"/get?k={k}", timeout=self.timeout_s)["v"]])
        except (OSError, ValueError, http.client.HTTPException) as e:
            return Completion(type="info" if op.f == "write" else "fail", error=f"{type(e).__name__}: {e}")

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        pass


def _target(name: str, roles: list[tuple[str, int, bool]], script: str, source_dir: Path) -> Target:
    return Target(
        name=name, description="test target: roles, each with its own command and readiness",
        variants={"default": "the only variant"}, default_variant="default",
        node_command=_command(script, fan_out=False), ready=_ready_as("node"), client=RolesClient,
        workloads={}, default_workload="none", source_dir=source_dir,
        roles=tuple(Role(name=r, count=count, node_command=_command(script, fan_out=lead),
                         ready=_ready_as(r), clients=lead) for r, count, lead in roles))


def coordinated(*, script: str = str(NODE_SCRIPT), source_dir: Path = Path(__file__).parent) -> Target:
    """A coordinator (takes the clients, fans puts out) and three participants."""
    return _target("coordinated", [("coordinator", 1, True), ("participant", 3, False)], script, source_dir)


def shop(*, script: str = str(NODE_SCRIPT), source_dir: Path = Path(__file__).parent) -> Target:
    """An orchestrator (takes the clients) and one each of orders, inventory, payment."""
    return _target("shop", [("orchestrator", 1, True), ("orders", 1, False), ("inventory", 1, False),
                            ("payment", 1, False)], script, source_dir)


COORDINATED = coordinated()
SHOP = shop()
