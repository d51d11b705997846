"""Vector clocks and the guide's merge of concurrent versions (its §4.3), as pure functions.

The guide's ``VectorClock`` is a map ``node -> counter``. ``increment`` bumps
the local entry, ``merge`` takes the pointwise maximum, and ``compare``
answers ``BEFORE``, ``AFTER``, ``EQUAL`` or ``CONCURRENT``. Its
``DistributedKVStore`` writes locally with the local clock incremented and
replicates; a replica that receives a version (``handleReplication``)
compares clocks:

* nothing stored yet, or ``BEFORE`` (the stored version precedes the remote
  one): take the remote version and its clock;
* ``AFTER`` (the stored version is newer) and ``EQUAL``: keep the stored one;
* ``CONCURRENT``: resolve the conflict (``resolveConflict``), merge both
  clocks and increment the local entry.

``resolveConflict`` as the guide has it: two arrays merge into their union
without duplicates, in order (the shopping cart); anything else keeps both
versions, as siblings. A version here holds its siblings, so both cases are
one rule: when every sibling on both sides is a list the result is one list,
the ordered union; otherwise the result is every distinct sibling of both.

Why this loses no acknowledged set add: every version with clock entry
``c: k`` holds everything node ``c`` held when it issued ``k`` (a node issues
each ``k`` once, under its replica's lock, from its local state: a write
extends that state, a merge unions it). A version replaces another only when
its clock is later (``BEFORE``), so it holds all the replaced one held; a
``CONCURRENT`` pair is unioned. So an element, once in a version, is in every
later version of that replica; an add acknowledged by W replicas meets every
read of R > N - W replicas.

Standard library only: this module runs inside minimal containers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["AFTER", "BEFORE", "CONCURRENT", "EQUAL", "OPS", "Clock", "VVersion", "apply", "compare",
           "increment", "merge", "receive", "resolve_conflict", "union"]

Clock = Mapping[str, int]
BEFORE, AFTER, EQUAL, CONCURRENT = "BEFORE", "AFTER", "EQUAL", "CONCURRENT"
OPS = ("put", "add", "append")
"""What a coordinator applies: ``put`` a register value, ``add`` to a set, ``append`` to a list."""


def increment(clock: Clock, node: str) -> dict[str, int]:
    """The guide's ``increment()``: ``clock`` with ``node``'s entry one higher (a new dict)."""
    out = dict(clock)
    out[node] = out.get(node, 0) + 1
    return out


def merge(a: Clock, b: Clock) -> dict[str, int]:
    """The guide's ``merge``: the pointwise maximum."""
    out = dict(a)
    for node, n in b.items():
        if n > out.get(node, 0):
            out[node] = n
    return out


def compare(a: Clock, b: Clock) -> str:
    """The guide's ``a.compare(b)``: ``AFTER`` when ``a`` is later than ``b``, ``BEFORE``, ``EQUAL``, ``CONCURRENT``.

    A missing entry counts as 0.
    """
    a_greater = b_greater = False
    for node in a.keys() | b.keys():
        x, y = a.get(node, 0), b.get(node, 0)
        if x > y:
            a_greater = True
        elif y > x:
            b_greater = True
    if a_greater and not b_greater:
        return AFTER
    if b_greater and not a_greater:
        return BEFORE
    if not a_greater and not b_greater:
        return EQUAL
    return CONCURRENT


def _ident(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def union(*lists: Any) -> list[Any]:
    """The ordered union of lists without duplicates (the guide's ``[...new Set([...a, ...b])]``)."""
    out: list[Any] = []
    seen: set[str] = set()
    for xs in lists:
        for x in xs:
            i = _ident(x)
            if i not in seen:
                seen.add(i)
                out.append(x)
    return out


def resolve_conflict(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    """The guide's ``resolveConflict`` on two versions' siblings (see the module docstring)."""
    if all(isinstance(v, list) for v in (*a, *b)):
        return (union(*a, *b),)
    return tuple(union(a, b))


@dataclass(frozen=True, slots=True, kw_only=True)
class VVersion:
    """One replica's version of a key: its siblings (one, unless concurrent values were kept) and clock."""

    siblings: tuple[Any, ...] = ()
    clock: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"siblings": list(self.siblings), "clock": dict(self.clock)}

    @classmethod
    def from_json(cls, d: Any) -> "VVersion":
        """From ``{"siblings": [...], "clock": {node: n}}``; ValueError naming what is wrong."""
        if not isinstance(d, dict) or not isinstance(d.get("siblings"), list) or not isinstance(d.get("clock"), dict):
            raise ValueError(f'a vclock version is {{"siblings": [...], "clock": {{node: n}}}} (not {d!r:.200})')
        clock = d["clock"]
        if not all(isinstance(k, str) and isinstance(n, int) and not isinstance(n, bool) and n >= 0
                   for k, n in clock.items()):
            raise ValueError(f"a vclock clock maps node names to counters >= 0 (not {clock!r:.200})")
        return cls(siblings=tuple(d["siblings"]), clock=dict(clock))

    @property
    def empty(self) -> bool:
        return not self.clock


def receive(existing: VVersion | None, remote: VVersion, me: str) -> tuple[VVersion, str]:
    """The guide's ``handleReplication`` on node ``me``: the version to keep, and the branch taken.

    The branch is ``compare(existing, remote)``, or ``"NEW"`` when nothing was stored.
    """
    if existing is None or existing.empty:
        return remote, "NEW"
    branch = compare(existing.clock, remote.clock)
    if branch == BEFORE:
        return remote, branch
    if branch in (AFTER, EQUAL):
        return existing, branch
    merged = increment(merge(existing.clock, remote.clock), me)
    return VVersion(siblings=resolve_conflict(existing.siblings, remote.siblings), clock=merged), branch


def apply(existing: VVersion | None, op: str, arg: Any, me: str) -> VVersion:
    """A write coordinated by ``me`` (the guide's ``write``): the local clock incremented, the value changed.

    ``put`` replaces every sibling with ``arg``; ``add`` unions the siblings into
    one set and adds ``arg``; ``append`` unions them into one list and appends
    ``arg``. ValueError for another op.
    """
    base = existing or VVersion()
    clock = increment(base.clock, me)
    lists = [v for v in base.siblings if isinstance(v, list)]
    if op == "put":
        return VVersion(siblings=(arg,), clock=clock)
    if op == "add":
        current = union(*lists)
        return VVersion(siblings=(current if any(_ident(x) == _ident(arg) for x in current)
                                  else [*current, arg],), clock=clock)
    if op == "append":
        return VVersion(siblings=([*union(*lists), arg],), clock=clock)
    raise ValueError(f"a vclock write is one of {OPS} (not {op!r})")
