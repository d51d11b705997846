"""Quorum store nodes as real processes on 127.0.0.1: the client API, quorums, durability."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("variant", ["seed", "abd"])
def test_every_node_reads_back_a_write(qs_cluster: Any, variant: str) -> None:
    c = qs_cluster(3, variant)
    assert c.read("n2", 0)["value"] is None          # never written: nil
    w = c.write("n1", 0, 41)
    assert w["status"] == "ok" and w["value"] == 41
    w = c.write("n3", 0, 42)
    assert w["status"] == "ok"
    for name in c.names:
        r = c.read(name, 0)
        assert (r["status"], r["value"]) == ("ok", 42), (name, r)
    assert c.read("n1", 1)["value"] is None            # keys are independent


def test_abd_versions_are_counter_and_writer_incarnation(qs_cluster: Any) -> None:
    c = qs_cluster(3, "abd")
    assert c.write("n2", "k", 1)["version"] == [1, "n2/1"]
    assert c.write("n3", "k", 2)["version"] == [2, "n3/1"]
    assert c.read("n1", "k")["version"] == [2, "n3/1"]
    c.kill("n3")
    c.start("n3")                                         # a restart is a new incarnation
    assert c.write("n3", "k", 3)["version"] == [3, "n3/2"]


def test_abd_concurrent_writes_through_one_node_get_distinct_versions(qs_cluster: Any) -> None:
    import concurrent.futures as cf

    c = qs_cluster(3, "abd")
    with cf.ThreadPoolExecutor(8) as ex:
        outs = list(ex.map(lambda v: c.write("n1", "k", v), range(16)))
    versions = [tuple(o["version"]) for o in outs]
    assert all(o["status"] == "ok" for o in outs)
    assert len(set(versions)) == 16


def test_abd_stays_correct_with_one_of_three_nodes_killed(qs_cluster: Any) -> None:
    c = qs_cluster(3, "abd")
    assert c.write("n1", "k", 1)["status"] == "ok"
    c.kill("n3")
    for i, name in enumerate(["n1", "n2", "n1", "n2"], start=2):
        assert c.write(name, "k", i)["status"] == "ok"
        r = c.read("n2" if name == "n1" else "n1", "k")
        assert (r["status"], r["value"]) == ("ok", i)
    c.start("n3")                                        # back, with a stale replica
    c.kill("n1")
    r = c.read("n3", "k")                                # quorum {n2, n3} still sees the last write
    assert (r["status"], r["value"]) == ("ok", 5)


def test_abd_never_answers_ok_without_a_quorum(qs_cluster: Any) -> None:
    c = qs_cluster(3, "abd")
    assert c.write("n1", "k", 1)["status"] == "ok"
    c.kill("n2")
    c.kill("n3")
    w = c.write("n1", "k", 2)
    assert w["status"] == "fail" and "nothing was written" in w["error"]   # query phase failed
    r = c.read("n1", "k")
    assert r["status"] in ("fail", "unknown") and "value" not in r
    assert c.replica("n1", "k")["value"] == 1            # nothing stored on the way


def test_abd_store_phase_that_misses_its_quorum_is_unknown_not_fail(qs_cluster: Any) -> None:
    # W=3, R=2 with n3 dead: the version query reaches its quorum, the store cannot.
    c = qs_cluster(3, "abd", options={"w": "3", "r": "2"})
    c.kill("n3")
    t0 = time.monotonic()
    w = c.write("n1", "k", 7)
    assert time.monotonic() - t0 < 3.0
    assert w["status"] == "unknown", w
    assert c.replica("n1", "k")["value"] == 7            # it did reach some replicas


def test_seed_reports_fail_although_a_replica_kept_the_value(qs_cluster: Any) -> None:
    # The guide's flaw: "write failed" is not "not written".
    c = qs_cluster(3, "seed")
    c.kill("n2")
    c.kill("n3")
    w = c.write("n1", "k", 99)
    assert w["status"] == "fail" and "1/2" in w["error"]
    assert c.replica("n1", "k")["value"] == 99


def test_a_hung_peer_costs_at_most_the_peer_timeout(qs_cluster: Any) -> None:
    # Links n1 -> n2 and n1 -> n3 hang (a black hole), as under a partition of n1.
    c = qs_cluster(3, "abd", hung={"n1": {"n2", "n3"}})
    t0 = time.monotonic()
    w = c.write("n1", "k", 1)
    assert time.monotonic() - t0 < 3.0                  # never blocks for ever (bounded by ~0.5 s)
    assert w["status"] == "fail"
    assert c.write("n2", "k", 2)["status"] == "ok"      # the majority side works
    assert c.read("n3", "k")["value"] == 2


@pytest.mark.parametrize("variant", ["seed", "abd"])
def test_an_acknowledged_write_survives_kill_9_of_every_node(qs_cluster: Any, variant: str) -> None:
    c = qs_cluster(3, variant)
    assert c.write("n1", "k", "durable")["status"] == "ok"
    for name in c.names:
        c.kill(name)
    c.start(*c.names)
    r = c.read("n2", "k")
    assert (r["status"], r["value"]) == ("ok", "durable")


def test_malformed_requests_get_a_400_that_says_what_is_wrong(qs_cluster: Any) -> None:
    c = qs_cluster(1, "abd")
    status, d = c.request("n1", "PUT", "/kv/k", {"val": 1})
    assert status == 400 and d["status"] == "fail" and '"value"' in d["error"]
    status, d = c.request("n1", "GET", "/nope")
    assert status == 404
    status, d = c.request("n1", "PUT", "/replica/k", {"value": 1})
    assert status == 400 and "version" in d["error"]


def test_the_node_log_has_one_line_per_decision(qs_cluster: Any) -> None:
    c = qs_cluster(1, "seed")
    c.write("n1", "k", 5)
    c.read("n1", "k")
    lines = c.log("n1").splitlines()
    assert any(" n1 start " in ln for ln in lines)
    assert any(" n1 write " in ln and 'result="ok"' in ln and "value=5" in ln for ln in lines)
    assert any(" n1 read " in ln and 'result="ok"' in ln for ln in lines)
