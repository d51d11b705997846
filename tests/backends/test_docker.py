"""The Docker backend against the real engine: real containers, real iptables, real signals.

Uses the ping test target (``tests/backends/docker_ping``): every node answers
``/health``, calls a peer through the network on ``/peer/<name>``, and keeps a
durable SQLite table. One 3-node cluster is shared by the fault tests (each
test heals and restarts what it broke); the cleanup tests open their own.

Skipped, with the reason, when no engine is reachable or the base image cannot
be built here (no root or no debootstrap). The images are built once and cached
by content, so only the first run on a machine pays the base build (~1 min).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from harness.backends import open_cluster
from harness.backends.docker import DockerCluster, NodeDownError, open_docker_cluster
from harness.backends.docker_engine import OWNER_LABEL, RUN_LABEL, clean_leftovers, connect
from harness.cli import main as cli_main
from harness.cluster import (
    Cluster, ClusterSpec, EnvironmentError_, Killable, LogSource, Partitionable, Pausable,
)
from tests.backends.docker_ping.target import TARGET, get

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    try:
        client = connect(timeout=10)
    except EnvironmentError_ as e:
        pytest.skip(f"no Docker engine: {e}")
    from harness.images import ImageBuildError, ensure_base_image, ensure_target_image

    try:
        base = ensure_base_image(client)
        ensure_target_image(client, TARGET, base=base)
    except ImageBuildError as e:
        pytest.skip(f"cannot build the images here: {e}")
    yield client
    client.close()


def _labelled(client, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    f = {"label": f"{RUN_LABEL}={run_id}"}
    return ([f"container {c.name}" for c in client.containers.list(all=True, filters=f)]
            + [f"network {n.name}" for n in client.networks.list(filters=f)]
            + [f"volume {v.name}" for v in client.volumes.list(filters=f)])


def _spec(tmp: Path, nodes: tuple[str, ...] = ("n1", "n2", "n3")) -> ClusterSpec:
    return ClusterSpec(target=TARGET, variant="default", nodes=nodes,
                       run_id=f"t{uuid.uuid4().hex[:10]}", run_dir=tmp)


@pytest.fixture(scope="module")
def cluster(engine, tmp_path_factory) -> Iterator[DockerCluster]:  # type: ignore[no-untyped-def]
    spec = _spec(tmp_path_factory.mktemp("docker-run"))
    try:
        with open_docker_cluster(spec) as c:
            yield c
    finally:
        clean_leftovers(spec.run_id, engine)  # also if opening failed half-way


@pytest.fixture()
def fresh(cluster: DockerCluster) -> Iterator[DockerCluster]:
    """The shared cluster, healed and with every node up again after the test."""
    try:
        yield cluster
    finally:
        cluster.heal()
        for n in cluster.nodes:
            cluster.resume_container(n)
            cluster.resume(n)
            cluster.start(n)


def _peer(c: DockerCluster, src: str, dst: str, timeout: float = 1.0) -> dict:  # type: ignore[type-arg]
    """``src`` calls ``dst`` over the container network (the request the tests judge)."""
    return get(c.address(src), f"/peer/{dst}?timeout={timeout}", timeout=timeout + 5)


# ------------------------------------------------------------ fast: no engine

def test_unreachable_engine_is_one_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(EnvironmentError_) as e:
        connect(timeout=2)
    msg = str(e.value)
    assert "not reachable" in msg and str(tmp_path) in msg and "--backend local" in msg
    assert "\n" not in msg


def test_cli_exits_4_without_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    assert cli_main(["images", "build"]) == 4
    assert "not reachable" in capsys.readouterr().err


def test_cut_rules_drop_both_halves_of_the_directed_link() -> None:
    from harness.backends.docker_network import cut_rules, iptables_script

    rules = cut_rules([("n1", "n2")], {"n1": "10.0.0.11", "n2": "10.0.0.12"})
    assert rules == {
        "n2": [["-A", "INPUT", "-s", "10.0.0.11", "-m", "conntrack", "--ctdir", "ORIGINAL",
                "-j", "DROP"]],
        "n1": [["-A", "INPUT", "-s", "10.0.0.12", "-m", "conntrack", "--ctdir", "REPLY",
                "-j", "DROP"]],
    }
    assert "REJECT" not in iptables_script(rules["n1"] + rules["n2"])


def test_subnet_candidates_spread_runs_and_stay_in_the_pools() -> None:
    from harness.backends.docker_network import SUBNET_POOLS, candidate_subnets

    a, b = candidate_subnets("run-a"), candidate_subnets("run-b")
    assert a[0] != b[0] and sorted(a) == sorted(b)
    assert len(set(a)) == len(a) and all(any(s.subnet_of(p) for p in SUBNET_POOLS) for s in a)


def test_probe_verdicts() -> None:
    from harness.backends.docker_network import probe_passed

    assert probe_passed(0, "open\n") and probe_passed(0, "refused\n")
    assert not probe_passed(0, "dropped timed out\n") and not probe_passed(126, "")


# ---------------------------------------------------------------- with engine



@pytest.mark.docker
@pytest.mark.slow
def test_cluster_has_every_ability(cluster: DockerCluster) -> None:
    for proto in (Cluster, Killable, Pausable, Partitionable, LogSource):
        assert isinstance(cluster, proto)
    addrs = {cluster.address(n) for n in cluster.nodes}
    assert len(addrs) == 3 and all(a.host.startswith("10.") for a in addrs)
    assert all(cluster.alive(n) for n in cluster.nodes)


@pytest.mark.docker
@pytest.mark.slow
def test_partition_drops_packets_one_way_and_heals(fresh: DockerCluster) -> None:
    c = fresh
    assert _peer(c, "n1", "n2")["ok"]
    c.cut([("n1", "n2")])
    assert c.cut_links() == {("n1", "n2")}
    assert not c.reachable("n1", "n2", timeout=0.5)
    # n1's real request to n2 times out: the packets are dropped, not refused
    answer = _peer(c, "n1", "n2")
    assert not answer["ok"] and "timed out" in answer["error"], answer
    # a directed cut: n2 still reaches n1, n3 is untouched
    assert c.reachable("n2", "n1", timeout=1.0) and _peer(c, "n2", "n1")["ok"]
    assert c.reachable("n1", "n3", timeout=1.0) and _peer(c, "n3", "n2")["ok"]
    # the harness's own clients never pass through the fault
    assert get(c.address("n2"), "/health")["node"] == "n2"
    c.heal()
    assert c.cut_links() == frozenset()
    assert c.reachable("n1", "n2", timeout=1.0)
    assert _peer(c, "n1", "n2")["ok"]


@pytest.mark.docker
@pytest.mark.slow
def test_cut_both_ways_isolates_a_node(fresh: DockerCluster) -> None:
    c = fresh
    c.cut([(a, "n3") for a in ("n1", "n2")] + [("n3", b) for b in ("n1", "n2")])
    for a, b in (("n1", "n3"), ("n3", "n1"), ("n2", "n3"), ("n3", "n2")):
        assert not c.reachable(a, b, timeout=0.5), (a, b)
        assert "timed out" in (_peer(c, a, b, timeout=0.5)["error"] or ""), (a, b)
    assert _peer(c, "n1", "n2")["ok"]
    c.heal()
    assert _peer(c, "n3", "n1")["ok"] and _peer(c, "n1", "n3")["ok"]


@pytest.mark.docker
@pytest.mark.slow
def test_probe_of_a_dead_service_counts_as_reachable(fresh: DockerCluster) -> None:
    c = fresh
    c.kill("n2")
    assert c.reachable("n1", "n2", timeout=1.0)  # refused: the network carried it
    assert "refused" in _peer(c, "n1", "n2")["error"].lower()


@pytest.mark.docker
@pytest.mark.slow
def test_kill_really_kills_and_restart_keeps_data(fresh: DockerCluster) -> None:
    c = fresh
    key = uuid.uuid4().hex[:8]
    assert get(c.address("n1"), f"/put?k={key}&v=durable")["v"] == "durable"
    pid = c.service_pid("n1")
    assert pid is not None
    c.kill("n1")
    assert not c.alive("n1") and c.service_pid("n1") is None
    code, _ = c.exec("n1", ["test", "-e", f"/proc/{pid}"])
    assert code != 0, "the killed service's pid still exists"
    with pytest.raises(ConnectionRefusedError):
        get(c.address("n1"), "/health", timeout=2.0)
    c.start("n1")
    assert c.alive("n1") and c.service_pid("n1") not in (None, pid)
    assert get(c.address("n1"), f"/get?k={key}")["v"] == "durable"


@pytest.mark.docker
@pytest.mark.slow
def test_stop_is_graceful_and_start_brings_it_back(fresh: DockerCluster) -> None:
    c = fresh
    c.stop("n3")
    assert not c.alive("n3")
    c.start("n3")
    assert get(c.address("n3"), "/health")["node"] == "n3"


@pytest.mark.docker
@pytest.mark.slow
def test_pause_stops_answers_and_resume_restores(fresh: DockerCluster) -> None:
    c = fresh
    c.pause("n2")
    assert c.alive("n2")  # paused counts as alive
    with pytest.raises((TimeoutError, socket.timeout)):
        get(c.address("n2"), "/health", timeout=1.0)
    assert "timed out" in _peer(c, "n1", "n2", timeout=0.5)["error"]
    c.resume("n2")
    assert get(c.address("n2"), "/health")["node"] == "n2"


@pytest.mark.docker
@pytest.mark.slow
def test_pause_of_a_dead_node_says_so(fresh: DockerCluster) -> None:
    fresh.kill("n3")
    with pytest.raises(NodeDownError, match="not running"):
        fresh.pause("n3")


@pytest.mark.docker
@pytest.mark.slow
def test_container_pause_and_resume(fresh: DockerCluster) -> None:
    c = fresh
    c.pause_container("n1")
    assert c.alive("n1")
    with pytest.raises((TimeoutError, socket.timeout)):
        get(c.address("n1"), "/health", timeout=1.0)
    c.resume_container("n1")
    assert get(c.address("n1"), "/health")["node"] == "n1"


@pytest.mark.docker
@pytest.mark.slow
def test_cut_and_heal_while_a_container_is_frozen_apply_on_thaw(fresh: DockerCluster) -> None:
    c = fresh
    c.pause_container("n1")
    c.cut([("n3", "n1")])  # n1 cannot run iptables now
    c.resume_container("n1")
    assert not c.reachable("n3", "n1", timeout=0.5)
    assert c.reachable("n2", "n1", timeout=1.0)
    c.pause_container("n1")
    c.heal()
    c.resume_container("n1")
    assert c.reachable("n3", "n1", timeout=1.0)
    code, out = c.exec("n1", ["iptables", "-S", "INPUT"])
    assert code == 0 and "DROP" not in out


@pytest.mark.docker
@pytest.mark.slow
def test_container_kill_and_restart_keeps_address_data_and_cuts(fresh: DockerCluster) -> None:
    c = fresh
    key = uuid.uuid4().hex[:8]
    get(c.address("n3"), f"/put?k={key}&v=kept")
    addr = c.address("n3")
    c.cut([("n1", "n3")])
    c.kill_container("n3")
    assert not c.alive("n3")
    c.start_container("n3")
    assert c.alive("n3") and c.address("n3") == addr
    assert get(addr, f"/get?k={key}")["v"] == "kept"
    assert not c.reachable("n1", "n3", timeout=0.5), "the cut must survive a container restart"
    assert c.reachable("n3", "n2", timeout=1.0)


@pytest.mark.docker
@pytest.mark.slow
def test_logs_are_collected(fresh: DockerCluster, tmp_path: Path) -> None:
    paths = fresh.collect_logs(tmp_path / "logs")
    assert sorted(p.name for p in paths) == ["n1.log", "n2.log", "n3.log"]
    assert "n1 listening on" in (tmp_path / "logs" / "n1.log").read_text()


@pytest.mark.docker
@pytest.mark.slow
def test_nothing_left_after_the_block_and_logs_in_run_dir(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tmp_path, ("n1", "n2"))
    with open_cluster("docker", spec) as c:
        assert _labelled(engine, spec.run_id)
        assert _peer(c, "n1", "n2")["ok"]
    assert _labelled(engine, spec.run_id) == []
    assert (tmp_path / "logs" / "n2.log").read_text().count("splitbrain: service start") == 1


@pytest.mark.docker
@pytest.mark.slow
def test_nothing_left_after_an_exception(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tmp_path, ("n1",))
    with pytest.raises(RuntimeError, match="boom"):
        with open_docker_cluster(spec) as c:
            c.cut([])
            raise RuntimeError("boom")
    assert _labelled(engine, spec.run_id) == []


@pytest.mark.docker
@pytest.mark.slow
def test_nothing_left_after_sigint(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_id = f"t{uuid.uuid4().hex[:10]}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "tests.backends.docker_ping.child",
                             run_id, str(tmp_path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"the child died before its cluster was up: {proc.stderr.read() if proc.stderr else ''}"
        made = json.loads(line)
        assert len(made["containers"]) == 2 and len(_labelled(engine, run_id)) == 3
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert _labelled(engine, run_id) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        clean_leftovers(run_id, engine)


@pytest.mark.docker
@pytest.mark.slow
def test_clean_removes_what_a_sigkilled_harness_left(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_id = f"t{uuid.uuid4().hex[:10]}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "tests.backends.docker_ping.child",
                             run_id, str(tmp_path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline(), "the child died before its cluster was up"
        assert len(_labelled(engine, run_id)) == 3
        clean_leftovers(None, engine)
        assert len(_labelled(engine, run_id)) == 3, "a live run's resources must be spared"
        proc.kill()
        proc.wait(timeout=30)
        assert len(_labelled(engine, run_id)) == 3  # nothing could clean up
        removed = clean_leftovers(None, engine)
        assert sum(run_id in r for r in removed) == 3
        assert _labelled(engine, run_id) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        clean_leftovers(run_id, engine)


@pytest.mark.docker
@pytest.mark.slow
def test_clean_leftovers_removes_only_labelled(engine) -> None:  # type: ignore[no-untyped-def]
    run_id = f"t{uuid.uuid4().hex[:10]}"
    dead_owner = {RUN_LABEL: run_id, OWNER_LABEL: f"{socket.gethostname()}:999999999:1"}
    from harness.images import base_tag

    made = []
    try:
        made.append(engine.containers.create(base_tag(), ["sleep", "infinity"], labels=dead_owner,
                                             name=f"splitbrain-{run_id}-left"))
        bystander = engine.containers.create(base_tag(), ["sleep", "infinity"],
                                             name=f"splitbrain-{run_id}-bystander")
        made.append(bystander)
        net = engine.networks.create(f"splitbrain-{run_id}", labels=dead_owner)
        made.append(net)
        engine.volumes.create(f"splitbrain-{run_id}", labels=dead_owner)
        removed = clean_leftovers(None, engine)  # every dead owner's leftovers
        assert f"container splitbrain-{run_id}-left" in removed
        assert f"network splitbrain-{run_id}" in removed
        assert f"volume splitbrain-{run_id}" in removed
        assert _labelled(engine, run_id) == []
        bystander.reload()  # raises NotFound if it was removed
        assert bystander.name == f"splitbrain-{run_id}-bystander"
    finally:
        import docker.errors

        for obj in made:
            try:
                obj.remove(force=True) if hasattr(obj, "exec_run") else obj.remove()
            except docker.errors.NotFound:
                pass
        clean_leftovers(run_id, engine)


@pytest.mark.docker
@pytest.mark.slow
def test_clean_leftovers_spares_a_live_run(engine, cluster: DockerCluster) -> None:  # type: ignore[no-untyped-def]
    # the shared cluster's owner (this process) is alive: a global clean leaves it alone
    before = _labelled(engine, cluster.spec.run_id)
    clean_leftovers(None, engine)
    assert _labelled(engine, cluster.spec.run_id) == before
    assert get(cluster.address("n1"), "/health")["node"] == "n1"


@pytest.mark.docker
@pytest.mark.slow
def test_target_image_is_reused(engine) -> None:  # type: ignore[no-untyped-def]
    from harness.images import base_tag, ensure_target_image

    first = ensure_target_image(engine, TARGET, base=base_tag())
    again = ensure_target_image(engine, TARGET, base=base_tag())
    assert first == again
    assert engine.images.get(first).id == engine.images.get(again).id


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("variant", ["seed", "abd"])
def test_quorum_store_runs_end_to_end(engine, tmp_path: Path, variant: str) -> None:  # type: ignore[no-untyped-def]
    from harness.images import ensure_base_image, ensure_target_image
    from harness.registry import get_target

    ensure_target_image(engine, get_target("quorum-store"), base=ensure_base_image(engine))
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "quorum-store", "--backend", "docker",
         "--variant", variant, "--nodes", "3", "--nemesis", "partition,kill",
         "--nemesis-interval", "2", "--time-limit", "6", "--seed", "3", "--store", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    found = [p for p in tmp_path.glob("quorum-store/*/results.json") if not p.parent.is_symlink()]
    assert len(found) == 1, proc.stdout + proc.stderr
    res = json.loads(found[0].read_text())
    assert (res["backend"], res["variant"]) == ("docker", variant)
    assert proc.returncode in ((0,) if variant == "abd" else (0, 1)), proc.stdout + proc.stderr
    assert res["stats"]["ok"] > 0
    assert sorted(p.name for p in (found[0].parent / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]
    assert _labelled(engine, res["run_id"]) == []


@pytest.mark.docker
@pytest.mark.slow
def test_sigint_to_splitbrain_run_leaves_nothing(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from harness.images import ensure_base_image, ensure_target_image
    from harness.leftovers import process_start
    from harness.registry import get_target

    ensure_target_image(engine, get_target("quorum-store"), base=ensure_base_image(engine))
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "quorum-store", "--backend", "docker",
         "--variant", "abd", "--nodes", "3", "--nemesis", "partition", "--nemesis-interval", "1",
         "--time-limit", "120", "--seed", "4", "--store", str(store)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    owner = f"{OWNER_LABEL}={socket.gethostname()}:{proc.pid}:{process_start(proc.pid)}"
    try:
        import time

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            hist = [p for p in store.glob("quorum-store/*/history.jsonl") if not p.parent.is_symlink()]
            if hist and hist[0].stat().st_size > 5000:
                break
            time.sleep(0.2)
        assert len(engine.containers.list(filters={"label": owner})) == 3, "the run never got going"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    f = {"label": owner}
    assert engine.containers.list(all=True, filters=f) == []
    assert engine.networks.list(filters=f) == []
    assert engine.volumes.list(filters=f) == []
