"""The netns backend, with real namespaces, real iptables, real packets.

Skipped, with the reason, where user namespaces, ``unshare``/``nsenter``/``ip``
or ``iptables`` are unavailable. The gossip target (``tests/support/gossip_*``)
is a system whose members reach each other at the addresses they advertise,
not at addresses the harness hands them: in namespaces a partition really
separates them (seen in their own view of whom they hear); on the local
backend it does not, and the run says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.backends.netns import available, open_netns_cluster
from harness.backends.local import open_local_cluster
from harness.cluster import ClusterSpec, PacketFault
from nemesis.effect import NO_EFFECT, judge
from nemesis.windows import FaultWindow
from tests.support import gossip_target
from tests.support.gossip_target import state

ROOT = Path(__file__).resolve().parents[2]
WHY = available()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(WHY is not None, reason=f"netns backend: {WHY}")]


def _spec(tmp_path: Path, run_id: str, target=gossip_target.TARGET, nodes=("n1", "n2", "n3"),
          variant: str = "default") -> ClusterSpec:
    return ClusterSpec(target=target, variant=variant, nodes=nodes, run_id=run_id, run_dir=tmp_path / "run")


def _wait(pred, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _hears(cluster, node: str, within: float = 0.6) -> set[str]:  # type: ignore[no-untyped-def]
    return {p for p, age in state(cluster.address(node))["heard"].items() if age < within}


def _isolation_window(links) -> FaultWindow:  # type: ignore[no-untyped-def]
    return FaultWindow(kind="partition", start_ns=0, end_ns=1, detail={"links": [list(l) for l in links]},
                       nodes=(), start_index=0, end_index=1)


def _isolate(node: str, nodes) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a, b) for a in nodes for b in nodes if a != b and node in (a, b)]


def test_a_partition_separates_gossip_members_as_they_see_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    with open_netns_cluster(_spec(tmp_path, "sbn-test-gossip"), fallback=False) as c:
        _wait(lambda: all(_hears(c, n) == set(c.nodes) - {n} for n in c.nodes), 15, "members to find each other")
        links = _isolate("n1", c.nodes)
        c.cut(links)
        time.sleep(1.5)
        assert _hears(c, "n1") == set()  # n1's own view: it hears no one
        assert _hears(c, "n2") == {"n3"} and _hears(c, "n3") == {"n2"}
        assert not c.reachable("n1", "n2", 0.5) and c.reachable("n2", "n3", 0.5)
        c.heal()
        _wait(lambda: _hears(c, "n1") == {"n2", "n3"}, 10, "n1 to hear its peers again")
        traffic = c.traffic()
    assert all(traffic[l].dropped > 0 for l in links), traffic  # the cut dropped the nodes' own packets
    assert judge(traffic, [_isolation_window(links)], source="iptables")["warning"] is None


def test_on_the_local_backend_the_same_cut_is_a_no_op_and_is_flagged(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    with open_local_cluster(_spec(tmp_path, "sbn-test-gossip-local")) as c:
        _wait(lambda: all(_hears(c, n) == set(c.nodes) - {n} for n in c.nodes), 15, "members to find each other")
        links = _isolate("n1", c.nodes)
        c.cut(links)
        time.sleep(1.5)
        assert _hears(c, "n1") == {"n2", "n3"}  # the members bypass the proxies: nothing was cut
        traffic = c.traffic()
    verdict = judge(traffic, [_isolation_window(links)], source="proxy")
    assert verdict["warning"] is not None and verdict["warning"].startswith(NO_EFFECT)


def test_a_run_records_traffic_and_warns_only_on_the_proxy_backend(tmp_path, monkeypatch) -> None:
    from harness import registry
    from harness.commands.run import perform_run, resolve

    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    scan = registry._scan
    monkeypatch.setattr(registry, "_scan", lambda: ({**scan()[0], "gossip": gossip_target.TARGET}, scan()[1]))
    warnings = {}
    for backend in ("netns", "local"):
        req = resolve("gossip", backend=backend, nemesis="partition", time_limit=8, nemesis_interval=1.5,
                      store=tmp_path / backend)
        res = perform_run(req, seed=4, progress=False, echo=lambda *a, **k: None)
        traffic = res.results["stats"]["traffic"]
        assert res.results["faults"], "no partition was in effect"
        assert traffic["links"] and traffic["partitions"] >= 1
        warnings[backend] = traffic["warning"]
    assert warnings["netns"] is None
    assert warnings["local"] and warnings["local"].startswith(NO_EFFECT)


def test_the_quorum_store_uses_the_peer_addresses_the_backend_gives(tmp_path, monkeypatch) -> None:
    from harness.registry import get_target

    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    spec = _spec(tmp_path, "sbn-test-qs", target=get_target("quorum-store"), variant="abd")
    with open_netns_cluster(spec, fallback=False) as c:
        log = c.log_path("n1").read_text()
        assert "10.77.0.12:7000" in log and "127.0.0.1" not in log.split("peers", 1)[-1].splitlines()[0]
        assert c.reachable("n1", "n2")
        c.cut([("n1", "n2")])
        assert not c.reachable("n1", "n2", 0.5) and c.reachable("n2", "n1", 0.5)


@pytest.mark.parametrize("fault,kind", [(PacketFault(delay_ms=80), "delay"), (PacketFault(loss=0.5), "loss"),
                                        (PacketFault(duplicate=0.5), "dup"),
                                        (PacketFault(delay_ms=40, reorder=0.5), "delay")])
def test_packet_faults_hit_the_nodes_packets_and_go_away(tmp_path, monkeypatch, fault, kind) -> None:
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    with open_netns_cluster(_spec(tmp_path, f"sbn-test-pkt-{kind}"), fallback=False) as c:
        before = c.measure_link("n1", "n2", count=10, timeout=0.5)
        c.shape(["n1"], fault)
        after = c.measure_link("n1", "n2", count=20, timeout=0.5)
        assert c.packet_hits()["n1"].get(kind, 0) > 0
        if fault.delay_ms and not fault.reorder:
            assert sorted(after["rtt_ms"])[len(after["rtt_ms"]) // 2] > fault.delay_ms * 0.8
        if fault.loss:
            assert after["lost"] > 0
        c.unshape()
        again = c.measure_link("n1", "n2", count=10, timeout=0.5)
        assert again["lost"] == 0 and max(again["rtt_ms"]) < 50
        assert before["lost"] == 0


def _ours(tag: str) -> list[int]:
    """Pids of live processes whose command line or environment names ``tag``."""
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
            env = (p / "environ").read_bytes()
        except OSError:
            continue
        if tag.encode() in cmd or tag.encode() in env:
            try:
                if (p / "stat").read_text().split(") ")[1].split()[0] not in "ZX":
                    found.append(int(p.name))
            except (OSError, IndexError):
                pass
    return found


def _netns_holders() -> dict[str, list[int]]:
    """Network namespace -> pids in it. A namespace lives only while a process is in it (no bind mounts here)."""
    out: dict[str, list[int]] = {}
    for p in Path("/proc").iterdir():
        try:
            out.setdefault(os.readlink(p / "ns" / "net"), []).append(int(p.name))
        except (OSError, ValueError):
            pass
    return out


def test_twenty_runs_with_sigint_and_sigkill_leave_nothing(tmp_path) -> None:
    """10 clean, 5 SIGINT, 5 SIGKILL + `splitbrain clean`: no process, namespace, directory or record left."""
    tag = f"sbn-leftover-{os.getpid()}"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, SPLITBRAIN_STATE_DIR=str(tmp_path / "state"), TMPDIR=str(tmp), SBN_TAG=tag,
               PYTHONPATH=str(ROOT))
    namespaces = set(_netns_holders())
    cmd = [sys.executable, "-m", "harness.cli", "run", "quorum-store", "--variant", "abd", "--backend", "netns",
           "--nodes", "3", "--time-limit", "3", "--store", str(tmp_path / "store")]
    for i in range(20):
        how = "clean" if i < 10 else "int" if i < 15 else "kill"
        p = subprocess.Popen([*cmd, "--seed", str(i)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        if how != "clean":
            _wait(lambda: list((tmp_path / "state" / "runs").glob("*.json")) and len(_ours(tag)) > 4, 30,
                  "the run's nodes to start")
            time.sleep(1.0)
            p.send_signal(signal.SIGINT if how == "int" else signal.SIGKILL)
        p.wait(60)
        if how == "kill":
            subprocess.run([sys.executable, "-m", "harness.cli", "clean", "--no-docker"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        _wait(lambda: not _ours(tag), 10, f"run {i} ({how}) to leave no process")
    assert not list((tmp_path / "state" / "runs").glob("*.json"))
    assert not [d for d in tmp.iterdir() if d.name.startswith("splitbrain-")]
    tagged = set(_ours(tag))  # empty by now; any new namespace must be another run's (other tests, users)
    assert not [ns for ns, pids in _netns_holders().items() if ns not in namespaces and set(pids) & tagged]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "sbn-" not in links  # bridges and veths live inside the run's namespaces only
    if os.geteuid() == 0:
        rules = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
        assert "sbn:" not in rules and "SBN-" not in rules  # no rule ever lands in the host's tables
