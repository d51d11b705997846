"""Small histories from real nodes: the seed variant's flaw, and ABD under a kill.

The first scenario is deterministic: with the seed variant, a write that
reports ``fail`` is later read. The second runs a few concurrent clients
against ABD while a node is killed and restarted, and checks the history with
the linearizability checker when that module is available.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from harness.history import History, Op
from targets.quorum_store.client import QuorumStoreClient

pytestmark = pytest.mark.slow


class Recorder:
    """A thread-safe history of Ops, as the runner would record them."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.t0 = time.monotonic_ns()
        self._lock = threading.Lock()

    def add(self, **kw: Any) -> None:
        with self._lock:
            self.ops.append(Op(index=len(self.ops), time=time.monotonic_ns() - self.t0, **kw))

    def run(self, process: int, client: QuorumStoreClient, f: str, value: Any) -> Any:
        self.add(type="invoke", process=process, f=f, value=value)
        c = client.invoke(self.ops[-1])
        self.add(type=c.type, process=process, f=f, value=c.value if c.type == "ok" else value, error=c.error)
        return c

    def history(self) -> History:
        return History.of(self.ops)


def linearizability(*, required: bool) -> Any:
    """The per-key register checker; None (or a skip, if ``required``) while it is not built."""
    try:
        from checkers.linearizability import Linearizability
    except ImportError as e:
        if required:
            pytest.skip(f"checkers.linearizability is not available: {e}")
        return None
    return Linearizability(model="register", independent=True)


def test_seed_a_write_reported_failed_is_read_later(qs_cluster: Any) -> None:
    # W=2, R=3: the read asks every replica, so the outcome does not depend on who answers first.
    c = qs_cluster(3, "seed", options={"w": "2", "r": "3"})
    rec = Recorder()
    client = QuorumStoreClient()
    to_n1 = client.open("n1", c.addresses["n1"])
    try:
        assert rec.run(0, to_n1, "write", [0, 1]).type == "ok"
        c.kill("n2")
        c.kill("n3")
        failed = rec.run(0, to_n1, "write", [0, 2])
        assert failed.type == "fail"                    # the client is told: not written
        c.start("n2", "n3")
        r = rec.run(0, to_n1, "read", [0, None])
        assert (r.type, r.value) == ("ok", [0, 2])      # ... and yet it is read: not linearizable
    finally:
        to_n1.close()
    checker = linearizability(required=False)
    if checker is not None:
        assert checker.check(rec.history()).verdict.value == "invalid"


def test_abd_concurrent_clients_with_a_node_killed_and_restarted_stay_linearizable(qs_cluster: Any) -> None:
    c = qs_cluster(3, "abd")
    rec = Recorder()
    stop = threading.Event()
    proto = QuorumStoreClient(timeout_s=1.5)

    def worker(i: int) -> None:
        node = c.names[i % 3]
        client = proto.open(node, c.addresses[node])
        process, n = i, 0
        try:
            while not stop.is_set():
                n += 1
                key = n % 2
                if n % 2:
                    done = rec.run(process, client, "read", [key, None])
                else:
                    done = rec.run(process, client, "write", [key, i * 10_000 + n])
                if done.type == "info":
                    process += 4                        # Jepsen: a fresh process after info
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.6)
        c.kill("n3")
        time.sleep(0.6)
        c.start("n3")
        time.sleep(0.6)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    h = rec.history()
    oks = [o for o in h.operations if o.status == "ok"]
    assert len(oks) > 20 and any(o.f == "write" for o in oks)
    result = linearizability(required=True).check(h)
    assert result.verdict.value == "valid", result.to_json()
