"""The ping test target: a :class:`~harness.target.Target` around ``ping_node.py``.

A real system small enough to reason about in a test: each node answers
``/health``, asks a peer's ``/health`` through the faultable network
(``/peer/<name>``), and keeps a durable SQLite key-value table (``/put``,
``/get``). See ``ping_node.py`` for the endpoints. :func:`get` is the client
side the tests use: one bounded HTTP GET.

``TARGET`` has no workloads: it is for testing backends, not for ``splitbrain run``.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from harness.client import Completion
from harness.cluster import Address
from harness.history import Op
from harness.target import NodeContext, Target

__all__ = ["NODE_SCRIPT", "TARGET", "get"]

NODE_SCRIPT = Path(__file__).with_name("ping_node.py")


def node_command(ctx: NodeContext) -> list[str]:
    return [ctx.python, str(NODE_SCRIPT), "--name", ctx.name, "--host", ctx.listen.host,
            "--port", str(ctx.listen.port), "--data-dir", ctx.data_dir,
            "--peers", json.dumps({name: str(addr) for name, addr in ctx.peers.items()})]


def get(address: Address, path: str, *, timeout: float = 2.0) -> Any:
    """GET ``path`` from ``address``; the decoded JSON body. Raises OSError on timeout/refusal."""
    conn = http.client.HTTPConnection(address.host, address.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return json.loads(resp.read())
    finally:
        conn.close()


def ready(address: Address) -> bool:
    try:
        return get(address, "/health", timeout=0.5).get("status") == "ok"
    except (OSError, ValueError, http.client.HTTPException):
        return False


class PingClient:
    """A minimal :class:`~harness.client.Client`: ``read``/``write`` of key ``value[0]``."""

    def __init__(self, address: Address | None = None) -> None:
        self.address = address

    def open(self, node: str, address: Address, context: object = None) -> "PingClient":
        return PingClient(address)

    def setup(self) -> None:
        pass

    def invoke(self, op: Op) -> Completion:
        assert self.address is not None, "invoke on an unopened client"
        key, value = op.value if isinstance(op.value, (list, tuple)) else ("k", op.value)
        try:
            if op.f == "write":
                get(self.address, f"/put?k={key}&v={value}", timeout=1.0)
                return Completion(type="ok", value=[key, value])
            if op.f == "read":
                return Completion(type="ok", value=[key, get(self.address, f"/get?k={key}", timeout=1.0)["v"]])
        except (OSError, ValueError, http.client.HTTPException) as e:
            return Completion(type="info", error=f"{type(e).__name__}: {e}")
        return Completion(type="fail", error=f"unknown f {op.f!r}")

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        pass


TARGET = Target(
    name="ping",
    description="test target: HTTP health, peer calls through the fault layer, SQLite kv",
    variants={"default": "the only variant"},
    default_variant="default",
    node_command=node_command,
    ready=ready,
    client=PingClient,
    workloads={},
    default_workload="none",
    default_nodes=3,
    source_dir=Path(__file__).parent,
)
