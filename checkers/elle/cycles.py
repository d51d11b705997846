"""Cycle search: the shortest cycle of each kind in each strongly connected component.

Adya's cycle anomalies, by the kinds of edge a cycle uses (Adya 1999; the
naming of Kingsbury and Alvaro, "Elle", VLDB 2020):

``G0``             write-write edges only (dirty write);
``G1c``            write-write and write-read, at least one write-read (circular information flow);
``G-single``       exactly one read-write anti-dependency (read skew);
``G-nonadjacent``  several anti-dependencies, no two of them adjacent (SI forbids these too);
``G2-item``        anti-dependencies, two of them adjacent (write skew and worse);

each with ``-process`` (the cycle also uses process order) and ``-realtime``
(it uses real-time order) variants. A search is a :class:`Spec`: the kind of
its first edge, the kinds allowed after it, a rule for anti-dependencies, and
the kinds of which one must appear. It runs as a breadth-first search over
(node, state) from the head of each candidate first edge back to its tail,
where the state records whether the last edge was an anti-dependency, whether
another one was used, whether two were adjacent and whether a required kind
was seen. Time points (see :mod:`checkers.elle.graph`) cost nothing, so the
length minimised is the number of transaction-to-transaction edges.

:func:`find_cycles` is bounded by a deadline; the kinds it could not finish
searching are returned, so that the verdict can say "unknown" rather than
"valid".
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Iterable

from checkers.elle.graph import PROCESS, REALTIME, RW, WR, WW, Graph, strongly_connected

__all__ = ["Cycle", "Spec", "CYCLE_ANOMALIES", "SPECS", "classify", "find_cycles"]

_LAST_RW, _MORE_RW, _EXTRA, _ADJ = 1, 2, 4, 8

BASES = ("G0", "G1c", "G-single", "G-nonadjacent", "G2-item")
VARIANTS = ("", "-process", "-realtime")
CYCLE_ANOMALIES = tuple(b + v for v in VARIANTS for b in BASES)
"""Every cycle anomaly name, plain ones first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """One cycle search (see the module docstring)."""

    name: str
    start: int      # kind of the first edge
    path: int       # kinds allowed on the rest of the cycle
    rw: str         # "none" | "single" | "nonadjacent" | "adjacent"
    extra: int = 0  # one edge of these kinds must appear (0: no requirement)


def _specs() -> dict[str, Spec]:
    out: dict[str, Spec] = {}
    for suffix, more, need in (("", 0, 0), ("-process", PROCESS, PROCESS),
                               ("-realtime", PROCESS | REALTIME, REALTIME)):
        out["G0" + suffix] = Spec(name="G0" + suffix, start=WW, path=WW | more, rw="none", extra=need)
        out["G1c" + suffix] = Spec(name="G1c" + suffix, start=WR, path=WW | WR | more, rw="none", extra=need)
        out["G-single" + suffix] = Spec(name="G-single" + suffix, start=RW, path=WW | WR | more,
                                        rw="single", extra=need)
        out["G-nonadjacent" + suffix] = Spec(name="G-nonadjacent" + suffix, start=RW,
                                             path=WW | WR | RW | more, rw="nonadjacent", extra=need)
        out["G2-item" + suffix] = Spec(name="G2-item" + suffix, start=RW, path=WW | WR | RW | more,
                                       rw="adjacent", extra=need)
    return out


SPECS = _specs()


@dataclass(frozen=True, slots=True, kw_only=True)
class Cycle:
    """A cycle between transactions: ``steps`` are ``(from_node, kind, to_node)``, the last ending where the first began."""

    anomaly: str
    steps: tuple[tuple[int, int, int], ...]

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(s[0] for s in self.steps)


def classify(kinds: Iterable[int]) -> str:
    """The anomaly a cycle with these edge kinds (in cycle order) is."""
    ks = list(kinds)
    nrw = sum(1 for k in ks if k == RW)
    if nrw == 0:
        base = "G1c" if WR in ks else "G0"
    elif nrw == 1:
        base = "G-single"
    else:
        adjacent = any(ks[i] == RW and ks[i - 1] == RW for i in range(len(ks)))
        base = "G2-item" if adjacent else "G-nonadjacent"
    if REALTIME in ks:
        return base + "-realtime"
    if PROCESS in ks:
        return base + "-process"
    return base


def _search(g: Graph, spec: Spec, a: int, b: int, point: bytearray) -> list[tuple[int, int, int]] | None:
    """Shortest path b -> a completing the first edge a -> b (kind ``spec.start``) into a cycle of ``spec``."""
    start, dst, kind = g.start, g.dst, g.kind
    path_mask, extra, rule = spec.path, spec.extra, spec.rw
    s0 = (_LAST_RW if spec.start == RW else 0) | (_EXTRA if spec.start & extra else 0)
    first = b * 16 + s0
    parent: dict[int, tuple[int, int]] = {first: (-1, spec.start)}
    q: deque[int] = deque([first])
    goal = -1
    while q:
        st = q.popleft()
        u, bits = divmod(st, 16)
        if u == a:
            ok = True
            if extra and not bits & _EXTRA:
                ok = False
            elif rule == "nonadjacent" and (bits & _LAST_RW or not bits & _MORE_RW):
                ok = False
            elif rule == "adjacent" and not (bits & _ADJ or bits & _LAST_RW):
                ok = False
            if ok:
                goal = st
                break
            continue
        for e in range(start[u], start[u + 1]):
            k = kind[e]
            if not k & path_mask:
                continue
            nb = bits
            if k == RW:
                if rule == "nonadjacent" and bits & _LAST_RW:
                    continue
                if bits & _LAST_RW:
                    nb |= _ADJ
                nb |= _LAST_RW | _MORE_RW
            else:
                nb &= ~_LAST_RW
            if k & extra:
                nb |= _EXTRA
            w = dst[e]
            ns = w * 16 + nb
            if ns in parent:
                continue
            parent[ns] = (st, k)
            if point[w]:
                q.appendleft(ns)   # entering a time point costs nothing
            else:
                q.append(ns)
    if goal < 0:
        return None
    edges: list[tuple[int, int, int]] = []
    st = goal
    while True:
        prev, k = parent[st]
        if prev < 0:
            break
        edges.append((prev // 16, k, st // 16))
        st = prev
    edges.append((a, spec.start, b))
    edges.reverse()
    return edges


def _compress(g: Graph, edges: list[tuple[int, int, int]]) -> tuple[tuple[int, int, int], ...]:
    """Edges between transactions (root ids), a run through time points becoming one real-time edge."""
    out: list[tuple[int, int, int]] = []
    src: int | None = None
    for u, k, v in edges:
        if src is None:
            src = g.label(u)
        if not g.is_txn(v):
            continue
        out.append((src, REALTIME if not g.is_txn(u) else k, g.label(v)))
        src = None
    return tuple(out)


def _cycles_in(comp: Graph, spec: Spec, point: bytearray, deadline: float, tries: int,
               better: int) -> tuple[Cycle | None, bool]:
    """The shortest cycle of ``spec`` found from up to ``tries`` first edges; (cycle, finished)."""
    if spec.rw == "none":
        # Only edges inside one component of the allowed kinds can close a cycle.
        sub = comp.subgraph(range(comp.n), spec.path)
        comps = strongly_connected(sub)
        if not comps:
            return None, True
        member = [-1] * comp.n
        for i, c in enumerate(comps):
            for u in c:
                member[u] = i  # ``sub`` kept every node, so its ids are ``comp``'s
    else:
        member = None
    best: tuple[tuple[int, int, int], ...] | None = None
    found = 0
    tried = 0
    s, d, k = comp.start, comp.dst, comp.kind
    for a in range(comp.n):
        for e in range(s[a], s[a + 1]):
            if not k[e] & spec.start:
                continue
            b = d[e]
            if member is not None and (member[a] < 0 or member[a] != member[b]):
                continue
            if time.monotonic() > deadline:
                return _cycle(best), best is not None
            tried += 1
            path = _search(comp, spec, a, b, point)
            if path is not None:
                steps = _compress(comp, path)
                if best is None or len(steps) < len(best):
                    best = steps
                found += 1
                if found >= better or len(best) == 2:
                    return _cycle(best), True
            if tried >= tries:
                return _cycle(best), True
    return _cycle(best), True


def _cycle(steps: tuple[tuple[int, int, int], ...] | None) -> Cycle | None:
    return None if steps is None else Cycle(anomaly=classify(x[1] for x in steps), steps=steps)


def find_cycles(g: Graph, wanted: Iterable[str], *, deadline: float, tries: int = 64,
                better: int = 4) -> tuple[list[Cycle], list[str]]:
    """Cycles of the ``wanted`` kinds, at most one of each kind per component, and the kinds not fully searched.

    ``tries`` bounds the first edges tried per kind and component (a huge
    component is sampled, not exhausted); ``better`` is how many cycles are
    found before the shortest of them is kept.
    """
    specs = [SPECS[n] for n in CYCLE_ANOMALIES if n in set(wanted)]
    unsearched: set[str] = set()
    out: list[Cycle] = []
    for comp_nodes in strongly_connected(g):
        comp = g.subgraph(comp_nodes)
        point = bytearray(0 if comp.is_txn(u) else 1 for u in range(comp.n))
        for spec in specs:
            if time.monotonic() > deadline:
                unsearched.add(spec.name)
                continue
            cyc, finished = _cycles_in(comp, spec, point, deadline, tries, better)
            if not finished:
                unsearched.add(spec.name)
            if cyc is not None:
                out.append(cyc)
    return out, sorted(unsearched, key=CYCLE_ANOMALIES.index)
