"""Grudges: exact shapes for given nodes and rng, links in the right direction."""

from __future__ import annotations

import random

import pytest

from nemesis.grudge import GRUDGE_KINDS, Grudge, bridge, halves, majorities_ring, make_grudge, one

FIVE = ("n1", "n2", "n3", "n4", "n5")


def _components(g: Grudge) -> set[frozenset[str]]:
    return {g.sees(n) for n in g.nodes}


def _reach(g: Grudge, src: str, without: str | None = None) -> set[str]:
    """Nodes reachable from ``src`` over uncut links, optionally never passing ``without``."""
    cut = set(g.links())
    seen, todo = {src}, [src]
    while todo:
        a = todo.pop()
        for b in g.nodes:
            if b not in seen and b != without and (a, b) not in cut:
                seen.add(b)
                todo.append(b)
    return seen


@pytest.mark.parametrize("seed", range(10))
def test_halves_splits_five_nodes_two_three_with_nothing_crossing(seed: int) -> None:
    g = halves(FIVE, random.Random(seed))
    comps = _components(g)
    assert sorted(len(c) for c in comps) == [2, 3]
    small, big = sorted(comps, key=len)
    assert small | big == set(FIVE)
    assert set(g.links()) == {(a, b) for a in small for b in big} | {(b, a) for a in small for b in big}


def test_halves_is_a_function_of_the_rng() -> None:
    draws = [halves(FIVE, random.Random(s)).to_json() for s in range(20)]
    assert draws[3] == halves(FIVE, random.Random(3)).to_json()
    assert len({str(d) for d in draws}) > 1


@pytest.mark.parametrize("seed", range(5))
def test_one_isolates_exactly_one_node_both_ways(seed: int) -> None:
    g = one(FIVE, random.Random(seed))
    lone = [n for n in FIVE if g.sees(n) == {n}]
    assert len(lone) == 1
    (x,) = lone
    assert set(g.links()) == {(x, n) for n in FIVE if n != x} | {(n, x) for n in FIVE if n != x}


@pytest.mark.parametrize("seed", range(10))
def test_majorities_ring_of_five_each_sees_a_distinct_majority(seed: int) -> None:
    g = majorities_ring(FIVE, random.Random(seed))
    views = [g.sees(n) for n in FIVE]
    assert all(len(v) == 3 and n in v for n, v in zip(FIVE, views))
    assert len(set(views)) == 5
    links = set(g.links())
    assert len(links) == 10
    assert all((b, a) in links for a, b in links)  # symmetric for odd n


@pytest.mark.parametrize("n", range(3, 10))
def test_majorities_ring_any_size_keeps_a_majority_and_distinct_views(n: int) -> None:
    nodes = [f"n{i}" for i in range(1, n + 1)]
    g = majorities_ring(nodes, random.Random(n))
    views = [g.sees(x) for x in nodes]
    assert all(len(v) >= n // 2 + 1 and x in v for x, v in zip(nodes, views))
    assert len(set(views)) == n


@pytest.mark.parametrize("seed", range(10))
def test_bridge_joins_two_halves_only_through_one_node(seed: int) -> None:
    g = bridge(FIVE, random.Random(seed))
    hub = [n for n in FIVE if g.sees(n) == set(FIVE) and all(n in g.sees(m) for m in FIVE)]
    assert len(hub) == 1
    (b,) = hub
    rest = [n for n in FIVE if n != b]
    sides = {g.sees(n) - {b} for n in rest}
    assert sorted(len(s) for s in sides) == [2, 2]
    left, right = sorted(sides, key=sorted)
    # with the bridge, everyone reaches everyone; without it, the sides are apart
    assert _reach(g, sorted(left)[0]) == set(FIVE)
    assert _reach(g, sorted(left)[0], without=b) == left
    assert _reach(g, sorted(right)[0], without=b) == right


def test_links_point_from_the_ignored_node_to_the_one_holding_the_grudge() -> None:
    g = Grudge(kind="custom", nodes=("n1", "n2"), drops={"n2": frozenset({"n1"})}, summary="")
    assert g.links() == [("n1", "n2")]
    assert g.sees("n2") == {"n2"} and g.sees("n1") == {"n1", "n2"}


@pytest.mark.parametrize("kind", list(GRUDGE_KINDS))
def test_json_round_trip(kind: str) -> None:
    g = make_grudge(kind, FIVE, random.Random(7))
    back = Grudge.from_json(g.to_json())
    assert back.links() == g.links() and back.kind == kind and back.summary == g.summary


@pytest.mark.parametrize(("kind", "n"), [("majorities-ring", 2), ("bridge", 2), ("halves", 1), ("one", 1)])
def test_too_few_nodes_says_how_many_are_needed(kind: str, n: int) -> None:
    with pytest.raises(ValueError, match="needs at least"):
        make_grudge(kind, FIVE[:n], random.Random(0))


def test_unknown_kind_and_unknown_nodes_are_refused() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        make_grudge("triangle", FIVE, random.Random(0))
    with pytest.raises(ValueError, match="unknown node"):
        Grudge.from_json({"nodes": ["n1"], "drops": {"n1": ["n9"]}})
    with pytest.raises(ValueError, match="against itself"):
        Grudge.from_json({"nodes": ["n1"], "drops": {"n1": ["n1"]}})
    with pytest.raises(ValueError, match="needs 'nodes'"):
        Grudge.from_json({"drops": {}})


def test_one_isolates_every_node_for_some_seed() -> None:
    lone = {next(n for n in FIVE if one(FIVE, random.Random(s)).sees(n) == {n}) for s in range(60)}
    assert lone == set(FIVE)
