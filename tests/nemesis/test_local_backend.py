"""The nemesis against the real local backend: processes, proxies, probes.

The fake cluster tests pin down the logic; this checks that the nemesis's
claims hold on real nodes, using evidence the nemesis did not produce itself:
a node's own calls to its peers through the link proxies, pids, and a
durable write read back after a restart.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness import generators as gen
from harness.backends.local import LocalCluster, open_local_cluster
from harness.cluster import ClusterSpec
from harness.history import NEMESIS, Op
from nemesis.grudge import Grudge
from nemesis.package import package
from nemesis.windows import fault_windows
from tests.support.ping_target import TARGET, get

pytestmark = pytest.mark.slow

NODES = ("n1", "n2", "n3")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    spec = ClusterSpec(target=TARGET, variant="default", nodes=NODES,
                       run_id=f"nemesis-test-{os.getpid()}-{random.randrange(1 << 30)}", run_dir=tmp_path)
    with open_local_cluster(spec, state_dir=tmp_path / "state", stop_grace=1.0) as c:
        yield c


def _ev(i: int, f: str, value: Any = None) -> Op:
    return Op(index=i, type="info", process=NEMESIS, f=f, value=value)


def _peer_ok(c: LocalCluster, src: str, dst: str) -> bool:
    """Does ``src`` itself reach ``dst`` through its proxy? (The node's view, not a probe.)"""
    return bool(get(c.address(src), f"/peer/{dst}?timeout=0.5", timeout=3.0)["ok"])


def test_partition_kill_and_pause_on_real_nodes(cluster: LocalCluster, driver_for: Any) -> None:
    p = package("partition,kill,pause", nodes=NODES, interval_s=1, seed=3,
                probe_timeout_s=0.6, verify_s=3.0)
    n = p.nemesis.setup(cluster)
    try:
        # a partition: n1 drops n2 and n3 (one direction only)
        g = Grudge(kind="custom", nodes=NODES, drops={"n1": frozenset({"n2", "n3"})}, summary="n1 deaf")
        done = n.invoke(_ev(0, "start-partition", {"grudge": g.to_json()}))
        assert done.error is None and done.value["verified"] is True
        assert cluster.cut_links() == {("n2", "n1"), ("n3", "n1")}
        assert not _peer_ok(cluster, "n2", "n1") and not _peer_ok(cluster, "n3", "n1")
        assert _peer_ok(cluster, "n1", "n2") and _peer_ok(cluster, "n2", "n3")
        done = n.invoke(_ev(1, "stop-partition"))
        assert done.error is None and done.value["verified"] is True
        assert _peer_ok(cluster, "n2", "n1") and not cluster.cut_links()

        # kill and restart: the process is gone, then back with its data
        get(cluster.address("n2"), "/put?k=a&v=1")
        old = cluster.pid("n2")
        done = n.invoke(_ev(2, "kill", {"nodes": ["n2"]}))
        assert done.value == {"nodes": ["n2"]} and not cluster.alive("n2")
        with pytest.raises(OSError):
            get(cluster.address("n2"), "/health", timeout=0.5)
        done = n.invoke(_ev(3, "start", "all"))
        assert done.value == {"nodes": ["n2"]} and cluster.pid("n2") not in (None, old)
        assert get(cluster.address("n2"), "/get?k=a")["v"] == "1"

        # pause: alive but silent; resume: answers again
        n.invoke(_ev(4, "pause", {"nodes": ["n3"]}))
        assert cluster.alive("n3")
        with pytest.raises(OSError):
            get(cluster.address("n3"), "/health", timeout=0.5)
        n.invoke(_ev(5, "resume", None))
        assert get(cluster.address("n3"), "/health")["status"] == "ok"

        # the seeded schedule, cut short, then the final heal
        d = driver_for(n, op_ns=10_000_000, tick_ns=100_000_000)
        d.run(gen.time_limit(5, p.generator))
        d.run(p.final_generator)
    finally:
        p.nemesis.teardown()
    assert all(op.error is None for op in d.history), [op for op in d.history if op.error]
    assert {w.kind for w in fault_windows(d.history)} and all(
        w.end_ns is not None for w in fault_windows(d.history))
    assert not cluster.cut_links() and all(cluster.alive(x) for x in NODES)
    assert all(get(cluster.address(x), "/health", timeout=1.0)["status"] == "ok" for x in NODES)
    assert all(_peer_ok(cluster, a, b) for a in NODES for b in NODES if a != b)
