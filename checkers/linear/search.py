"""The search: Wing & Gong's linearization search with Lowe's cache, for one partition.

A configuration is (L, s): the set L of operations linearized so far, as the
bits of a Python ``int``, and the model state s after them. Bits ``0..K-1`` are
the ``ok`` operations in order of their completion; bits ``K..`` the
indeterminate (``info``) ones in order of invocation. Let m be the ``ok``
operation not in L that completes first (the lowest zero bit). Every
operation not in L invoked before m completed may come next (the candidates);
nothing invoked later may, until m is linearized. The history is linearizable
iff some sequence of such steps linearizes every ``ok`` operation; ``info``
operations may be linearized after their invocation or never.

Depth-first search over configurations, each visited once (the cache), with
these cuts, each sound (nothing that could lead to a linearization is skipped):

* candidates are tried in bit order: ``ok`` operations that complete soonest
  first, ``info`` operations last;
* a legal ``ok`` read-only candidate is linearized at once, without branching
  (moving a read earlier never hurts: it changes no state and only widens
  the candidates);
* dominance: (L, s) is skipped when the cache holds (L', s) with the same ``ok``
  part and a subset of L's ``info`` part (fewer ``info`` ops taken is never worse);
* if m ``needs`` a state other than s and no candidate ``makes`` that state,
  the configuration is dead: m can never become legal here.

Budgets: ``deadline`` (``time.monotonic()`` value) and ``max_cache`` (entries)
stop the search with outcome ``"unknown"`` instead of a hang or an OOM kill;
:func:`searcher` runs the search in slices so that a caller can interleave
partitions and enforce one budget over all of them.
The deepest configuration reached is kept (as a chain of frames) to explain
an ``"invalid"`` outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Generator, Hashable, Literal, Sequence

from checkers.linear.models import ANY, NOTHING, Call, Illegal, Model
from checkers.linear.partition import Entry

__all__ = ["SearchResult", "search", "searcher"]

Outcome = Literal["valid", "invalid", "unknown"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """What one partition's search found.

    ``prefix``  the longest linearization found: (entry number, state after),
                entry numbers indexing the ``entries`` given to :func:`search`.
    ``stuck``   for ``"invalid"``, the entry that could not be linearized after it.
    """

    outcome: Outcome
    explored: int
    cache_entries: int
    reason: str | None = None
    prefix: tuple[tuple[int, Hashable], ...] = ()
    stuck: int | None = None


def search(entries: Sequence[Entry], model: Model, init: Hashable, *,
           deadline: float | None = None, max_cache: int | None = None) -> SearchResult:
    """Decide whether ``entries`` (one partition) are linearizable from ``init``."""
    run = searcher(entries, model, init)
    try:
        while True:
            n_cache = next(run)
            if deadline is not None and time.monotonic() > deadline:
                return run.throw(BudgetSpent("time budget spent"))
            if max_cache is not None and n_cache > max_cache:
                return run.throw(BudgetSpent(f"cache bound of {max_cache} entries reached"))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


_NO_INFO = (0,)  # the cache value when a partition has no info ops


class BudgetSpent(Exception):
    """Thrown into a :func:`searcher` to stop it with outcome ``"unknown"``."""


def searcher(entries: Sequence[Entry], model: Model, init: Hashable, *,
             slice_: int = 1024) -> Generator[int, None, SearchResult]:
    """:func:`search` as a generator: yields its cache size every ``slice_`` configurations.

    The caller enforces budgets by throwing :class:`BudgetSpent` in, which
    returns an ``"unknown"`` result; several partitions can so be searched in
    turns, and the first invalid one found ends the check.
    """
    n = len(entries)
    rets = [e.ret_pos for e in entries]
    oks = sorted((i for i in range(n) if rets[i] is not None), key=rets.__getitem__)
    infos = [i for i in range(n) if rets[i] is None]  # entries come in invocation order
    order = oks + infos                      # bit b <-> entries[order[b]]
    k = len(oks)
    if k == 0:
        return SearchResult(outcome="valid", explored=0, cache_entries=0)
    okmask = (1 << k) - 1
    has_info = k < n
    calls = [entries[i].call for i in order]
    step = model.step
    bit_of = [0] * n
    for b, i in enumerate(order):
        bit_of[i] = b

    # candidates when bit j is the first unlinearized ok op: all ops invoked before j returns
    cand_of = [0] * k
    acc, ci = 0, 0
    invoked = [e.call_pos for e in entries]
    invoked.append(rets[oks[-1]])  # a sentinel that ends the scan after the last entry
    for j in range(k):
        r = rets[oks[j]]
        while invoked[ci] < r:  # type: ignore[operator]
            acc |= 1 << bit_of[ci]
            ci += 1
        cand_of[j] = acc
    ro_mask = needs_mask = fixed_mask = any_maker = 0
    needs = []
    makers: dict[Hashable, int] = {}
    for b, c in enumerate(calls):
        if b < k:
            needs.append(c.needs)
            if c.needs is not NOTHING:
                needs_mask |= 1 << b
            if c.read_only:
                ro_mask |= 1 << b
        if c.read_only:
            continue
        if c.makes is ANY:
            any_maker |= 1 << b
        else:
            makers[c.makes] = makers.get(c.makes, 0) | (1 << b)
            fixed_mask |= 1 << b
    grows = model.grows

    def reachable(j: int, L: int, s: Hashable) -> bool:
        """Can the state op ``j`` needs be made by ops that may precede ``j``?"""
        need = needs[j]
        if need is NOTHING or need == s:
            return True
        before = cand_of[j] & ~L & ~(1 << j)
        if makers.get(need, 0) & before:
            return True
        if not any_maker & before:
            return False
        if grows is None or grows(s, need):
            return True
        fixed = before & fixed_mask  # a fixed state that the others could grow into need?
        while fixed:
            low = fixed & -fixed
            fixed ^= low
            if grows(calls[low.bit_length() - 1].makes, need):
                return True
        return False

    cache: dict[tuple[int, Hashable], Any] = {}  # (ok part of L, s) -> info parts seen
    n_cache = 0
    explored = 0
    next_yield = slice_
    # a frame: [L, s, todo, parent frame, the op that cannot follow if todo runs out]
    best: list[Any] = [0, init, 0, None, 0]
    best_depth = -1
    L, s, parent = 0, init, None
    stack: list[list[Any]] = []
    while True:
        # entering configuration (L, s), not seen before
        explored += 1
        if explored == next_yield:
            next_yield += slice_
            try:
                yield n_cache
            except BudgetSpent as e:
                return _stop("unknown", str(e), explored, n_cache, best, order, calls, stuck=None)
        L0 = L
        while True:  # legal reads among the candidates: take them all, without branching
            m = (~L & (L + 1)).bit_length() - 1
            if m >= k:
                return SearchResult(outcome="valid", explored=explored, cache_entries=n_cache)
            cand = cand_of[m] & ~L
            ro = cand & ro_mask
            if not ro:
                break
            L1 = L
            while ro:
                low = ro & -ro
                ro ^= low
                if step(s, calls[low.bit_length() - 1]).__class__ is not Illegal:
                    L |= low
            if L == L1:
                break
        todo = cand & ~ro_mask  # the reads left are illegal in s
        blocked = m
        need = needs[m]
        pending = needs_mask & ~L
        r = (pending & -pending).bit_length() - 1  # the next op that needs a state (-1: none)
        if need is not NOTHING and need != s and not reachable(m, L, s):
            todo = 0  # m needs a state no op that may come before it can make: dead end
        elif r > m and needs[r] != s and not reachable(r, L, s):
            todo, blocked = 0, r  # so does the next op that needs a state
        elif L != L0:
            seen = cache.get((L & okmask, s))
            info = L >> k
            if not has_info:
                if seen is None:
                    cache[(L, s)] = _NO_INFO
                    n_cache += 1
                else:
                    todo = 0
            elif seen is None:
                cache[(L & okmask, s)] = [info]
                n_cache += 1
            elif any(x & ~info == 0 for x in seen):
                todo = 0
            else:
                seen.append(info)
                n_cache += 1
        frame = [L, s, todo, parent, blocked]
        depth = (L & okmask).bit_count()
        if depth > best_depth:
            best, best_depth = frame, depth
        stack.append(frame)
        # find the next configuration to enter, backtracking as needed
        while stack:
            top = stack[-1]
            todo = top[2]
            tL, ts = top[0], top[1]
            while todo:
                low = todo & -todo
                todo ^= low
                s2 = step(ts, calls[low.bit_length() - 1])
                if s2.__class__ is Illegal:
                    continue
                L2 = tL | low
                if not has_info:
                    key = (L2, s2)
                    if key in cache:
                        continue
                    cache[key] = _NO_INFO
                    n_cache += 1
                    top[2] = todo
                    L, s, parent = L2, s2, top
                    break
                key = (L2 & okmask, s2)
                seen = cache.get(key)
                info2 = L2 >> k
                if seen is None:
                    cache[key] = [info2]
                elif any(x & ~info2 == 0 for x in seen):
                    continue
                else:
                    seen.append(info2)
                n_cache += 1
                top[2] = todo
                L, s, parent = L2, s2, top
                break
            else:
                stack.pop()
                continue
            break
        else:
            return _stop("invalid", None, explored, n_cache, best, order, calls,
                         stuck=order[best[4]])


def _stop(outcome: Outcome, reason: str | None, explored: int, n_cache: int, best: list[Any],
          order: list[int], calls: list[Call], *, stuck: int | None) -> SearchResult:
    """The result, with the linearization that leads to ``best``.

    Each frame adds the op stepped into (never read-only: reads are not
    branched on) and then the reads taken at once in the new state, in that order.
    """
    chain = []
    f = best
    while f is not None:
        chain.append(f)
        f = f[3]
    chain.reverse()
    prefix: list[tuple[int, Hashable]] = []
    prev = 0
    for f in chain:
        new = f[0] & ~prev
        bits = []
        while new:
            low = new & -new
            new ^= low
            bits.append(low.bit_length() - 1)
        bits.sort(key=lambda b: calls[b].read_only)  # stable: the stepped op first
        prefix.extend((order[b], f[1]) for b in bits)
        prev = f[0]
    return SearchResult(outcome=outcome, explored=explored, cache_entries=n_cache, reason=reason,
                        prefix=tuple(prefix), stuck=stuck)
