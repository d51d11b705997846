"""Partitions as grudges: who refuses to hear from whom.

A *grudge* (Jepsen's ``nemesis.combined``) maps each node to the set of nodes it
will not hear from. Node ``dst`` holding a grudge against ``src`` means the
directed link ``(src, dst)`` drops traffic, so a grudge turns into the links
:meth:`harness.cluster.Partitionable.cut` takes (:meth:`Grudge.links`).

Four shapes, each a pure function of ``(nodes, rng)`` so that a run's seed fixes
its partitions exactly:

``halves``           two random halves, the smaller first; nothing crosses.
``one``              one random node isolated from all others.
``majorities-ring``  every node sees a majority (itself included), and no two
                     nodes see the same majority: quorum systems that assume a
                     majority is a majority for everyone break here.
``bridge``           two halves that only hear each other through one node in the
                     middle, which hears and is heard by everyone.

One more is aimed rather than drawn: :func:`isolate` cuts a given group (a
role's nodes, see :mod:`nemesis.aim`) off from every other node, e.g. the
orchestrator from every service.

Grudges travel inside nemesis ops as JSON (:meth:`Grudge.to_json`,
:meth:`Grudge.from_json`): the generator draws the grudge with the run's rng,
the first ``start-partition`` event records exactly what will be cut, and the
nemesis only executes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from harness.cluster import Link

__all__ = [
    "GRUDGE_KINDS", "Grudge", "bridge", "complete", "halves", "isolate", "make_grudge",
    "majorities_ring", "one",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Grudge:
    """A partition to make.

    ``kind``     which shape (one of :data:`GRUDGE_KINDS`, or ``"custom"``).
    ``nodes``    every node of the cluster, in cluster order.
    ``drops``    node -> the nodes it will not hear from (absent: hears everyone).
    ``summary``  one line for people, e.g. ``"n1 n2 | n3 n4 n5"``.
    """

    kind: str
    nodes: tuple[str, ...]
    drops: Mapping[str, frozenset[str]]
    summary: str

    def __post_init__(self) -> None:
        known = set(self.nodes)
        for dst, srcs in self.drops.items():
            if dst not in known or not srcs <= known:
                bad = sorted(({dst} | set(srcs)) - known)
                raise ValueError(f"grudge {self.kind!r} names unknown node(s) {bad}; "
                                 f"expected nodes among {list(self.nodes)}")
            if dst in srcs:
                raise ValueError(f"grudge {self.kind!r}: node {dst!r} cannot hold a grudge "
                                 f"against itself")

    def links(self) -> list[Link]:
        """The directed links to cut, sorted: ``(src, dst)`` for each ``src`` in ``drops[dst]``."""
        return sorted((src, dst) for dst, srcs in self.drops.items() for src in srcs)

    def sees(self, node: str) -> frozenset[str]:
        """The nodes ``node`` still hears from, itself included."""
        return frozenset(self.nodes) - self.drops.get(node, frozenset())

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "nodes": list(self.nodes), "summary": self.summary,
                "drops": {n: sorted(s) for n, s in sorted(self.drops.items()) if s}}

    @classmethod
    def from_json(cls, d: Any) -> "Grudge":
        """Rebuild a grudge from :meth:`to_json` output; ``ValueError`` says what is wrong."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a grudge must be a JSON object with kind, nodes and drops "
                             f"(not {type(d).__name__})")
        try:
            nodes = tuple(str(n) for n in d["nodes"])
            drops = {str(k): frozenset(str(x) for x in v) for k, v in d["drops"].items()}
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"a grudge needs 'nodes' (list) and 'drops' "
                             f"(object of lists): {e!r}") from None
        return cls(kind=str(d.get("kind", "custom")), nodes=nodes, drops=drops,
                   summary=str(d.get("summary", "")) or _summary_of(nodes, drops))


def complete(kind: str, nodes: Sequence[str], components: Sequence[Sequence[str]],
             *, summary: str | None = None) -> Grudge:
    """The grudge in which each node hears only the nodes of its own component.

    Nodes in no component are left out of the grudge entirely (they hear everyone).
    """
    drops: dict[str, frozenset[str]] = {}
    for comp in components:
        outside = frozenset(n for c in components if c is not comp for n in c)
        for n in comp:
            drops[n] = outside
    return Grudge(kind=kind, nodes=tuple(nodes), drops=drops,
                  summary=summary or " | ".join(" ".join(c) for c in components))


def _shuffled(nodes: Sequence[str], rng: random.Random) -> list[str]:
    out = list(nodes)
    rng.shuffle(out)
    return out


def _need(kind: str, nodes: Sequence[str], n: int) -> None:
    if len(nodes) < n:
        raise ValueError(f"a {kind!r} partition needs at least {n} nodes (got {len(nodes)}); "
                         f"run with more nodes or choose another partition kind")
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"node names must be distinct (got {list(nodes)})")


def halves(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Two random halves, the smaller first (5 nodes: 2 | 3); nothing crosses."""
    _need("halves", nodes, 2)
    s = _shuffled(nodes, rng)
    k = len(s) // 2
    return complete("halves", nodes, [sorted(s[:k]), sorted(s[k:])])


def one(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """One random node cut off from all the others, both ways."""
    _need("one", nodes, 2)
    lone = rng.choice(list(nodes))
    rest = [n for n in nodes if n != lone]
    return complete("one", nodes, [[lone], rest])


def isolate(nodes: Sequence[str], group: Sequence[str], *, label: str | None = None) -> Grudge:
    """``group`` cut off from every other node, both ways; nodes inside ``group`` still hear each other.

    ``label`` names the group in the summary (e.g. its role): ``"orchestrator | orders
    inventory payment"``. ``ValueError`` if the group is empty, names unknown
    nodes, or holds every node (nothing would be cut).
    """
    group = sorted(dict.fromkeys(group))
    unknown = sorted(set(group) - set(nodes))
    if not group or unknown or len(group) == len(set(nodes)):
        raise ValueError(f"cannot isolate {group or 'no nodes'} among {list(nodes)}: the group must "
                         f"be a non-empty, proper subset of the nodes")
    rest = [n for n in nodes if n not in group]
    name = f"{label} ({' '.join(group)})" if label and group != [label] else " ".join(group)
    return complete("isolate", nodes, [group, rest], summary=f"{name} | {' '.join(rest)}")


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Each node sees a majority, and no two nodes see the same majority.

    The nodes are shuffled onto a ring; with ``m = n // 2 + 1``, the node at
    position ``i`` hears the ``m`` consecutive nodes from ``i - (m - 1) // 2``.
    Those windows are rotations of one block shorter than the ring, hence
    pairwise distinct. For odd ``n`` they are centred, so the grudge is
    symmetric (5 nodes: each hears its two neighbours and drops the other two).
    """
    _need("majorities-ring", nodes, 3)
    ring = _shuffled(nodes, rng)
    n = len(ring)
    m = n // 2 + 1
    back = (m - 1) // 2
    drops: dict[str, frozenset[str]] = {}
    parts: list[str] = []
    for i, node in enumerate(ring):
        seen = [ring[(i - back + j) % n] for j in range(m)]
        drops[node] = frozenset(ring) - frozenset(seen)
        parts.append(f"{node} sees {' '.join(sorted(seen))}")
    return Grudge(kind="majorities-ring", nodes=tuple(nodes), drops=drops,
                  summary="ring " + " ".join(ring) + ": " + "; ".join(parts))


def bridge(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Two halves joined only through one node that hears, and is heard by, everyone.

    Jepsen's bridge: shuffle, split in halves, and the first node of the second
    half becomes the bridge (5 nodes: 2 | bridge | 2).
    """
    _need("bridge", nodes, 3)
    s = _shuffled(nodes, rng)
    k = len(s) // 2
    left, mid, right = sorted(s[:k]), s[k], sorted(s[k + 1:])
    return complete("bridge", nodes, [left, right],
                    summary=f"{' '.join(left)} | {mid} (bridge) | {' '.join(right)}")


GRUDGE_KINDS: Mapping[str, Callable[[Sequence[str], random.Random], Grudge]] = {
    "halves": halves,
    "one": one,
    "majorities-ring": majorities_ring,
    "bridge": bridge,
}
"""Partition kind name -> grudge maker, in the order the schedule draws from."""


def make_grudge(kind: str, nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Draw a grudge of ``kind``; ``ValueError`` names the kinds there are."""
    try:
        maker = GRUDGE_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown partition kind {kind!r}; expected one of "
                         f"{list(GRUDGE_KINDS)}") from None
    return maker(nodes, rng)


def _summary_of(nodes: Sequence[str], drops: Mapping[str, frozenset[str]]) -> str:
    parts = [f"{n} drops {' '.join(sorted(drops[n]))}" for n in nodes if drops.get(n)]
    return "; ".join(parts) or "no links cut"
