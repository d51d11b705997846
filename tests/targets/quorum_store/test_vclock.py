"""The vclock variant's core: the guide's vector clock compare/merge, the CONCURRENT branch, the replica.

Properties (hypothesis) of :mod:`targets.quorum_store.vclock`: merge is
commutative, associative and idempotent and bounds both inputs; compare is
antisymmetric; and a whole simulated cluster of pure replicas, fed adds and
deliveries in any order, ends with every acknowledged add in its merged read.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from targets.quorum_store.vclock import (
    AFTER, BEFORE, CONCURRENT, EQUAL, VVersion, apply, compare, increment, merge, receive, resolve_conflict, union,
)
from targets.quorum_store.vclock_node import VclockReplica, parse_update, replica_op

NODES = ("n1", "n2", "n3")
clocks = st.dictionaries(st.sampled_from(NODES), st.integers(min_value=0, max_value=4), max_size=3)
FLIP = {AFTER: BEFORE, BEFORE: AFTER, EQUAL: EQUAL, CONCURRENT: CONCURRENT}


def norm(c: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in c.items() if v}


@settings(max_examples=100, deadline=None)
@given(clocks, clocks, clocks)
def test_merge_is_commutative_associative_idempotent(a: dict[str, int], b: dict[str, int], c: dict[str, int]) -> None:
    assert norm(merge(a, b)) == norm(merge(b, a))          # a missing entry and a 0 are the same clock
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge(a, a) == a
    assert compare(merge(a, b), a) in (AFTER, EQUAL) and compare(merge(a, b), b) in (AFTER, EQUAL)


@settings(max_examples=100, deadline=None)
@given(clocks, clocks)
def test_compare_is_antisymmetric(a: dict[str, int], b: dict[str, int]) -> None:
    assert compare(b, a) == FLIP[compare(a, b)]
    assert (compare(a, b) == EQUAL) == (norm(a) == norm(b))  # a missing entry is 0


def test_compare_the_guides_four_answers() -> None:
    assert compare({"n1": 2}, {"n1": 1}) == AFTER
    assert compare({"n1": 1}, {"n1": 1, "n2": 1}) == BEFORE
    assert compare({"n1": 1, "n2": 0}, {"n1": 1}) == EQUAL
    assert compare({"n1": 2}, {"n1": 1, "n2": 1}) == CONCURRENT
    assert increment({"n1": 2}, "n2") == {"n1": 2, "n2": 1}


def test_resolve_conflict_is_the_shopping_cart_for_lists_and_siblings_otherwise() -> None:
    assert resolve_conflict(([1, 2],), ([2, 3],)) == ([1, 2, 3],)
    assert resolve_conflict((5,), (6,)) == (5, 6)
    assert resolve_conflict((5,), (5, 6)) == (5, 6)
    assert union([1, 2], [2, 1, 3]) == [1, 2, 3]


def test_receive_takes_each_branch_of_handle_replication() -> None:
    base = VVersion(siblings=([1],), clock={"n1": 1})
    later = VVersion(siblings=([1, 2],), clock={"n1": 2})
    assert receive(None, base, "n3") == (base, "NEW")
    assert receive(base, later, "n3") == (later, BEFORE)
    assert receive(later, base, "n3") == (later, AFTER)
    assert receive(base, base, "n3") == (base, EQUAL)
    other = VVersion(siblings=([1, 3],), clock={"n1": 1, "n2": 1})
    kept, branch = receive(later, other, "n3")
    assert branch == CONCURRENT
    assert kept.siblings == ([1, 2, 3],)                      # union, nothing dropped
    assert kept.clock == {"n1": 2, "n2": 1, "n3": 1}          # merged, then the receiver's entry incremented
    regs, branch = receive(VVersion(siblings=(7,), clock={"n1": 1}), VVersion(siblings=(8,), clock={"n2": 1}), "n3")
    assert branch == CONCURRENT and regs.siblings == (7, 8)   # register siblings kept for the reader


def test_apply_increments_the_coordinators_entry() -> None:
    v = apply(None, "add", 1, "n1")
    assert v == VVersion(siblings=([1],), clock={"n1": 1})
    v2 = apply(VVersion(siblings=([1], [2]), clock={"n2": 3}), "add", 3, "n1")
    assert v2.siblings == ([1, 2, 3],) and v2.clock == {"n2": 3, "n1": 1}
    assert apply(v2, "add", 3, "n1").siblings == ([1, 2, 3],)
    assert apply(VVersion(siblings=(7, 8), clock={"n1": 1, "n2": 1}), "put", 9, "n2").siblings == (9,)
    assert apply(None, "append", 4, "n1").siblings == ([4],)


# A simulated cluster: each step either coordinates an add on a node (stored locally, sent to a chosen
# subset: the W acks) or delivers a node's current version to another (replication, read repair).
steps = st.lists(st.one_of(
    st.tuples(st.just("add"), st.sampled_from(NODES), st.sets(st.sampled_from(NODES), min_size=1)),
    st.tuples(st.just("sync"), st.sampled_from(NODES), st.sampled_from(NODES)),
), max_size=40)


@settings(max_examples=100, deadline=None)
@given(steps)
def test_no_add_acknowledged_by_a_quorum_is_lost_whatever_the_delivery_order(plan: list) -> None:
    state: dict[str, VVersion | None] = {n: None for n in NODES}
    acked: set[int] = set()
    for i, step in enumerate(plan):
        if step[0] == "add":
            _, node, to = step
            v = apply(state[node], "add", i, node)
            state[node] = v
            holders = {node}
            for peer in to - {node}:
                state[peer], _ = receive(state[peer], v, peer)
                holders.add(peer)
            if len(holders) >= 2:  # W = 2 of 3
                acked.add(i)
        else:
            _, src, dst = step
            if src != dst and state[src] is not None:
                state[dst], _ = receive(state[dst], state[src], dst)  # type: ignore[arg-type]
    for a, b in (("n1", "n2"), ("n2", "n3"), ("n1", "n3")):  # any read quorum of R = 2
        merged: VVersion | None = state[a]
        if state[b] is not None:
            merged, _ = receive(merged, state[b], "reader")  # type: ignore[arg-type]
        held = set(merged.siblings[0]) if merged is not None else set()
        assert acked <= held, (a, b, acked - held)


def test_replica_takes_the_concurrent_branch_durably(tmp_path: Path) -> None:
    r = VclockReplica(str(tmp_path), node="n3")
    logged: list[tuple[str, dict]] = []
    log = lambda event, **f: logged.append((event, f))  # noqa: E731
    a = VVersion(siblings=([1],), clock={"n1": 1}).to_json()
    b = VVersion(siblings=([2],), clock={"n2": 1}).to_json()
    assert replica_op(r, "PUT", "set:0", a, log) == {"stored": True, "branch": "NEW"}
    assert replica_op(r, "PUT", "set:0", b, log) == {"stored": True, "branch": CONCURRENT}
    assert replica_op(r, "PUT", "set:0", a, log) == {"stored": False, "branch": AFTER}
    r.close()
    again = VclockReplica(str(tmp_path), node="n3")
    got = replica_op(again, "GET", "set:0", None, log)
    assert got == {"siblings": [[1, 2]], "clock": {"n1": 1, "n2": 1, "n3": 1}}
    assert again.apply("set:0", "add", 3).siblings == ([1, 2, 3],)
    again.close()


def test_malformed_versions_and_updates_are_refused_with_what_is_wrong(tmp_path: Path) -> None:
    r = VclockReplica(str(tmp_path), node="n1")
    for bad in ({"siblings": [1]}, {"siblings": [], "clock": {"n1": -1}}, [1, 2]):
        try:
            replica_op(r, "PUT", "k", bad, lambda *a, **k: None)
        except ValueError as e:
            assert "vclock" in str(e)
        else:
            raise AssertionError(f"accepted {bad!r}")
    assert parse_update({"op": "add", "arg": 5}) == ("add", 5)
    for bad in ({"op": "incr", "arg": 1}, {"op": "add"}, None):
        try:
            parse_update(bad)
        except ValueError as e:
            assert "op" in str(e)
        else:
            raise AssertionError(f"accepted {bad!r}")
    r.close()
