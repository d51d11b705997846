"""Faults aimed at roles, on real nodes of the local, namespace and Docker backends.

The targets (``tests/support/roles_target.py``) have a coordinator and three
participants, and an orchestrator with three services. The faults are the ones
the seeded schedule draws for ``kill:coordinator`` and ``partition:orchestrator``;
what they did is read from evidence the nemesis does not produce: which
processes exist, their pids, and each node's own view of which peers it hears.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness import generators as gen
from harness.backends.local import open_local_cluster
from harness.cluster import ClusterSpec, EnvironmentError_
from harness.history import NEMESIS, Op
from harness.nodes import node_names, role_map
from harness.target import Target
from nemesis.package import package
from tests.support import roles_target
from tests.support.roles_target import get, hears

pytestmark = pytest.mark.slow

IN_CONTAINER = dict(script="/opt/splitbrain/tests/support/roles_node.py",
                    source_dir=Path(roles_target.__file__).parent / "roles_docker")
COORDINATED = {"local": roles_target.COORDINATED, "netns": roles_target.COORDINATED,
               "docker": roles_target.coordinated(**IN_CONTAINER)}
SHOP = {"local": roles_target.SHOP, "netns": roles_target.SHOP, "docker": roles_target.shop(**IN_CONTAINER)}


def _open(backend: str, target: Target, tmp_path: Path) -> Any:
    spec = ClusterSpec(target=target, variant="default", nodes=node_names(target),
                       run_id=f"roles-test-{os.getpid()}-{random.randrange(1 << 30)}", run_dir=tmp_path)
    if backend == "local":
        return open_local_cluster(spec, state_dir=tmp_path / "state", stop_grace=1.0)
    if backend == "netns":
        from harness.backends import netns
        why = netns.available()
        if why:
            pytest.skip(f"the netns backend is unavailable here: {why}")
        return netns.open_netns_cluster(spec, state_dir=tmp_path / "state", stop_grace=1.0, fallback=False)
    from harness.backends.docker import open_docker_cluster
    from harness.images import ImageBuildError
    try:
        from harness.backends.docker_engine import connect
        connect(timeout=10).close()
    except (EnvironmentError_, ImportError) as e:
        pytest.skip(f"no Docker engine: {e}")
    return _skip_unbuildable(open_docker_cluster(spec, stop_grace=1.0), ImageBuildError)


class _skip_unbuildable:
    """The Docker cluster's context manager, skipping the test when the images cannot be built here."""

    def __init__(self, cm: Any, error: type[Exception]) -> None:
        self.cm, self.error = cm, error

    def __enter__(self) -> Any:
        try:
            return self.cm.__enter__()
        except self.error as e:
            pytest.skip(f"cannot build the images here: {e}")

    def __exit__(self, *exc: Any) -> Any:
        return self.cm.__exit__(*exc)


@pytest.fixture(params=["local", "netns", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def coordinated(backend: str, tmp_path: Path) -> Iterator[Any]:
    with _open(backend, COORDINATED[backend], tmp_path) as c:
        yield c


@pytest.fixture
def shop(backend: str, tmp_path: Path) -> Iterator[Any]:
    with _open(backend, SHOP[backend], tmp_path) as c:
        yield c


def _pid(c: Any, node: str) -> int | None:
    return c.pid(node) if hasattr(c, "pid") else c.service_pid(node)


def _first(faults: str, target: Target, f: str, *, seed: int = 11) -> Any:
    """The value of the first ``f`` op the seeded schedule for ``faults`` draws."""
    nodes = node_names(target)
    p = package(faults, nodes=nodes, roles=role_map(target, nodes), interval_s=1, seed=seed)
    for op in gen.simulate(gen.time_limit(60, p.generator), seed=1, concurrency=0):
        if op.process == NEMESIS and op.f == f:
            return op.value
    raise AssertionError(f"the schedule for {faults} drew no {f}")


def _ev(f: str, value: Any) -> Op:
    return Op(index=0, type="info", process=NEMESIS, f=f, value=value)


def test_each_node_runs_its_roles_command_and_knows_every_peers_role(coordinated: Any) -> None:
    for node in coordinated.nodes:
        role = "coordinator" if node == "coordinator" else "participant"
        assert get(coordinated.address(node), "/health")["role"] == role  # its role's ready checked this too
    # the coordinator (started with --fan-out) stores a put on every participant, through the proxies
    assert get(coordinated.address("coordinator"), "/put?k=a&v=1")["ok"] is True
    assert all(get(coordinated.address(p), "/get?k=a")["v"] == "1" for p in coordinated.nodes)


def test_kill_coordinator_kills_the_coordinator_alone(coordinated: Any) -> None:
    c = coordinated
    participants = [n for n in c.nodes if n != "coordinator"]
    value = _first("kill:coordinator", COORDINATED["local"], "kill")
    assert value == {"nodes": ["coordinator"]}
    pids = {n: _pid(c, n) for n in c.nodes}
    nem = package("kill:coordinator", nodes=c.nodes, roles=role_map(c.spec.target, c.nodes), seed=11).nemesis.setup(c)
    try:
        done = nem.invoke(_ev("kill", value))
        assert done.error is None and done.value == {"nodes": ["coordinator"]}
        assert not c.alive("coordinator") and _pid(c, "coordinator") is None
        assert {n: _pid(c, n) for n in participants} == {n: pids[n] for n in participants}
        for p in participants:  # the participants still serve and still hear each other, not the coordinator
            assert hears(c.address(p)) == set(participants) - {p}
        back = nem.invoke(_ev("start", "all"))
        assert back.value == {"nodes": ["coordinator"]}
        assert c.alive("coordinator") and _pid(c, "coordinator") not in (None, pids["coordinator"])
        assert hears(c.address("coordinator")) == set(participants)
    finally:
        nem.teardown()


def test_partition_orchestrator_isolates_the_orchestrator_alone(shop: Any) -> None:
    c = shop
    services = {"orders", "inventory", "payment"}
    value = _first("partition:orchestrator", SHOP["local"], "start-partition")
    nem = package("partition:orchestrator", nodes=c.nodes, roles=role_map(c.spec.target, c.nodes), seed=11,
                  probe_timeout_s=0.6, verify_s=3.0).nemesis.setup(c)
    try:
        assert all(hears(c.address(n)) == set(c.nodes) - {n} for n in c.nodes)
        done = nem.invoke(_ev("start-partition", value))
        assert done.error is None and done.value["verified"] is True
        assert done.value["kind"] == "isolate" and done.value["summary"] == "orchestrator | orders inventory payment"
        assert hears(c.address("orchestrator")) == set()
        for s in services:  # every service hears the other services, none hears the orchestrator
            assert hears(c.address(s)) == services - {s}
        assert get(c.address("orchestrator"), "/put?k=b&v=2", timeout=5.0)["ok"] is False
        healed = nem.invoke(_ev("stop-partition", None))
        assert healed.error is None and healed.value["verified"] is True
        assert all(hears(c.address(n)) == set(c.nodes) - {n} for n in c.nodes)
    finally:
        nem.teardown()
