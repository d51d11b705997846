"""The runner with a multi-role target: clients only on roles that take them, each role's own ready."""

from __future__ import annotations

import threading
from pathlib import Path

from harness import generators as gen
from harness.client import Completion
from harness.cluster import Address
from harness.generators import OpSpec
from harness.recorder import Recorder
from harness.runner import execute, wait_ready
from harness.target import Role, Target, Workload, WorkloadContext

NODES = ("coordinator", "participant1", "participant2")
PORTS = {n: 9000 + i for i, n in enumerate(NODES)}
opened: list[tuple[str, str, str]] = []
probed: list[tuple[str, int]] = []
lock = threading.Lock()


class Cluster:
    nodes = NODES

    def start(self, node: str) -> None: pass
    def stop(self, node: str) -> None: pass
    def address(self, node: str) -> Address: return Address(host="127.0.0.1", port=PORTS[node])
    def alive(self, node: str) -> bool: return True


class Client:
    def open(self, node: str, address: Address, context: WorkloadContext) -> "Client":
        with lock:
            opened.append((node, context.variant, context.options["mode"]))
        return self

    def setup(self) -> None: pass
    def invoke(self, op) -> Completion: return Completion(type="ok", value=op.value)  # type: ignore[no-untyped-def]
    def teardown(self) -> None: pass
    def close(self) -> None: pass


def _ready_as(role: str):  # type: ignore[no-untyped-def]
    def ready(a: Address) -> bool:
        with lock:
            probed.append((role, a.port))
        return True
    return ready


WL = Workload(name="w", description="writes", checker=lambda ctx: None,  # type: ignore[arg-type,return-value]
              generator=lambda ctx: gen.fn(lambda rng: OpSpec(f="write", value=1)))
TARGET = Target(name="t", description="", variants={"v": ""}, default_variant="v",
                node_command=lambda ctx: [], ready=_ready_as("target"), client=Client,
                workloads={"w": WL}, default_workload="w",
                roles=(Role(name="coordinator", ready=_ready_as("coordinator")),
                       Role(name="participant", count=2, clients=False, ready=_ready_as("participant"))))


def test_clients_open_only_on_client_roles_with_the_workload_context(tmp_path: Path) -> None:
    opened.clear()
    wctx = WorkloadContext(nodes=NODES, variant="v", concurrency=4, options={"mode": "fast"})
    with Recorder(tmp_path / "history.jsonl") as rec:
        out = execute(cluster=Cluster(), target=TARGET, workload=WL, wctx=wctx, recorder=rec, seed=1,
                      time_limit_s=0.2, rate=100)
    assert opened == [("coordinator", "v", "fast")] * 4
    assert {e.node for e in out.events} == {"coordinator"}


def test_recovery_asks_each_node_with_its_roles_ready() -> None:
    probed.clear()
    assert wait_ready(Cluster(), TARGET, timeout_s=1.0) == ()
    assert sorted(probed) == [("coordinator", 9000), ("participant", 9001), ("participant", 9002)]
