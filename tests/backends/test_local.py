"""The local backend for real: ping-target processes, link proxies, kill, pause, cleanup.

"No process left" is checked by pid and process-group existence in /proc
(zombies count as gone), never by waiting a while.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from harness.backends import open_cluster
from harness.backends.local import LocalCluster, NodeDownError, NodeStartError, open_local_cluster
from harness.cli import main as cli_main
from harness.cluster import ClusterSpec, Killable, LogSource, Partitionable, Pausable
from harness.leftovers import group_members, process_start
from harness.target import NodeContext
from tests.support import ping_target
from tests.support.ping_target import TARGET, get

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHILD = ROOT / "tests" / "support" / "cluster_child.py"
NODES = ("n1", "n2", "n3")


def gone(pid: int) -> bool:
    return process_start(pid) is None and not group_members(pid)


def processes_mentioning(marker: str) -> list[int]:
    """Live pids whose command line contains ``marker`` (e.g. a run's temp dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and process_start(int(entry.name)) is not None:
                found.append(int(entry.name))
    return found


def make_spec(tmp_path: Path, target=TARGET, nodes=NODES) -> ClusterSpec:  # type: ignore[no-untyped-def]
    return ClusterSpec(target=target, variant="default", nodes=nodes,
                       run_id=f"t{uuid.uuid4().hex[:10]}", run_dir=tmp_path / "run")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def cluster(tmp_path: Path, state: Path) -> Iterator[LocalCluster]:
    with open_local_cluster(make_spec(tmp_path), state_dir=state) as c:
        yield c


def peer_ok(c: LocalCluster, src: str, dst: str, timeout: float = 0.4) -> bool:
    return get(c.address(src), f"/peer/{dst}?timeout={timeout}", timeout=timeout + 2)["ok"]


def test_cluster_has_every_ability_and_answers(cluster: LocalCluster) -> None:
    for ability in (Killable, Pausable, Partitionable, LogSource):
        assert isinstance(cluster, ability)
    ports = {cluster.address(n).port for n in NODES}
    assert len(ports) == 3
    for n in NODES:
        assert cluster.alive(n)
        assert get(cluster.address(n), "/health")["node"] == n
    # peers go through the proxies, never straight to the node's own port
    assert cluster.peer_address("n1", "n2").port not in ports
    assert all(peer_ok(cluster, s, d) for s in NODES for d in NODES if s != d)


def test_partition_drops_chosen_links_and_heals(cluster: LocalCluster) -> None:
    cluster.cut([("n1", "n2"), ("n2", "n1")])
    assert cluster.cut_links() == {("n1", "n2"), ("n2", "n1")}
    assert not cluster.reachable("n1", "n2", timeout=1.0)
    assert not cluster.reachable("n2", "n1", timeout=1.0)
    assert not peer_ok(cluster, "n1", "n2")
    assert not peer_ok(cluster, "n2", "n1")
    # other links are untouched
    assert cluster.reachable("n1", "n3") and cluster.reachable("n3", "n2")
    assert peer_ok(cluster, "n1", "n3") and peer_ok(cluster, "n3", "n1") and peer_ok(cluster, "n2", "n3")
    cluster.heal()
    assert cluster.reachable("n1", "n2") and cluster.reachable("n2", "n1")
    assert peer_ok(cluster, "n1", "n2") and peer_ok(cluster, "n2", "n1")


def test_one_way_cut_leaves_the_reverse_link(cluster: LocalCluster) -> None:
    cluster.cut([("n1", "n3")])
    assert not peer_ok(cluster, "n1", "n3")
    assert peer_ok(cluster, "n3", "n1")
    assert not cluster.reachable("n1", "n3") and cluster.reachable("n3", "n1")


def test_cut_connection_is_accepted_and_a_request_in_flight_hangs(cluster: LocalCluster) -> None:
    link = cluster.peer_address("n1", "n2")
    conn = http.client.HTTPConnection(link.host, link.port, timeout=0.5)  # keep-alive through the proxy
    try:
        conn.request("GET", "/health")
        assert json.loads(conn.getresponse().read())["node"] == "n2"
        cluster.cut([("n1", "n2")])
        conn.request("GET", "/health")
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    with socket.create_connection((link.host, link.port), timeout=1) as s:  # accepted, not refused
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            s.recv(1)
    cluster.heal()
    assert get(link, "/health")["node"] == "n2"


def test_cut_of_an_unknown_link_is_refused(cluster: LocalCluster) -> None:
    with pytest.raises(ValueError, match="n1->n9"):
        cluster.cut([("n1", "n9")])
    with pytest.raises(ValueError, match="n1->n1"):
        cluster.cut([("n1", "n1")])


def test_killed_node_is_dead_and_comes_back_with_its_data(cluster: LocalCluster) -> None:
    a = cluster.address("n1")
    assert get(a, "/put?k=x&v=42")["v"] == "42"
    pid = cluster.pid("n1")
    assert pid is not None
    cluster.kill("n1")
    assert not cluster.alive("n1") and cluster.pid("n1") is None
    assert gone(pid)
    with pytest.raises(ConnectionRefusedError):
        get(a, "/health", timeout=1)
    assert not peer_ok(cluster, "n2", "n1")  # dst down: a reset through the proxy, no hang
    cluster.start("n1")
    assert cluster.alive("n1") and cluster.pid("n1") != pid
    assert cluster.address("n1") == a
    assert get(a, "/get?k=x")["v"] == "42"
    assert peer_ok(cluster, "n2", "n1")


def test_stop_then_start(cluster: LocalCluster) -> None:
    pid = cluster.pid("n2")
    assert pid is not None
    cluster.stop("n2")
    assert not cluster.alive("n2") and gone(pid)
    cluster.stop("n2")  # stopping a stopped node is a no-op
    cluster.start("n2")
    cluster.start("n2")  # starting a running node is a no-op
    assert get(cluster.address("n2"), "/health")["node"] == "n2"


def test_pause_stops_answers_and_resume_brings_them_back(cluster: LocalCluster) -> None:
    a = cluster.address("n2")
    cluster.pause("n2")
    assert cluster.alive("n2")  # paused counts as alive
    with pytest.raises(TimeoutError):
        get(a, "/health", timeout=0.5)
    assert not peer_ok(cluster, "n1", "n2")
    assert not cluster.reachable("n1", "n2", timeout=0.5)
    cluster.resume("n2")
    assert get(a, "/health")["node"] == "n2"
    assert peer_ok(cluster, "n1", "n2")


def test_pause_of_a_dead_node_is_an_error(cluster: LocalCluster) -> None:
    cluster.kill("n3")
    with pytest.raises(NodeDownError, match="n3"):
        cluster.pause("n3")
    cluster.resume("n3")  # nothing to resume: no-op


def test_close_removes_processes_dirs_and_record_and_keeps_logs(
        tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(state))
    spec = make_spec(tmp_path)
    with open_cluster("local", spec) as c:  # through the registry of backends
        pids = [c.pid(n) for n in NODES]
        root = c.log_path("n1").parent.parent
        c.pause("n1")  # a paused node must not survive close either
        c.kill("n2")   # nor must a killed one come back
        assert root.is_dir() and len(list((state / "runs").iterdir())) == 1
    assert list((state / "runs").iterdir()) == []
    assert all(pid is not None and gone(pid) for pid in pids)
    assert not root.exists()
    assert processes_mentioning(root.name) == []
    logs = sorted(p.name for p in (spec.run_dir / "logs").iterdir())
    assert logs == ["n1.log", "n2.log", "n3.log"]
    assert "n3 listening on" in (spec.run_dir / "logs" / "n3.log").read_text()


def test_no_process_left_after_an_exception_in_the_block(tmp_path: Path, state: Path) -> None:
    pids: list[int | None] = []
    with pytest.raises(ZeroDivisionError):
        with open_local_cluster(make_spec(tmp_path), state_dir=state) as c:
            pids = [c.pid(n) for n in NODES]
            root = c.log_path("n1").parent.parent
            1 / 0
    assert len(pids) == 3 and all(p is not None and gone(p) for p in pids)
    assert not root.exists()
    assert list((state / "runs").iterdir()) == []


def _failing_target(node: str, argv_for_it: list[str]):  # type: ignore[no-untyped-def]
    def node_command(ctx: NodeContext) -> list[str]:
        return argv_for_it if ctx.name == node else ping_target.node_command(ctx)
    return replace(TARGET, node_command=node_command)


def test_node_that_exits_during_start_fails_the_open_and_leaves_nothing(tmp_path: Path, state: Path) -> None:
    target = _failing_target("n3", [sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"])
    spec = make_spec(tmp_path, target=target)
    with pytest.raises(NodeStartError) as err:
        with open_local_cluster(spec, state_dir=state):
            pytest.fail("the block must not run when a node cannot start")
    msg = str(err.value)
    assert "n3" in msg and "code 3" in msg and "boom: bad config" in msg
    assert processes_mentioning(f"splitbrain-{spec.run_id}-") == []
    assert list((state / "runs").iterdir()) == []
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"splitbrain-{spec.run_id}-*"))


def test_node_that_never_gets_ready_times_out_and_is_removed(tmp_path: Path, state: Path) -> None:
    marker = f"never-ready-{uuid.uuid4().hex}"
    target = _failing_target("n2", [sys.executable, "-c", f"import time; print('{marker}'); time.sleep(60)"])
    with pytest.raises(NodeStartError, match="n2 did not become ready"):
        with open_local_cluster(make_spec(tmp_path, target=target), state_dir=state, ready_timeout=1.0):
            pass
    assert processes_mentioning(marker) == []


def test_missing_executable_is_a_clear_error(tmp_path: Path, state: Path) -> None:
    target = _failing_target("n1", ["/nonexistent/splitbrain-node"])
    with pytest.raises(NodeStartError, match="cannot start node n1"):
        with open_local_cluster(make_spec(tmp_path, target=target), state_dir=state):
            pass


# ------------------------------------------------------ a harness that dies


def _spawn_child(tmp_path: Path, state: Path, run_id: str, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, SPLITBRAIN_STATE_DIR=str(state),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, str(CHILD), run_id, str(tmp_path / "run"), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _start_child(tmp_path: Path, state: Path) -> tuple[subprocess.Popen[str], dict[str, int], Path]:
    child = _spawn_child(tmp_path, state, f"t{uuid.uuid4().hex[:10]}")
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.wait(10)
        pytest.fail(f"cluster child exited early: {child.stderr.read() if child.stderr else ''}")
    info = json.loads(line)
    pids = {n: int(p) for n, p in info["pids"].items()}
    return child, pids, Path(info["root"])


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids to SIGKILL (as groups) whatever happens, so a failing test leaves nothing."""
    pids: list[int] = []
    try:
        yield pids
    finally:
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_sigint_to_the_harness_removes_every_node(tmp_path: Path, state: Path, reaper: list[int]) -> None:
    child, pids, root = _start_child(tmp_path, state)
    reaper.extend(pids.values())
    try:
        assert all(not gone(p) for p in pids.values())
        child.send_signal(signal.SIGINT)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode != 0  # it was interrupted, not finished
    assert all(gone(p) for p in pids.values())
    assert not root.exists()
    assert list((state / "runs").iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "run" / "logs").iterdir()) == ["n1.log", "n2.log", "n3.log"]


def test_sigint_while_nodes_are_starting_removes_every_node(
        tmp_path: Path, state: Path, reaper: list[int]) -> None:
    run_id = f"t{uuid.uuid4().hex[:10]}"
    marker = f"splitbrain-{run_id}-"
    child = _spawn_child(tmp_path, state, run_id, "--n3-never-ready")
    try:
        deadline = time.monotonic() + 60
        while len(pids := processes_mentioning(marker)) < 3:  # n1, n2 ready; n3 never will be
            assert child.poll() is None and time.monotonic() < deadline, "nodes did not appear"
            time.sleep(0.05)
        reaper.extend(pids)
        child.send_signal(signal.SIGINT)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode != 0
    assert all(gone(p) for p in pids)
    assert processes_mentioning(marker) == []
    assert list((state / "runs").iterdir()) == []


def _sigkill_child(tmp_path: Path, state: Path, reaper: list[int]) -> tuple[dict[str, int], Path]:
    child, pids, root = _start_child(tmp_path, state)
    reaper.extend(pids.values())
    child.kill()
    child.wait()
    child.stdout.close()  # type: ignore[union-attr]
    child.stderr.close()  # type: ignore[union-attr]
    assert all(not gone(p) for p in pids.values()), "nodes should outlive a SIGKILLed harness"
    assert root.exists() and len(list((state / "runs").iterdir())) == 1
    return pids, root


def test_sigkill_of_the_harness_then_clean_removes_everything(
        tmp_path: Path, state: Path, reaper: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    pids, root = _sigkill_child(tmp_path, state, reaper)
    assert cli_main(["clean", "--state-dir", str(state), "--no-docker"]) == 0
    out = capsys.readouterr().out
    assert all(gone(p) for p in pids.values())
    assert not root.exists()
    assert list((state / "runs").iterdir()) == []
    assert out.count("removed process group") == 3 and str(root) in out
    assert cli_main(["clean", "--state-dir", str(state), "--no-docker"]) == 0  # nothing left: still fine
    assert "removed 0 local leftover(s)" in capsys.readouterr().out


def test_next_run_removes_a_crashed_runs_leftovers(tmp_path: Path, state: Path, reaper: list[int]) -> None:
    pids, root = _sigkill_child(tmp_path, state, reaper)
    with open_local_cluster(make_spec(tmp_path / "second"), state_dir=state) as c:
        assert all(gone(p) for p in pids.values())
        assert not root.exists()
        assert c.alive("n1")
