"""The quorum store client against real nodes: how each answer becomes ok, fail or info."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from harness.client import Client, open_client
from harness.cluster import Address
from harness.history import Op
from harness.target import WorkloadContext
from targets.quorum_store.client import QuorumStoreClient



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invoke(f: str, value: Any) -> Op:
    return Op(index=0, type="invoke", process=0, f=f, value=value)


def test_the_client_implements_the_protocol() -> None:
    assert isinstance(QuorumStoreClient(), Client)


def test_an_unopened_or_misused_client_raises() -> None:
    c = QuorumStoreClient()
    with pytest.raises(RuntimeError, match="open"):
        c.invoke(invoke("read", [0, None]))
    c = c.open("n1", Address(host="127.0.0.1", port=free_port()))
    with pytest.raises(ValueError, match="cas"):
        c.invoke(invoke("cas", [0, [1, 2]]))
    with pytest.raises(ValueError, match=r"\[key, value\]"):
        c.invoke(invoke("read", 0))


def test_refused_connections_fail_both_reads_and_writes() -> None:
    c = QuorumStoreClient().open("n1", Address(host="127.0.0.1", port=free_port()))
    assert c.invoke(invoke("write", [0, 1])).type == "fail"
    assert c.invoke(invoke("read", [0, None])).type == "fail"
    c.close()


def test_a_hung_node_makes_a_write_info_and_a_read_fail(black_hole: Any) -> None:
    c = QuorumStoreClient(timeout_s=0.3).open("n1", black_hole.address)
    w = c.invoke(invoke("write", [0, 1]))
    assert w.type == "info" and w.error == "timeout"
    r = c.invoke(invoke("read", [0, None]))
    assert r.type == "fail"
    c.close()


def test_the_timeout_comes_from_the_workload_context(black_hole: Any) -> None:
    import time
    ctx = WorkloadContext(nodes=("n1",), variant="seed", concurrency=1, options={"client_timeout": "0.2"})
    c = open_client(QuorumStoreClient(timeout_s=5.0), "n1", black_hole.address, ctx)
    t0 = time.monotonic()
    w = c.invoke(invoke("write", [0, 1]))
    assert w.type == "info" and w.error == "timeout" and time.monotonic() - t0 < 2.0
    c.close()
    bad = WorkloadContext(nodes=("n1",), variant="seed", concurrency=1, options={"client_timeout": "soon"})
    with pytest.raises(ValueError, match="client_timeout=soon"):
        open_client(QuorumStoreClient(), "n1", black_hole.address, bad)


@pytest.mark.slow
def test_ok_completions_carry_independent_tuples(qs_cluster: Any) -> None:
    nodes = qs_cluster(3, "abd")
    proto = QuorumStoreClient()
    a = proto.open("n1", nodes.addresses["n1"])
    b = proto.open("n3", nodes.addresses["n3"])
    try:
        assert a.invoke(invoke("read", [4, None])).value == [4, None]
        w = a.invoke(invoke("write", [4, 17]))
        assert (w.type, w.value) == ("ok", [4, 17])
        r = b.invoke(invoke("read", [4, None]))
        assert (r.type, r.value) == ("ok", [4, 17])
    finally:
        a.close()
        b.close()


@pytest.mark.slow
def test_server_fail_is_fail_and_server_unknown_is_info(qs_cluster: Any) -> None:
    nodes = qs_cluster(3, "abd", options={"w": "3", "r": "2"})
    nodes.kill("n3")
    c = QuorumStoreClient().open("n1", nodes.addresses["n1"])
    try:
        w = c.invoke(invoke("write", [0, 1]))           # query ok, store reaches 2 of 3
        assert w.type == "info" and w.error.startswith("unknown")
        nodes.kill("n2")
        w = c.invoke(invoke("write", [0, 2]))           # query phase fails: nothing written
        assert w.type == "fail"
    finally:
        c.close()


@pytest.mark.slow
def test_a_client_reconnects_to_a_restarted_node(qs_cluster: Any) -> None:
    nodes = qs_cluster(1, "seed")
    c = QuorumStoreClient().open("n1", nodes.addresses["n1"])
    try:
        assert c.invoke(invoke("write", [0, 1])).type == "ok"
        nodes.kill("n1")
        assert c.invoke(invoke("read", [0, None])).type == "fail"
        nodes.start("n1")
        r = c.invoke(invoke("read", [0, None]))
        assert (r.type, r.value) == ("ok", [0, 1])
    finally:
        c.close()
