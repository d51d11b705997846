"""The data-type workloads and the vclock variant on real nodes (127.0.0.1, no faults but hung links).

* the workloads' generators: unique set elements, counters of 1, list keys retired after their quota;
* the client's read-modify-write on ``seed`` records the version it read and wrote;
* ``vclock`` nodes whose links to each other hang take writes alone (``w=1``);
  a read of all three then meets their versions as ``CONCURRENT``: set adds
  merged by union, register writes kept as siblings and returned to the reader.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness import generators as gen
from harness.history import Op
from harness.target import WorkloadContext
from targets.quorum_store.client import QuorumStoreClient
from targets.quorum_store.datatypes import COUNTER, LIST_APPEND, SET, kind_of


def ctx(variant: str = "seed", **options: str) -> WorkloadContext:
    return WorkloadContext(nodes=("n1", "n2", "n3"), variant=variant, concurrency=4, options=options)


def invoke(f: str, value: Any) -> Op:
    return Op(index=0, type="invoke", process=0, f=f, value=value)


def ops_of(workload: Any, n: int, **options: str) -> list[Op]:
    h = gen.simulate(gen.limit(n, workload.generator(ctx(**options))), seed=3, concurrency=4, with_nemesis=False)
    return [o for o in h if o.type == "invoke"]


def test_the_generators_make_unique_adds_counters_and_retire_list_keys() -> None:
    adds = [o.value for o in ops_of(SET, 200) if o.f == "add"]
    assert len({x for _, x in adds}) == len(adds) > 100 and {k for k, _ in adds} == {"set:0", "set:1", "set:2"}
    assert {tuple(o.value) for o in ops_of(COUNTER, 50) if o.f == "add"} <= {("counter:0", 1), ("counter:1", 1),
                                                                            ("counter:2", 1)}
    appends = [o.value[0] for o in ops_of(LIST_APPEND, 300, max_writes_per_key="5", keys="2") if o.value[0][0] == "append"]
    per_key: dict[str, int] = {}
    for _, k, _ in appends:
        per_key[k] = per_key.get(k, 0) + 1
    assert max(per_key.values()) <= 5 and len(per_key) > 10
    assert [kind_of(k) for k in ("set:1", "counter:0", "list:9", 0, "x:1")] == ["set", "counter", "list",
                                                                                "register", "register"]


def open_on(nodes: Any, name: str, variant: str) -> QuorumStoreClient:
    return QuorumStoreClient().open(name, nodes.addresses[name], context=ctx(variant))


@pytest.mark.slow
def test_seed_read_modify_write_records_the_versions_it_read_and_wrote(qs_cluster: Any) -> None:
    nodes = qs_cluster(3, "seed")
    c = open_on(nodes, "n1", "seed")
    a = c.invoke(invoke("add", ["set:0", 1]))
    b = c.invoke(invoke("add", ["set:0", 2]))
    assert a.type == b.type == "ok"
    assert a.value[2]["read"] == [0, ""] and b.value[2]["read"] == a.value[2]["version"]
    r = c.invoke(invoke("read", ["set:0", None]))
    assert r.value[:2] == ["set:0", [1, 2]] and r.value[2]["version"] == b.value[2]["version"]
    assert c.invoke(invoke("add", ["counter:0", 1])).type == "ok"
    assert c.invoke(invoke("add", ["counter:0", 1])).type == "ok"
    assert c.invoke(invoke("read", ["counter:0", None])).value[1] == 2
    assert c.invoke(invoke("txn", [["append", "list:0", 5]])).value == [["append", "list:0", 5]]
    assert c.invoke(invoke("txn", [["r", "list:0", None]])).value == [["r", "list:0", [5]]]
    c.close()


@pytest.mark.slow
def test_vclock_merges_concurrent_adds_by_union_and_keeps_register_siblings(qs_cluster: Any) -> None:
    nodes = qs_cluster(3, "vclock", options={"w": "1", "r": "3"}, hung={"n1": {"n2", "n3"}, "n2": {"n1", "n3"}})
    c1, c2, c3 = (open_on(nodes, n, "vclock") for n in ("n1", "n2", "n3"))
    assert c1.invoke(invoke("add", ["set:0", 1])).type == "ok"      # n1 alone: its links hang
    assert c2.invoke(invoke("add", ["set:0", 2])).type == "ok"      # n2 alone, concurrently
    assert nodes.replica("n3", "set:0")["siblings"] == []
    r = c3.invoke(invoke("read", ["set:0", None]))                 # n3 asks all three: CONCURRENT
    assert r.type == "ok" and sorted(r.value[1]) == [1, 2]
    assert set(r.value[2]["version"]) == {"n1", "n2", "n3"}        # merged, and n3's entry incremented
    held = nodes.replica("n3", "set:0")
    assert len(held["siblings"]) == 1 and sorted(held["siblings"][0]) == [1, 2]
    assert nodes.write("n1", "reg", 7)["status"] == "ok" and nodes.write("n2", "reg", 8)["status"] == "ok"
    got = nodes.read("n3", "reg")
    assert sorted(got["siblings"]) == [7, 8] and sorted(got["value"]) == [7, 8]  # both returned to the reader
    assert "CONCURRENT" in nodes.log("n3")
    status, d = nodes.request("n1", "POST", "/kv/set:0", {"op": "incr", "arg": 1})
    assert status == 400 and "op" in d["error"]
    for c in (c1, c2, c3):
        c.close()


@pytest.mark.slow
def test_seed_refuses_merged_updates(qs_cluster: Any) -> None:
    nodes = qs_cluster(3, "seed")
    status, d = nodes.request("n1", "POST", "/kv/set:0", {"op": "add", "arg": 1})
    assert status == 400 and "vclock" in d["error"]
