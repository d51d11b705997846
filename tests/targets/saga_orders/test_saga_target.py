"""The saga-orders Target: roles, node commands (each accepted by the node), and a real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cluster import Address
from harness.nodes import node_names
from harness.registry import get_target
from harness.target import NodeContext
from targets.saga_orders import ROLES, TARGET, node_command
from targets.saga_orders.server import parse_args

ROOT = Path(__file__).resolve().parents[3]


def ctx(role: str, **options: str) -> NodeContext:
    peers = {r: Address(host=f"10.0.0.{i}", port=7000) for i, r in enumerate(ROLES) if r != role}
    return NodeContext(name=role, index=ROLES.index(role), nodes=ROLES, variant="durable",
                       listen=Address(host="10.0.0.9", port=7000), peers=peers, data_dir="/d", python="python3",
                       options=options, role=role, roles={r: r for r in ROLES})


def test_the_target_is_registered_with_one_node_per_role() -> None:
    assert get_target("saga-orders") is TARGET
    assert set(TARGET.variants) == {"seed", "choreography", "durable"}
    assert node_names(TARGET) == ROLES
    assert [r.name for r in TARGET.roles if r.clients] == ["orchestrator"]
    assert (TARGET.source_dir / "Dockerfile").exists()


@pytest.mark.parametrize("role", ROLES)
def test_each_node_command_names_its_peers_by_role_and_passes_node_options(role: str) -> None:
    argv = node_command(ctx(role, crash_points="after-charge;before-compensate", stock="p1=5;p2=1",
                            crash_once="1", recovery="3"))
    a = parse_args(argv[3:])
    assert a.role == role and a.variant == "durable" and a.port == 7000
    assert set(a.peers) == set(ROLES) - {role}
    assert a.crash_points == "after-charge,before-compensate" and a.crash_once and a.stock == "p1=5,p2=1"
    assert "--recovery" not in argv                      # a workload option stays out of the node


@pytest.mark.slow
def test_a_durable_run_with_its_orchestrator_killed_checks_valid(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "harness.cli", "run", "saga-orders", "--variant", "durable",
            "--nemesis", "kill:orchestrator", "--nemesis-interval", "1.5", "--time-limit", "5", "--rate", "20",
            "--store", str(tmp_path), "--option", "recovery=5"]
    subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=180)
    (res,) = [p for p in tmp_path.glob("saga-orders/*/results.json") if not p.parent.is_symlink()]
    doc = json.loads(res.read_text())
    saga = doc["checkers"]["saga"]
    assert doc["valid"] is True, saga
    assert saga["stats"]["confirmed"] > 0 and any(f["kind"] == "kill" for f in doc["faults"])
