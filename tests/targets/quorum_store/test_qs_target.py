"""The quorum store's Target declaration: node command, readiness probe, workload."""

from __future__ import annotations

import socket
from collections import Counter
from typing import Any

import pytest

from harness import generators as gen
from harness.cluster import Address
from harness.registry import get_target
from harness.target import NodeContext, WorkloadContext
from targets.quorum_store import TARGET, node_command, ready
from targets.quorum_store.server import parse_args
from targets.quorum_store.workload import hot_of, keys_of, read_fraction_of


def ctx(**options: str) -> NodeContext:
    return NodeContext(name="n2", index=1, nodes=("n1", "n2", "n3"), variant="abd",
                       listen=Address(host="127.0.0.1", port=7002),
                       peers={"n3": Address(host="127.0.0.1", port=9023),
                              "n1": Address(host="127.0.0.1", port=9021)},
                       data_dir="/data/n2", python="python3", options=options)


def test_the_target_is_registered_under_its_cli_name() -> None:
    t = get_target("quorum-store")
    assert t is TARGET
    assert set(t.variants) == {"seed", "abd", "vclock"} and t.default_nodes == 5
    assert t.workload(None).name == "register"
    assert (t.source_dir / "server.py").exists()


def test_the_node_command_names_every_peer_and_passes_quorum_options() -> None:
    argv = node_command(ctx(w="3", r="1", keys="9"))
    assert argv[:3] == ["python3", "-m", "targets.quorum_store.server"]
    assert argv[argv.index("--peer") + 1] == "n1=127.0.0.1:9021"   # sorted by name
    assert "n3=127.0.0.1:9023" in argv
    assert argv[argv.index("--w") + 1] == "3" and argv[argv.index("--r") + 1] == "1"
    assert "--keys" not in argv and "9" not in argv                 # workload options stay out
    args = parse_args(argv[3:])                                       # and the server accepts it
    assert (args.node, args.port, args.w, args.r) == ("n2", 7002, 3, 1)
    assert args.peers == {"n1": ("127.0.0.1", 9021), "n3": ("127.0.0.1", 9023)}


def test_the_server_defaults_to_majority_quorums_and_refuses_non_intersecting_abd(
        capsys: pytest.CaptureFixture[str]) -> None:
    peers = ["--peer", "n2=h:1", "--peer", "n3=h:2", "--peer", "n4=h:3", "--peer", "n5=h:4"]
    args = parse_args(["--node", "n1", "--port", "1", "--data", "d", "--variant", "abd", *peers])
    assert (args.w, args.r) == (3, 3)
    with pytest.raises(SystemExit):
        parse_args(["--node", "n1", "--port", "1", "--data", "d", "--variant", "abd", "--w", "2", *peers])
    assert "W + R > N" in capsys.readouterr().err
    args = parse_args(["--node", "n1", "--port", "1", "--data", "d", "--variant", "seed",
                       "--w", "1", "--r", "1", *peers])                 # seed allows sloppy quorums
    assert (args.w, args.r) == (1, 1)


def test_ready_is_false_on_a_closed_port_and_on_a_hung_one(black_hole: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert ready(Address(host="127.0.0.1", port=port)) is False
    assert ready(black_hole.address) is False


@pytest.mark.slow
def test_ready_is_true_on_a_running_node(qs_cluster: Any) -> None:
    c = qs_cluster(1, "seed")
    assert ready(c.addresses["n1"]) is True


def wctx(**options: str) -> WorkloadContext:
    return WorkloadContext(nodes=("n1", "n2", "n3"), variant="seed", concurrency=4, options=options)


def test_the_register_workload_writes_unique_values_about_half_reads() -> None:
    w = TARGET.workload("register")
    hist = gen.simulate(gen.limit(2000, w.generator(wctx(keys="5", hot="0"))), seed=7, concurrency=4,
                        with_nemesis=False)
    invokes = [op for op in hist if op.type == "invoke"]
    assert len(invokes) == 2000
    assert {op.value[0] for op in invokes} == {0, 1, 2, 3, 4}
    writes = [op.value[1] for op in invokes if op.f == "write"]
    reads = [op for op in invokes if op.f == "read"]
    assert len(set(writes)) == len(writes)                       # unique within the run
    assert all(op.value[1] is None for op in reads)
    assert 0.4 < len(reads) / len(invokes) < 0.6
    again = gen.simulate(gen.limit(2000, w.generator(wctx(keys="5", hot="0"))), seed=7, concurrency=4,
                         with_nemesis=False)
    assert [(o.f, o.value) for o in again] == [(o.f, o.value) for o in hist]   # same seed, same ops


def test_workload_options_change_keys_and_mix() -> None:
    w = TARGET.workload("register")
    hist = gen.simulate(gen.limit(300, w.generator(wctx(keys="2", read_fraction="0"))),
                        seed=1, concurrency=2, with_nemesis=False)
    c = Counter((op.f, op.value[0]) for op in hist if op.type == "invoke")
    assert set(c) == {("write", 0), ("write", 1)}
    with pytest.raises(ValueError, match="keys"):
        keys_of({"keys": "zero"})
    with pytest.raises(ValueError, match="read_fraction"):
        read_fraction_of({"read_fraction": "1.5"})
    with pytest.raises(ValueError, match="hot"):
        hot_of({"hot": "-1"})


def test_by_default_one_hot_key_takes_most_ops_and_the_rest_spread_over_cold_keys() -> None:
    w = TARGET.workload("register")
    hist = gen.simulate(gen.limit(4000, w.generator(wctx())), seed=3, concurrency=4, with_nemesis=False)
    c = Counter(op.value[0] for op in hist if op.type == "invoke")
    assert 0.75 < c[0] / 4000 < 0.85
    assert set(c) <= set(range(100)) and len(c) > 90
    hist = gen.simulate(gen.limit(4000, w.generator(wctx(keys="50", hot="0.5"))),
                        seed=3, concurrency=4, with_nemesis=False)
    c = Counter(op.value[0] for op in hist if op.type == "invoke")
    assert 0.45 < c[0] / 4000 < 0.55
    assert set(c) == set(range(50))


def test_the_final_generator_reads_each_key_once() -> None:
    w = TARGET.workload("register")
    assert w.final is not None
    hist = gen.simulate(w.final(wctx(keys="3")), seed=1, concurrency=2, with_nemesis=False)
    assert sorted(op.value[0] for op in hist if op.type == "invoke" and op.f == "read") == [0, 1, 2]
