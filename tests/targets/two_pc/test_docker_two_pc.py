"""two-pc on the Docker backend: one container per role, seed's blocking caught, durable's resolved.

Each run is a real ``splitbrain run two-pc --backend docker`` of 8 s under
participant kills and partitions of the coordinator, with the
coordinator's ``after-decision`` crash point armed (``crash_p=1``): its
first transaction dies with every participant prepared and none told the
decision. ``kill:coordinator`` restarts it (its interval is longer than the
run, so only the final heal does). The seed coordinator remembers nothing,
so the participants block for ever: caught, and named as the guide's
"blocking after coordinator crash". The durable one logged the decision and
drives it to completion after the restart: valid, the locks held while it
was down reported as resolved and, past the lock bound, as held long.
Skipped when no engine is reachable or the image cannot be built here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.docker_runs import docker_or_skip, run_on_docker

pytestmark = [pytest.mark.slow, pytest.mark.docker]

ARGS = ("--nemesis", "kill:coordinator", "--nemesis-interval", "60", "--time-limit", "8", "--concurrency", "2",
        "--rate", "10", "--seed", "3", "--option", "crash_points=after-decision", "--option", "crash_p=1",
        "--option", "recovery=5", "--option", "lock_bound_s=4")


@pytest.fixture(scope="module")
def engine() -> None:
    docker_or_skip("two-pc")


def test_a_seed_run_on_docker_is_caught_blocking(engine: None, tmp_path: Path) -> None:
    d = run_on_docker("two-pc", "seed", tmp_path, *ARGS)
    r = d["checkers"]["atomic-commit"]
    assert d["backend"] == "docker" and d["valid"] is False
    blocking = [a for a in r["anomalies"] if a["kind"] == "blocking"]
    assert blocking and blocking[0]["data"]["problem"] == "blocking after coordinator crash", r["anomalies"]
    assert blocking[0]["data"]["holders"] == ["inventory", "order", "payment"]
    assert min(blocking[0]["data"]["held_s"].values()) > 4  # held from the crash to the final read


def test_a_durable_run_on_docker_resolves_the_same_crash(engine: None, tmp_path: Path) -> None:
    d = run_on_docker("two-pc", "durable", tmp_path, *ARGS)
    r = d["checkers"]["atomic-commit"]
    assert d["backend"] == "docker" and d["valid"] is True, r["anomalies"]
    assert r["stats"]["blocking_resolved_count"] >= 3  # all three held it while the coordinator was down
    assert {b["state"] for b in r["stats"]["blocking_resolved"]} == {"committed"}
    held = r["stats"]["held_long"]  # the crash came at the first transaction, the restart after the run
    assert held and set(held[0]["participants"]) == {"inventory", "order", "payment"}, r["stats"]
    assert held[0]["longest_s"] > 4 and "the coordinator was down" in held[0]["summary"]
