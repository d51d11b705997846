"""Cycle search against brute force on small random graphs.

Every cycle found is a closed walk along edges of the graph whose kinds give
the anomaly named; and every anomaly that some simple cycle of the graph shows
(found by enumerating all of them) is found. (A cycle found may be a closed
walk rather than a simple cycle; it still proves the order contradictory.)
"""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.elle.cycles import CYCLE_ANOMALIES, classify, find_cycles
from checkers.elle.graph import PROCESS, REALTIME, RW, WR, WW, GraphBuilder, strongly_connected

KINDS = [WW, WR, RW, PROCESS, REALTIME]
edges_st = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.sampled_from(KINDS)), max_size=14)


def simple_cycles(edges: list[tuple[int, int, int]]) -> list[list[int]]:
    """Kinds of every simple cycle (each rooted at its smallest node), by exhaustive DFS."""
    out: list[list[int]] = []
    adj: dict[int, list[tuple[int, int]]] = {}
    for a, b, k in edges:
        if a != b:
            adj.setdefault(a, []).append((b, k))

    def dfs(root: int, u: int, seen: set[int], kinds: list[int]) -> None:
        for v, k in adj.get(u, ()):
            if v == root:
                out.append(kinds + [k])
            elif v > root and v not in seen:
                dfs(root, v, seen | {v}, kinds + [k])

    for root in range(6):
        dfs(root, root, {root}, [])
    return out


@settings(max_examples=300, deadline=None)
@given(edges=edges_st)
def test_cycles_are_real_and_none_is_missed(edges: list[tuple[int, int, int]]) -> None:
    b = GraphBuilder(6)
    for a, c, k in edges:
        b.add(a, c, k)
    g = b.build()
    found, unsearched = find_cycles(g, CYCLE_ANOMALIES, deadline=time.monotonic() + 60, tries=10_000)
    assert unsearched == []
    present = {(a, c, k) for a, c, k in edges if a != c}
    for cyc in found:
        assert cyc.steps[-1][2] == cyc.steps[0][0]
        for (a, k, c), nxt in zip(cyc.steps, cyc.steps[1:]):
            assert c == nxt[0]
        assert all(step_edge in present for step_edge in ((a, c, k) for a, k, c in cyc.steps))
        assert classify(k for _, k, _ in cyc.steps) == cyc.anomaly
    # Process and real-time order alone never close a cycle in a history; such cycles are not anomalies.
    brute = {classify(ks) for ks in simple_cycles(edges) if any(k in (WW, WR, RW) for k in ks)}
    assert brute <= {c.anomaly for c in found}


def test_tarjan_on_a_long_chain_and_a_ring() -> None:
    n = 50_000
    b = GraphBuilder(n)
    b.extend(list(range(n - 1)), list(range(1, n)), WW)
    assert strongly_connected(b.build()) == []      # no recursion limit on deep graphs
    b.add(n - 1, 0, WR)
    (comp,) = strongly_connected(b.build())
    assert sorted(comp) == list(range(n))
