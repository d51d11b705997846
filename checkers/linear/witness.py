"""A minimal witness: the fewest operations of one key that are still not linearizable.

The search proves a key invalid by exhausting its configurations and keeps
the deepest one it reached (:mod:`checkers.linear.search`); that prefix is
correct but says little to a reader (a 1218-op prefix ending in "state 878").
This module shrinks the key's operations while they stay not
linearizable, down to a set where removing any one operation makes the rest
linearizable: typically two to four operations, which
:mod:`checkers.linear.causes` then names ("stale read", ...).

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

**Monotone, so cheap.** Linearizability is monotone on sets closed under
:func:`closure` (every operation's possible makers in): a closed subset of a
linearizable closed set is linearizable (restrict its linearization: by the
argument above it stays legal). The shrink (:func:`_shrink`) uses this
twice. A chunk whose removal leaves the rest invalid goes for good; one
whose removal leaves it linearizable is halved, down to single operations,
and one that stays then stays to the end (1-minimal, with no final pass of
single removals). And a rest inside a set already found linearizable is
known linearizable without a search: on a mutex, where an early release
takes every later acquire with it, 632 searches became 5. Each candidate set
goes first to :mod:`checkers.linear.small`, a plain cached search without
the general one's set-up (ten operations in some 20 us, not 100 us), and
to :func:`~checkers.linear.search.search` only when that gives up.

**Bounded.** The reduction never runs on a big key as a whole first: it
starts from the last few operations before the failing one (plus, for each,
all of its possible makers), doubling the window until the search says
``invalid`` (a window that is the whole key is known invalid: no search);
then shrinks. It has one time budget, read from the ``clock`` passed in
before every search and every removal; when that runs out it returns what
it has, flagged ``minimal=False`` (still a sound, non-linearizable set), or
``None`` when it found no small invalid set at all; the caller then falls
back to the search's prefix explanation. Its memory is the candidate sets
and closures tried, as bit sets, built as they are needed (a 40,000-op
mutex key: 69 MB).

The search is used only through its public :func:`~checkers.linear.search.search`
on sub-histories (lists of the same :class:`~checkers.linear.partition.Entry`
values, in invocation order).
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from typing import Callable, Hashable, Sequence

from checkers.linear.models import ANY, NOTHING, Model
from checkers.linear.partition import Entry
from checkers.linear.search import search
from checkers.linear.small import Subsets
from checkers.linear.small import linearizable as small_linearizable

__all__ = ["WINDOWS", "Witness", "closure", "dependents", "is_linearizable", "makers_of", "minimal_witness"]

WINDOWS = (4, 8, 16, 32, 64, 128, 256, 512)
"""Operations before the failing one tried as the first candidate sets, in turn."""

_INF = float("inf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Witness:
    """A non-linearizable set of one key's entries, in invocation (real-time) order.

    ``minimal``   every single removal (with :func:`closure`) leaves a
                  linearizable rest (1-minimal): searched, or known from a
                  linearizable closed superset (see the module docstring).
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

    ``by_value`` maps each fixed ``makes`` to the entries of ``entries`` making
    it, in invocation order. The possible makers of an op needing ``v`` are a
    prefix of ``by_value[v]`` (those invoked before it completed), so per
    value only the longest prefix asked for matters: linear, where walking
    each op's makers is quadratic on a mutex (every acquire has every earlier
    release as a possible maker).
    """
    have = {id(e) for e in chosen}
    taken: dict[Hashable, int] = {}  # per value: how long a prefix of its makers is in
    todo = list(chosen)
    while todo:
        x = todo.pop()
        need = x.call.needs
        if need is NOTHING:
            continue
        makers = by_value.get(need)
        if not makers:
            continue
        end = _INF if x.ret_pos is None else x.ret_pos
        k = taken.get(need, 0)
        while k < len(makers) and makers[k].call_pos < end:
            m = makers[k]
            k += 1
            if id(m) not in have:
                have.add(id(m))
                todo.append(m)
        taken[need] = k
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
    Returns ``None`` when no invalid window was found within ``budget_s``.
    """
    deadline = clock() + budget_s
    fixed = _fixed(entries)
    count = [0]

    def general(sub: Sequence[Entry]) -> bool:
        verdict = search(list(sub), model, init, deadline=deadline)
        if verdict.outcome == "unknown":
            raise _OutOfTime
        return verdict.outcome == "invalid"

    gave_up = [_INF]  # the smallest set the plain search gave up on: from half that size on, it is not tried

    def plain(size: int, run: Callable[[], bool | None]) -> bool | None:
        if 2 * size >= gave_up[0]:
            return None
        got = run()
        if got is None:
            gave_up[0] = min(gave_up[0], size)
        return got

    def invalid(sub: Sequence[Entry]) -> bool:
        if clock() > deadline:
            raise _OutOfTime
        count[0] += 1
        quick = plain(len(sub), lambda: small_linearizable(sub, model, init))  # most sets: the plain search will do
        return general(sub) if quick is None else not quick

    try:
        start, valid = _first_invalid(entries, stuck, fixed, invalid)
    except _OutOfTime:
        return None
    subsets = Subsets(start, model, init)

    def invalid_subset(mask: int) -> bool:
        if clock() > deadline:
            raise _OutOfTime
        count[0] += 1
        quick = plain(mask.bit_count(), lambda: subsets(mask))
        return general([start[i] for i in _members(mask, len(start))]) if quick is None else not quick

    try:
        current = _shrink(start, fixed, invalid_subset, valid, lambda: clock() > deadline)
    except _Shrunk as partial:
        return Witness(entries=tuple(partial.best), minimal=False, searches=count[0],
                       note=f"the reduction's {budget_s:g} s budget ran out after {count[0]} searches")
    return Witness(entries=tuple(current), minimal=True, searches=count[0])


class _Shrunk(Exception):
    """Out of time during the shrink; carries the smallest invalid set so far."""

    def __init__(self, best: list[Entry]):
        self.best = best


def _first_invalid(entries: Sequence[Entry], stuck: int | None, fixed: bool,
                   invalid: Callable[[Sequence[Entry]], bool]) -> tuple[list[Entry], list[list[Entry]]]:
    """The first of the growing windows before ``stuck`` that is not linearizable, and those found linearizable.

    A window is the last ``w`` operations invoked before ``stuck`` completed,
    made sound: with the possible makers of each (``fixed`` models), or with
    every non-read operation of the key (the others). Each window holds the
    one before, so the linearizable ones are closed subsets of the invalid
    one: the shrink need not search them again. A window that is the whole
    key is known invalid (the caller's premise) without a search: on a mutex
    with open acquires every window is.
    """
    all_ = list(entries)
    end = _INF if stuck is None or all_[stuck].ret_pos is None else all_[stuck].ret_pos
    before = [e for e in all_ if e.call_pos < end]
    last = -1
    by_value = _by_value(all_) if fixed else {}
    valid: list[list[Entry]] = []
    for w in WINDOWS + (len(before),):
        window = before[max(0, len(before) - w):]
        if fixed:
            chosen = _upward(window, all_, by_value)
        else:
            ids = {id(e) for e in window}
            chosen = [e for e in all_ if not e.call.read_only or id(e) in ids]
        if len(chosen) != last:
            last = len(chosen)
            if last == len(all_) or invalid(chosen):
                return chosen, valid
            valid.append(chosen)
        if w >= len(before):
            break
    return all_, valid  # the whole key: known invalid


def _shrink(current: list[Entry], fixed: bool, invalid: Callable[[int], bool],
            valid: Sequence[Sequence[Entry]] = (), out_of_time: Callable[[], bool] = lambda: False) -> list[Entry]:
    """Remove chunks, halving those that cannot go, while the rest stays invalid; 1-minimal when it returns.

    Sets are bit sets over ``current`` as it starts (bit ``i``: its ``i``-th
    entry, in invocation order); ``current`` is closed under
    :func:`makers_of`, and so is every set tried (each removal takes its
    :func:`closure`, :class:`_Closure`). For such sets linearizability is
    monotone: a closed subset of a linearizable closed set is linearizable
    (the soundness argument of the module docstring). So a chunk whose
    removal leaves the rest invalid goes at once and is never tried again;
    one whose removal leaves it linearizable is halved, down to single
    entries, each of which then stays (a later, smaller set without it is a
    closed subset of the linearizable rest found, so it stays linearizable:
    the result is 1-minimal); and a rest inside a set already found
    linearizable is known linearizable without a search. That last cut is
    what makes chains cheap: a mutex's early release takes every later
    acquire with it, so most of its tries are known at once. ``valid`` are
    closed subsets of ``current`` already found linearizable. ``out_of_time``
    is asked before each removal (most need no search, and a closure on a
    big set is not free): True stops the shrink with :class:`_Shrunk`.
    """
    n = len(current)
    close = _Closure(current) if fixed else None
    alive = (1 << n) - 1
    bit = {id(e): i for i, e in enumerate(current)}
    known = [_mask([bit[id(e)] for e in sub], n) for sub in valid]  # closed sets found linearizable, as masks
    removable = [i for i, e in enumerate(current) if fixed or e.call.read_only]
    todo = [removable]
    flags = "1" * n  # alive, as a string: a bit test of an n-bit int costs n/64 words
    while todo:
        chunk = [i for i in todo.pop() if flags[i] == "1"]
        if not chunk:
            continue
        if out_of_time():
            raise _Shrunk([current[i] for i in _members(alive, n)])
        gone = _mask(chunk, n)
        if close is not None:
            gone = close(gone, alive)
        rest = alive & ~gone
        if rest and not any(rest & ~k == 0 for k in known):
            try:
                bad = invalid(rest)
            except _OutOfTime:
                raise _Shrunk([current[i] for i in _members(alive, n)]) from None
            if bad:
                alive = rest
                flags = _flags(alive, n)
                continue
            known.append(rest)
        if len(chunk) > 1:
            half = len(chunk) // 2
            todo.append(chunk[half:])
            todo.append(chunk[:half])
    return [current[i] for i in _members(alive, n)]


def _flags(mask: int, n: int) -> str:
    """``mask`` as ``n`` characters, ``"1"`` at each bit set (character ``i``: bit ``i``)."""
    return format(mask, f"0{n}b")[::-1] if n else ""


def _members(mask: int, n: int) -> list[int]:
    """The bits set in ``mask`` (below ``n``), in order."""
    flags = _flags(mask, n)
    return [i for i, f in enumerate(flags) if f == "1"]


DENSE_VALUES = 64
"""Up to this many values made, each value's makers are also kept as one mask (``values x ops`` bits)."""


def _mask(bits: Sequence[int], n: int) -> int:
    """The bit set of ``bits`` (each below ``n``)."""
    if n < 4096 or len(bits) < 64:
        m = 0
        for b in bits:
            m |= 1 << b
        return m
    buf = bytearray((n >> 3) + 1)  # one pass, not one n-bit int per bit
    for b in bits:
        buf[b >> 3] |= 1 << (b & 7)
    return int.from_bytes(buf, "little")


class _Closure:
    """:func:`closure` on bit sets over ``entries`` (closed under makers, in invocation order).

    ``close(gone, alive)`` is ``gone`` plus the bits of ``alive`` that lose a
    possible maker, transitively (``alive`` closed under makers). The
    dependents of a maker of ``v`` are the ops needing ``v`` that complete
    after it was invoked: the later the maker, the fewer, each set inside the
    earlier maker's. So per value only the earliest maker gone matters, and
    its dependents are a suffix of the value's needers sorted by completion:
    a mutex's every acquire depends on every earlier release, tens of
    thousands of pairs for a few hundred ops. The masks are built when first
    asked for and kept (a few per removal tried), never one per op up front:
    ``n`` masks of ``n`` bits is 200 MB at 40,000 ops.
    """

    __slots__ = ("n", "cps", "value_of", "lists", "dense", "ends", "need_bits", "deps", "dep_ks", "makers", "reach")

    def __init__(self, entries: Sequence[Entry]) -> None:
        n = self.n = len(entries)
        self.cps = [e.call_pos for e in entries]
        needers: dict[Hashable, list[tuple[float, int]]] = {}
        values: dict[Hashable, int] = {}
        lists: list[list[int]] = []  # per value: its makers' bits, in invocation order
        value_of = self.value_of = [-1] * n
        for i, e in enumerate(entries):
            c = e.call
            if c.needs is not NOTHING:
                needers.setdefault(c.needs, []).append((_INF if e.ret_pos is None else e.ret_pos, i))
            if not c.read_only and c.makes is not ANY:
                v = values.setdefault(c.makes, len(values))
                if v == len(lists):
                    lists.append([])
                lists[v].append(i)
                value_of[i] = v
        self.lists = lists
        self.ends: list[list[float]] = [[] for _ in lists]  # per value: its needers' completions, sorted
        self.need_bits: list[list[int]] = [[] for _ in lists]  # and their bits, in the same order
        for made, v in values.items():
            ns = sorted(needers.get(made, ()))
            self.ends[v] = [end for end, _ in ns]
            self.need_bits[v] = [i for _, i in ns]
        self.dense = [_mask(b, n) for b in lists] if len(lists) <= DENSE_VALUES else None
        self.makers = _mask([i for b in lists for i in b], n)
        self.deps: list[dict[int, int]] = [{} for _ in lists]  # per value, first needer -> the needers from there
        self.dep_ks: list[list[int]] = [[] for _ in lists]  # per value, those first needers, sorted
        self.reach: dict[int, int] = {}

    def _dep(self, i: int) -> int:
        """The direct dependents of maker ``i``: the needers of its value completing after it was invoked.

        Built from the nearest suffix already built (the removals tried come
        in runs of nearby ops), so a run costs what it adds.
        """
        v = self.value_of[i]
        k = bisect_right(self.ends[v], self.cps[i])
        memo = self.deps[v]
        got = memo.get(k)
        if got is None:
            ks = self.dep_ks[v]
            p = bisect_left(ks, k)
            k2 = ks[p] if p < len(ks) else len(self.need_bits[v])
            got = memo[k] = (memo[k2] if p < len(ks) else 0) | _mask(self.need_bits[v][k:k2], self.n)
            insort(ks, k)
        return got & ~(1 << i)

    def __call__(self, gone: int, alive: int) -> int:
        """``gone`` closed under dependents within ``alive`` (which must be closed under makers).

        The closure of a set is the union of its members' closures; within a
        maker-closed ``alive`` that is the closure over all the entries,
        intersected with ``alive`` (a chain of dependents ending inside
        ``alive`` runs inside it). And per value only the earliest maker's
        closure counts (it holds the others', but for themselves).
        """
        out = gone
        for i in self._earliest(gone & self.makers, gone):
            out |= self._reach(i)
        return out & alive

    def _earliest(self, frontier: int, gone: int) -> list[int]:
        """For each value made by a bit of ``frontier``: the index of its earliest maker in ``gone``."""
        dense = self.dense
        out = []
        if dense is not None and frontier.bit_count() > len(dense):  # few values (a mutex): one look per value
            for mask in dense:
                if frontier & mask:
                    g = gone & mask
                    out.append((g & -g).bit_length() - 1)
            return out
        seen = set()  # many (unique writes): one look per maker
        value_of = self.value_of
        while frontier:
            low = frontier & -frontier
            frontier ^= low
            v = value_of[low.bit_length() - 1]
            if v in seen:
                continue
            seen.add(v)
            if dense is not None:
                g = gone & dense[v]
                out.append((g & -g).bit_length() - 1)
            else:
                out.append(next(b for b in self.lists[v] if gone >> b & 1))
        return out

    def _reach(self, i: int) -> int:
        """Entry ``i`` and everything that loses a possible maker with it, transitively (memoised).

        Ops still open (``info``, or long) let the chain run backwards: an
        early acquire that never returned depends on a later release. A
        closure already known is taken whole.
        """
        reach = self.reach
        got = reach.get(i)
        if got is not None:
            return got
        first = self._dep(i)
        gone = 1 << i | first
        frontier = first & self.makers
        while frontier:
            add = 0
            for j in self._earliest(frontier, gone):
                known = reach.get(j)
                add |= self._dep(j) if known is None else known
            add &= ~gone
            gone |= add
            frontier = add & self.makers
        reach[i] = gone
        return gone
