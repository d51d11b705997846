"""saga-orders on the Docker backend: one container per role, the same flaws caught, the same fix holding.

Each run is a real ``splitbrain run saga-orders --backend docker`` of 8 s
under kills of the orchestrator and partitions of the orchestrator and the
bus, with the orchestrator's ``after-charge`` crash point armed to fire
once (``crash_p=1``, back after 1 s): its first saga dies between the
charge and the confirmations. The seed orchestrator kept that saga only in
memory, so the order stays PENDING with its stock reserved and its charge
kept, and the run is caught; the durable one resumes it from its saga log
after the restart, and the run is valid. Skipped when no engine is
reachable or the image cannot be built here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.docker_runs import docker_or_skip, run_on_docker

pytestmark = [pytest.mark.slow, pytest.mark.docker]

ARGS = ("--nemesis", "kill:orchestrator,partition:orchestrator,partition:bus", "--nemesis-interval", "3",
        "--time-limit", "8", "--rate", "20", "--seed", "5", "--option", "crash_points=after-charge",
        "--option", "crash_p=1", "--option", "crash_once=1", "--option", "recovery=8")


@pytest.fixture(scope="module")
def engine() -> None:
    docker_or_skip("saga-orders")


def test_a_seed_run_on_docker_is_caught(engine: None, tmp_path: Path) -> None:
    d = run_on_docker("saga-orders", "seed", tmp_path, *ARGS)
    saga = d["checkers"]["saga"]
    assert d["backend"] == "docker" and d["valid"] is False
    assert "order-not-terminal" in saga["stats"]["counts"], saga["stats"]
    stuck = next(a for a in saga["anomalies"] if a["kind"] == "order-not-terminal")
    assert "orchestrator crashed at point after-charge" in stuck["summary"]


def test_a_durable_run_on_docker_under_the_same_faults_is_valid(engine: None, tmp_path: Path) -> None:
    d = run_on_docker("saga-orders", "durable", tmp_path, *ARGS)
    saga = d["checkers"]["saga"]
    assert d["backend"] == "docker" and d["valid"] is True, saga["anomalies"]
    assert saga["stats"]["confirmed"] > 0
