"""A minimal witness: the fewest operations of one key that are still not linearizable.

The search proves a key invalid by exhausting its configurations and keeps
the deepest one it reached (:mod:`checkers.linear.search`); that prefix is
correct but says little to a reader (a 1218-op prefix ending in "state 878").
This module shrinks the key's operations by delta debugging (Zeller's
``ddmin``, complements only) while the search still says ``invalid``, down
to a set where removing any one operation makes the rest linearizable:
typically two to four operations, which :mod:`checkers.linear.causes` then
names ("stale read", ...).

**Soundness.** A witness must not be an artefact of removal: every
linearization of the whole key, restricted to the witness, must be a
linearization of the witness, so that "the witness is not linearizable"
implies "the key is not". Removing a read never breaks this (reads change
no state). Removing a write can: a read of its value would be left without
its writer. So an operation ``x`` whose legality is one fixed state
(``Call.needs``: a read of ``v``, a cas from ``v``) is kept only together
with *every* operation that may produce that state before ``x`` (its
possible makers: ``makes == needs``, invoked before ``x`` completed); removing
one of them removes ``x`` too (:func:`closure`). For models where this
argument holds (every non-read call has a fixed ``makes`` and every read a
fixed ``needs``: registers, cas-registers, mutexes; the condition
:mod:`checkers.linear.partition` uses for the same reason) any operation may
be removed; for the others (appends, adds, counters: a state made by many)
only reads are.

**Bounded.** The reduction never runs on a big key as a whole first: it
starts from the last few operations before the failing one (plus, for each,
all of its possible makers), doubling the window until the search says
``invalid``; then shrinks. It has one time budget, read from the ``clock``
passed in; when that runs out it returns what it has, flagged
``minimal=False`` (still a sound, non-linearizable set), or ``None`` when it
found no small invalid set at all; the caller then falls back to the
search's prefix explanation.

The search is used only through its public :func:`~checkers.linear.search.search`
on sub-histories (lists of the same :class:`~checkers.linear.partition.Entry`
values, in invocation order).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Hashable, Sequence

from checkers.linear.models import ANY, NOTHING, Model
from checkers.linear.partition import Entry
from checkers.linear.search import search

__all__ = ["WINDOWS", "Witness", "closure", "dependents", "is_linearizable", "makers_of", "minimal_witness"]

WINDOWS = (4, 8, 16, 32, 64, 128, 256, 512)
"""Operations before the failing one tried as the first candidate sets, in turn."""

_INF = float("inf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Witness:
    """A non-linearizable set of one key's entries, in invocation (real-time) order.

    ``minimal``   every single removal (with :func:`closure`) was tried and
                  each left a linearizable rest (1-minimal).
    ``searches``  how many sub-histories the search was run on.
    ``note``      why the reduction stopped early, when ``minimal`` is False.
    """

    entries: tuple[Entry, ...]
    minimal: bool
    searches: int
    note: str | None = None


class _OutOfTime(Exception):
    pass


def _fixed(entries: Sequence[Entry]) -> bool:
    """Do all calls have one fixed ``makes`` (writes) or ``needs`` (reads)? (See the module docstring.)"""
    for e in entries:
        c = e.call
        if c.read_only:
            if c.needs is NOTHING and not c.free:
                return False
        elif c.makes is ANY:
            return False
    return True


def makers_of(x: Entry, entries: Sequence[Entry]) -> list[Entry]:
    """The entries that may produce the state ``x`` needs before ``x`` takes effect."""
    need = x.call.needs
    if need is NOTHING:
        return []
    end = _INF if x.ret_pos is None else x.ret_pos
    return [m for m in entries if m is not x and not m.call.read_only and m.call.makes is not ANY
            and m.call.makes == need and m.call_pos < end]


def dependents(entries: Sequence[Entry]) -> dict[int, list[Entry]]:
    """For each entry (by ``id``), the entries it is a possible maker for: the reverse of :func:`makers_of`."""
    by_value = _by_value(entries)
    out: dict[int, list[Entry]] = {}
    for x in entries:
        need = x.call.needs
        if need is NOTHING:
            continue
        end = _INF if x.ret_pos is None else x.ret_pos
        for m in by_value.get(need, ()):
            if m is not x and m.call_pos < end:
                out.setdefault(id(m), []).append(x)
    return out


def closure(removed: Sequence[Entry], keep: Sequence[Entry], *, fixed: bool = True,
            deps: dict[int, list[Entry]] | None = None) -> list[Entry]:
    """``removed`` plus every entry of ``keep`` that loses one of its possible makers, transitively.

    With ``fixed`` False (a model whose writes have no single result) nothing
    is added: only reads are removed then, and a read explains nobody.
    ``deps`` is :func:`dependents` of a superset of ``keep``, when the caller
    has it (the reduction computes it once).
    """
    out = list(removed)
    if not fixed:
        return out
    if deps is None:
        deps = dependents(keep)
    inside = {id(e) for e in keep}
    gone = {id(e) for e in out}
    todo = list(out)
    while todo:
        m = todo.pop()
        for x in deps.get(id(m), ()):
            if id(x) in inside and id(x) not in gone:
                gone.add(id(x))
                out.append(x)
                todo.append(x)
    return out


def _upward(chosen: Sequence[Entry], entries: Sequence[Entry],
            by_value: dict[Hashable, list[Entry]]) -> list[Entry]:
    """``chosen`` plus the possible makers of each, transitively: a sound candidate set.

    ``by_value`` maps each fixed ``makes`` to the entries of ``entries`` making it.
    """
    have = {id(e) for e in chosen}
    todo = list(chosen)
    while todo:
        x = todo.pop()
        if x.call.needs is NOTHING:
            continue
        end = _INF if x.ret_pos is None else x.ret_pos
        for m in by_value.get(x.call.needs, ()):
            if m is not x and m.call_pos < end and id(m) not in have:
                have.add(id(m))
                todo.append(m)
    return [e for e in entries if id(e) in have]  # invocation order, as the search needs


def _by_value(entries: Sequence[Entry]) -> dict[Hashable, list[Entry]]:
    by_value: dict[Hashable, list[Entry]] = {}
    for m in entries:
        if not m.call.read_only and m.call.makes is not ANY:
            by_value.setdefault(m.call.makes, []).append(m)
    return by_value


def is_linearizable(entries: Sequence[Entry], model: Model, init: Hashable, *,
                    deadline: float | None = None) -> bool | None:
    """The search's verdict on a sub-history: True, False, or None if it ran out of time."""
    out = search(list(entries), model, init, deadline=deadline).outcome
    return None if out == "unknown" else out == "valid"


def minimal_witness(entries: Sequence[Entry], model: Model, init: Hashable, *, stuck: int | None = None,
                    budget_s: float = 3.0, clock: Callable[[], float] = time.monotonic) -> Witness | None:
    """Shrink ``entries`` (one key, invocation order, not linearizable) to a minimal witness.

    ``stuck`` is the index in ``entries`` of the operation the search could
    not linearize; the first candidate sets are the operations just before it.
    Returns ``None`` when no small invalid set was found within ``budget_s``.
    """
    deadline = clock() + budget_s
    fixed = _fixed(entries)
    count = [0]

    def invalid(sub: Sequence[Entry]) -> bool:
        if clock() > deadline:
            raise _OutOfTime
        count[0] += 1
        verdict = search(list(sub), model, init, deadline=deadline)
        if verdict.outcome == "unknown":
            raise _OutOfTime
        return verdict.outcome == "invalid"

    try:
        start = _first_invalid(entries, stuck, fixed, invalid)
    except _OutOfTime:
        return None
    if start is None:
        return None
    deps = dependents(start) if fixed else {}  # start is closed under makers: its own index will do
    try:
        current = _ddmin(start, fixed, invalid, deps)
    except _Shrunk as partial:
        return Witness(entries=tuple(partial.best), minimal=False, searches=count[0],
                       note=f"the reduction's {budget_s:g} s budget ran out after {count[0]} searches")
    return Witness(entries=tuple(current), minimal=True, searches=count[0])


class _Shrunk(Exception):
    """Out of time during the shrink; carries the smallest invalid set so far."""

    def __init__(self, best: list[Entry]):
        self.best = best


def _first_invalid(entries: Sequence[Entry], stuck: int | None, fixed: bool,
                   invalid: Callable[[Sequence[Entry]], bool]) -> list[Entry] | None:
    """The first of the growing windows before ``stuck`` that is not linearizable.

    A window is the last ``w`` operations invoked before ``stuck`` completed,
    made sound: with the possible makers of each (``fixed`` models), or with
    every non-read operation of the key (the others).
    """
    all_ = list(entries)
    end = _INF if stuck is None or all_[stuck].ret_pos is None else all_[stuck].ret_pos
    before = [e for e in all_ if e.call_pos < end]
    last = -1
    by_value = _by_value(all_) if fixed else {}
    for w in WINDOWS + (len(before),):
        window = before[max(0, len(before) - w):]
        if fixed:
            chosen = _upward(window, all_, by_value)
        else:
            ids = {id(e) for e in window}
            chosen = [e for e in all_ if not e.call.read_only or id(e) in ids]
        if len(chosen) != last:
            last = len(chosen)
            if invalid(chosen):
                return chosen
        if w >= len(before):
            break
    return all_ if len(all_) != last and invalid(all_) else None


def _ddmin(current: list[Entry], fixed: bool, invalid: Callable[[Sequence[Entry]], bool],
           deps: dict[int, list[Entry]]) -> list[Entry]:
    """Complement-only ddmin with :func:`closure`; 1-minimal when it returns.

    The closure is taken on bit sets over ``current`` as it starts (bit ``i``:
    its ``i``-th entry), with each entry's dependents as one mask: a mutex's
    every acquire depends on every earlier release, so the dependents of a
    few hundred ops are tens of thousands of pairs, walked per chunk tried.
    """
    bit = {id(e): i for i, e in enumerate(current)}
    dep_mask = [0] * len(current)
    for m_id, xs in deps.items():
        i = bit.get(m_id)
        if i is not None:
            mask = 0
            for x in xs:
                j = bit.get(id(x))
                if j is not None:
                    mask |= 1 << j
            dep_mask[i] = mask
    n = 2
    while len(current) > 1:
        removable = current if fixed else [e for e in current if e.call.read_only]
        if not removable:
            return current
        n = min(n, len(removable))
        size = -(-len(removable) // n)
        chunks = [removable[i:i + size] for i in range(0, len(removable), size)]
        inside = 0
        for e in current:
            inside |= 1 << bit[id(e)]
        for chunk in chunks:
            gone = 0
            for e in chunk:
                gone |= 1 << bit[id(e)]
            if fixed:
                gone = _closure_mask(gone, inside, dep_mask)
            rest = [e for e in current if not gone >> bit[id(e)] & 1]
            if not rest:
                continue
            try:
                bad = invalid(rest)
            except _OutOfTime:
                raise _Shrunk(current) from None
            if bad:
                current = rest
                n = max(n - 1, 2)
                break
        else:
            if n >= len(removable):
                return current
            n = min(len(removable), 2 * n)
    return current


def _closure_mask(gone: int, inside: int, dep_mask: list[int]) -> int:
    """:func:`closure` on bit sets: ``gone`` plus the bits of ``inside`` that lose a maker, transitively."""
    frontier = gone
    while frontier:
        new = 0
        while frontier:
            low = frontier & -frontier
            frontier ^= low
            new |= dep_mask[low.bit_length() - 1]
        new &= inside & ~gone
        gone |= new
        frontier = new
    return gone
