"""The Redis worked example (``examples/redis_sentinel/``): an outside target, tested as a user would.

Fast tests check what the target hands each node (who replicates from whom,
what the Sentinels monitor) without Redis. The slow ones need Debian's
``redis-server`` and ``redis-sentinel`` and skip, saying so, without them. The
failover test reads Redis's own state (``ROLE``, ``GET``) to show what the
harness claims: the isolated primary acknowledged a write, a replica was
promoted, and after the heal the write is gone.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from harness.cluster import Address, ClusterSpec
from harness.history import NEMESIS, Op
from harness.nodes import client_nodes, layout, node_context, node_names, role_map
from nemesis.package import package

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "redis_sentinel"
if importlib.util.find_spec("splitbrain_redis_sentinel") is None:  # not pip-installed: use the checkout
    sys.path.insert(0, str(EXAMPLE))

from splitbrain_redis_sentinel import TARGET, missing_binaries  # noqa: E402
from splitbrain_redis_sentinel.resp import Connection, RedisError  # noqa: E402

NODES = node_names(TARGET)
needs_redis = pytest.mark.skipif(
    bool(missing_binaries()),
    reason=f"needs {', '.join(missing_binaries())} on PATH: apt-get install -y redis-server redis-sentinel")


def _ctx(node: str) -> Any:
    spec = ClusterSpec(target=TARGET, variant="default", nodes=NODES, run_id="t", run_dir=Path("/tmp"))
    specs = {s.name: s for s in layout(TARGET, NODES)}
    peers = {p: {"client": Address(host=f"10.0.0.{i}", port=7000)} for i, p in enumerate(NODES, 1) if p != node}
    return node_context(spec, specs[node], listen=Address(host="10.0.0.9", port=7000), data_dir="/d",
                        python="python3", peer_ports=peers)


def test_roles_name_the_nodes_and_only_redis_servers_take_clients() -> None:
    assert NODES == ("primary", "replica1", "replica2", "sentinel1", "sentinel2", "sentinel3")
    assert client_nodes(TARGET, NODES) == ("primary", "replica1", "replica2")


def test_each_role_gets_its_own_command_aimed_at_the_primary_through_its_peer_address() -> None:
    from harness.nodes import command_of
    specs = {s.name: s for s in layout(TARGET, NODES)}
    primary = command_of(specs["primary"].role, TARGET)(_ctx("primary"))
    replica = command_of(specs["replica2"].role, TARGET)(_ctx("replica2"))
    sentinel = command_of(specs["sentinel3"].role, TARGET)(_ctx("sentinel3"))
    assert primary[0] == "redis-server" and "--replicaof" not in primary
    assert replica[-3:] == ["--replicaof", "10.0.0.1", "7000"]
    assert sentinel[:2] == ["sh", "-c"] and "sentinel monitor splitbrain 10.0.0.1 7000 2" in sentinel[-1]


# --- with Redis ----------------------------------------------------------------------


def _eventually(what: str, probe: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got = probe()
        except OSError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.2)


def _redis(c: Any, node: str, *cmd: Any) -> Any:
    a = c.address(node)
    conn = Connection(a.host, a.port, timeout=1.0)
    try:
        return conn.call(*cmd)
    finally:
        conn.close()


def _spec(tmp_path: Path) -> ClusterSpec:
    return ClusterSpec(target=TARGET, variant="default", nodes=NODES,
                       run_id=f"redis-test-{os.getpid()}-{random.randrange(1 << 30)}", run_dir=tmp_path)


@pytest.mark.slow
@needs_redis
def test_on_local_it_replicates_and_a_killed_primary_keeps_its_writes(tmp_path: Path) -> None:
    from harness.backends.local import open_local_cluster

    with open_local_cluster(_spec(tmp_path), state_dir=tmp_path / "state", stop_grace=1.0) as c:
        assert _redis(c, "primary", "SET", "sb:a", "1") == "OK"
        for r in ("replica1", "replica2"):  # through the link proxies given as --replicaof
            _eventually(f"{r} has sb:a", lambda r=r: _redis(c, r, "GET", "sb:a") == "1")
            assert isinstance(_redis(c, r, "SET", "sb:b", "2"), RedisError)  # READONLY
        c.kill("primary")
        c.start("primary")
        assert _redis(c, "primary", "GET", "sb:a") == "1"  # appendfsync always: nothing lost to a kill
    assert {p.name for p in (tmp_path / "logs").iterdir()} == {f"{n}.log" for n in NODES}


def _netns_or_skip() -> None:
    from harness.backends import netns
    why = netns.available()
    if why:
        pytest.skip(f"the netns backend is unavailable here: {why}")


@pytest.mark.slow
@needs_redis
def test_on_netns_an_isolated_primary_acknowledges_a_write_that_failover_then_loses(tmp_path: Path) -> None:
    _netns_or_skip()
    from harness.backends.netns import open_netns_cluster

    roles = role_map(TARGET, NODES)
    pkg = package("partition:primary", nodes=NODES, roles=roles, seed=1, probe_timeout_s=0.6, verify_s=3.0)
    grudge = {"grudge": {"kind": "isolate", "nodes": list(NODES),
                         "drops": {n: ["primary"] for n in NODES if n != "primary"} | {"primary": list(NODES[1:])}}}
    with open_netns_cluster(_spec(tmp_path), state_dir=tmp_path / "state", fallback=False) as c:
        _eventually("every Sentinel knows both replicas", lambda: all(
            _redis(c, s, "SENTINEL", "REPLICAS", "splitbrain") and
            len(_redis(c, s, "SENTINEL", "REPLICAS", "splitbrain")) == 2 for s in NODES[3:]))
        assert _redis(c, "primary", "SET", "sb:k", "before") == "OK"
        _eventually("replicas caught up", lambda: all(_redis(c, r, "GET", "sb:k") == "before"
                                                      for r in ("replica1", "replica2")))
        nem = pkg.nemesis.setup(c)
        try:
            cut = nem.invoke(Op(index=0, type="info", process=NEMESIS, f="start-partition", value=grudge))
            assert cut.error is None and cut.value["verified"] is True
            # the harness's client still reaches the isolated primary, which acknowledges the write
            assert _redis(c, "primary", "SET", "sb:k", "lost") == "OK"
            promoted = _eventually("a replica promoted by the Sentinels", lambda: next(
                (r for r in ("replica1", "replica2") if _redis(c, r, "ROLE")[0] == "master"), None))
            healed = nem.invoke(Op(index=1, type="info", process=NEMESIS, f="stop-partition", value=None))
            assert healed.error is None
        finally:
            nem.teardown()
        _eventually("the old primary demoted to a replica", lambda: _redis(c, "primary", "ROLE")[0] == "slave")
        _eventually("the old primary resynced", lambda: _redis(c, "primary", "GET", "sb:k") == "before")
        assert _redis(c, promoted, "GET", "sb:k") == "before"  # the acknowledged "lost" is gone everywhere


# --- the example's own checker ------------------------------------------------------


def _hist(*ops: tuple[int, str, str, list[Any], float, float, str]) -> Any:
    """(process, f, type, value, start s, end s, node) -> a History."""
    from harness.history import History, Op
    events = []
    for p, f, t, v, a, b, node in ops:
        events.append((a, Op(index=0, type="invoke", process=p, f=f, value=[v[0], None] if f == "read" else v,
                             time=int(a * 1e9), node=node)))
        events.append((b, Op(index=0, type=t, process=p, f=f, value=v, time=int(b * 1e9), node=node)))
    events.sort(key=lambda e: e[0])
    return History.of([Op(index=i, type=o.type, process=o.process, f=o.f, value=o.value, time=o.time,
                          node=o.node) for i, (_, o) in enumerate(events)])


def test_lost_writes_names_an_acknowledged_write_a_later_read_proves_gone() -> None:
    from checkers.api import Verdict
    from splitbrain_redis_sentinel.lost import LostWrites

    h = _hist((0, "write", "ok", [0, 1], 0.0, 0.1, "primary"),
              (1, "write", "ok", [0, 2], 0.2, 0.3, "primary"),      # acknowledged, never read
              (2, "read", "ok", [0, 1], 0.5, 0.6, "replica1"))      # began after 2 was acked: sees 1
    r = LostWrites().check(h)
    assert r.verdict is Verdict.INVALID and len(r.anomalies) == 1
    assert r.anomalies[0].summary.startswith("key 0: lost write: write 2 (p1 via primary) was acknowledged")
    assert "the read by p2 via replica1 at 0.500 s returned 1" in r.anomalies[0].summary


def test_lost_writes_accepts_reads_that_do_not_prove_a_loss() -> None:
    from checkers.api import Verdict
    from splitbrain_redis_sentinel.lost import LostWrites

    concurrent = _hist((0, "write", "ok", [0, 1], 0.0, 0.4, "primary"),   # overlaps write 2
                       (1, "write", "ok", [0, 2], 0.2, 0.3, "primary"),
                       (2, "read", "ok", [0, 1], 0.5, 0.6, "primary"))  # 1 may follow 2: legal
    seen = _hist((0, "write", "ok", [0, 1], 0.0, 0.1, "primary"),
                 (1, "write", "ok", [0, 2], 0.2, 0.3, "primary"),
                 (3, "read", "ok", [0, 2], 0.35, 0.4, "primary"),       # 2 was read: not lost
                 (2, "read", "ok", [0, 1], 0.5, 0.6, "replica1"))
    indeterminate = _hist((0, "write", "info", [0, 1], 0.0, 0.1, "primary"),
                          (1, "write", "ok", [0, 2], 0.2, 0.3, "primary"),
                          (2, "read", "ok", [0, 1], 0.5, 0.6, "primary"))  # 1 may land any time
    for h in (concurrent, seen, indeterminate):
        assert LostWrites().check(h).verdict is Verdict.VALID


def _lost_by_definition(h: Any) -> set[int]:
    """The module docstring's definition, read literally: every write and read compared (an oracle)."""
    writer = {}
    for o in h.operations:
        if o.f == "write":
            writer[tuple(o.invoke.value)] = o
    seen = {(o.invoke.value[0], o.value[1]) for o in h.operations if o.f == "read" and o.status == "ok"}
    lost = set()
    for w in h.operations:
        if w.f != "write" or w.status != "ok" or tuple(w.invoke.value) in seen:
            continue
        for r in h.operations:
            if r.f != "read" or r.status != "ok" or r.invoke.value[0] != w.invoke.value[0] \
                    or r.invoke.time <= w.completion.time:
                continue
            got = r.value[1]
            old = writer.get((w.invoke.value[0], got))
            if got is None or (old is not None and old.status == "ok" and old.completion.time < w.invoke.time):
                lost.add(w.call_index)
                break
    return lost


def test_lost_writes_agrees_with_the_definition_on_random_histories() -> None:
    from splitbrain_redis_sentinel.lost import LostWrites

    rng = random.Random(7)
    for trial in range(300):
        ops = []
        n_reads = rng.choice((3, 20, 200))  # past one block of the read index, too
        for i in range(rng.randrange(1, 12)):
            a = rng.uniform(0, 10)
            ops.append((i, "write", rng.choice(("ok", "ok", "info", "fail")), [rng.randrange(2), i + 1],
                        a, a + rng.uniform(0.01, 2), "primary"))
        for j in range(n_reads):
            a = rng.uniform(0, 12)
            v = rng.choice([None, *range(1, 13)])
            ops.append((100 + j, "read", "ok", [rng.randrange(2), v], a, a + rng.uniform(0.01, 1), "replica1"))
        h = _hist(*ops)
        got = {a.ops[0] for a in LostWrites().check(h).anomalies}
        assert got == _lost_by_definition(h), trial
