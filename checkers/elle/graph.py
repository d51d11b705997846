"""Dependency graphs over transactions: edge kinds, a compact store, SCCs.

Nodes are small integers. Transactions are ``0 .. n_txn-1``; a graph may add
*time points* after them (see :func:`checkers.elle.txn.order_edges`), nodes that
stand for an instant of the history so that real-time order needs O(n) edges
instead of O(n x concurrency). A path that passes through time points is one
real-time edge between the transactions at its ends.

Edges carry one kind each (a bit); two transactions related in two ways get two
edges. The kinds follow Adya's direct serialization graph:

``WW``        T1 installed a version of a key, T2 installed the next one;
``WR``        T2 read a version T1 installed;
``RW``        T1 read a version, T2 installed the next one (anti-dependency);
``PROCESS``   T1 and T2 ran on one process, T2 after T1 completed;
``REALTIME``  T1 completed before T2 was invoked.

:class:`Graph` is immutable compressed-sparse-row storage built once by
:class:`GraphBuilder`; :func:`strongly_connected` is an iterative Tarjan that
returns the components with more than one node (the only places a cycle can
be). Pure Python on purpose, no graph library: on the benchmark's graphs
(about 9 edges a transaction) Tarjan is under a tenth of the check's time;
building the CSR arrays is about a third of it (see ``bench/bench_elle.py``).
"""

from __future__ import annotations

import operator
from array import array
from dataclasses import dataclass
from itertools import compress
from typing import Iterable, Sequence

__all__ = ["WW", "WR", "RW", "PROCESS", "REALTIME", "DATA", "ALL", "KIND_NAMES",
           "Graph", "GraphBuilder", "strongly_connected"]

WW, WR, RW, PROCESS, REALTIME = 1, 2, 4, 8, 16
DATA = WW | WR | RW
ALL = DATA | PROCESS | REALTIME
KIND_NAMES = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """Edges in CSR form: the out-edges of ``u`` are ``dst[start[u]:start[u+1]]``.

    ``n_txn`` nodes are transactions, the rest (``n - n_txn``) time points.
    ``labels`` maps a local node id back to the id in the graph it was cut
    from (``None`` for a whole graph).
    """

    n: int
    n_txn: int
    start: Sequence[int]
    dst: Sequence[int]
    kind: Sequence[int]
    labels: Sequence[int] | None = None

    @property
    def edge_count(self) -> int:
        return len(self.dst)

    def label(self, u: int) -> int:
        return u if self.labels is None else self.labels[u]

    def is_txn(self, u: int) -> bool:
        return self.label(u) < self.n_txn

    def subgraph(self, nodes: Iterable[int], mask: int = ALL) -> "Graph":
        """The graph induced by ``nodes`` (ids in this graph), keeping edges of kinds in ``mask``.

        Node ``i`` of the result is ``sorted(nodes)[i]``; ``labels`` maps back to
        the ids of the *root* graph, so nested cuts still name the original nodes.
        """
        order = sorted(set(nodes))
        local = {u: i for i, u in enumerate(order)}
        start = [0]
        dst: list[int] = []
        kind: list[int] = []
        s, d, k = self.start, self.dst, self.kind
        for u in order:
            for e in range(s[u], s[u + 1]):
                if k[e] & mask:
                    j = local.get(d[e])
                    if j is not None:
                        dst.append(j)
                        kind.append(k[e])
            start.append(len(dst))
        labels = [self.label(u) for u in order]
        return Graph(n=len(order), n_txn=self.n_txn, start=start, dst=dst, kind=kind, labels=labels)


class GraphBuilder:
    """Collects edges, then :meth:`build` sorts them into a :class:`Graph`.

    Self-edges are dropped when building: a transaction never depends on itself
    (a read of its own write is internal, see the ``internal`` anomaly).
    """

    def __init__(self, n_txn: int):
        self.n_txn = n_txn
        self.n = n_txn
        self._src = array("i")
        self._dst = array("i")
        self._kind = array("B")

    def add_nodes(self, count: int) -> int:
        """Reserve ``count`` more nodes (time points); returns the first new id."""
        first = self.n
        self.n += count
        return first

    def add(self, a: int, b: int, kind: int) -> None:
        self._src.append(a)
        self._dst.append(b)
        self._kind.append(kind)

    def extend(self, src: Sequence[int], dst: Sequence[int], kind: int) -> None:
        """Add the edges ``src[i] -> dst[i]``, all of ``kind`` (the fast path for bulk edges)."""
        self._src.extend(src)
        self._dst.extend(dst)
        self._kind.extend(bytes([kind]) * len(src))

    def build(self) -> Graph:
        """Counting sort of the edges by source into CSR form (measured faster than a C-level sort)."""
        n, src, d, k = self.n, self._src, self._dst, self._kind
        if any(map(operator.eq, src, d)):   # C-level scans: no Python loop unless there are some
            keep = list(compress(range(len(src)), map(operator.ne, src, d)))
            src = array("i", map(src.__getitem__, keep))
            d = array("i", map(d.__getitem__, keep))
            k = array("B", map(k.__getitem__, keep))
        counts = [0] * (n + 1)
        for a in src:
            counts[a + 1] += 1
        for i in range(n):
            counts[i + 1] += counts[i]
        start = counts[:]  # start[u] .. start[u+1]
        fill = counts[:n]
        m = len(src)
        dst = array("i", bytes(4 * m)) if m else array("i")
        kind = array("B", bytes(m))
        for e in range(m):
            a = src[e]
            p = fill[a]
            dst[p] = d[e]
            kind[p] = k[e]
            fill[a] = p + 1
        return Graph(n=n, n_txn=self.n_txn, start=start, dst=dst, kind=kind)


def strongly_connected(g: Graph) -> list[list[int]]:
    """Strongly connected components of ``g`` with at least two nodes (Tarjan, iterative).

    Runs in O(nodes + edges) with an explicit stack, so graphs of millions of
    nodes do not hit Python's recursion limit.
    """
    n, start, dst = g.n, g.start, g.dst
    index = [0] * n          # 0: unvisited; else visit order from 1
    low = [0] * n
    on_stack = bytearray(n)
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 1
    for root in range(n):
        if index[root] or start[root] == start[root + 1]:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        work = [root]
        ptr = [start[root]]
        while work:
            v = work[-1]
            i = ptr[-1]
            end = start[v + 1]
            descended = False
            while i < end:
                w = dst[i]
                i += 1
                if not index[w]:
                    ptr[-1] = i
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = 1
                    work.append(w)
                    ptr.append(start[w])
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            ptr.pop()
            if low[v] == index[v]:
                w = stack.pop()
                on_stack[w] = 0
                if w != v:
                    comp = [w]
                    while w != v:
                        w = stack.pop()
                        on_stack[w] = 0
                        comp.append(w)
                    out.append(comp)
            if work:
                u = work[-1]
                if low[v] < low[u]:
                    low[u] = low[v]
    return out
