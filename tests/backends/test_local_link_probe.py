"""The local backend probes a link with the target's ``link_probe``, never with ``ready`` when one is given.

A ``ready`` that needs the cluster's health (etcd's ``/health`` needs a quorum)
cannot tell a cut link from a minority node; ``link_probe`` is what a link
answers on its own. The probe goes through the link's proxy, so a cut shows.
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from harness.backends.local import open_local_cluster
from harness.cluster import Address, ClusterSpec
from tests.support.ping_target import TARGET, ready

pytestmark = pytest.mark.slow


def test_reachable_uses_the_link_probe_and_the_cut_shows_through_it(tmp_path: Path) -> None:
    calls: list[tuple[str, Address]] = []
    lock = threading.Lock()
    serving = threading.Event()

    def strict_ready(a: Address) -> bool:  # "serves requests": false once the test says so
        with lock:
            calls.append(("ready", a))
        return ready(a) and not serving.is_set()

    def link_probe(a: Address) -> bool:
        with lock:
            calls.append(("link", a))
        return ready(a)

    target = replace(TARGET, ready=strict_ready, link_probe=link_probe)
    spec = ClusterSpec(target=target, variant="default", nodes=("n1", "n2", "n3"),
                       run_id=f"link-probe-{os.getpid()}-{random.randrange(1 << 30)}", run_dir=tmp_path)
    with open_local_cluster(spec, state_dir=tmp_path / "state", stop_grace=1.0) as c:
        serving.set()  # from now on ready says no, as a minority node's /health would
        calls.clear()
        assert c.reachable("n1", "n2", timeout=2.0) is True
        assert [k for k, _ in calls] == ["link"]
        assert calls[0][1] != c.address("n2")  # through the link's proxy, not to the node directly
        c.cut([("n1", "n2")])
        assert c.reachable("n1", "n2", timeout=1.0) is False
        assert c.reachable("n2", "n1", timeout=2.0) is True
        assert all(kind == "link" for kind, _ in calls)
