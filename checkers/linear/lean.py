"""The first end of a small segment, found without the general search's set-up.

Most segments of a long history are a handful of operations entered from one
configuration (a kv history of 100,000 ops: 13,000 segments of 2-30 ops, 99 %
with no ``info`` op). For those the lazy driver needs only the first
configuration at the segment's end; the general
:func:`checkers.linear.search._segment` builds a resumable generator, paths,
closures for the look-ahead and a frame per configuration, and is closed
again when the driver moves on, which cost more than the search itself.

:func:`first_end` is the same depth-first search over the same
configurations (L, s) from one start, with the same bits (``ok`` ops by
completion, then the ``info`` ops carried open, then those invoked in the
segment), the same order of candidates, the same cache with the same
dominance over ``info`` ops, and the same cuts (reads taken at once, the
``needs`` reachability test for the first pending op and for the next one
that needs a state), as a plain function that keeps no paths. The
look-ahead to the next segment's first read is tested at the ends (an end it
rejects is passed over, as the general search does) and, once the search
has explored twice as many configurations as the segment has ops, at every
configuration as the general search tests it: on a segment whose first
tries end well the test costs more than it cuts, on one that does not it
cuts much. (Wide segments go to the general search at once: the driver
tries this one only on segments of at most ``search.LEAN_WIDTH`` ops.) Before any set-up it tries the ``ok`` ops in
order of completion, which real time always allows, taking no ``info`` op
(a third of a kv history's segments end so). It answers with:

* the state at the first end it reaches, and the ``info`` ops open there:
  a configuration the general search reaches too, or one it dominates
  (``info`` ops taken that it would leave open). Ends in ``tried`` (passed
  on before, and failed) are passed over. The lazy driver starts the
  general search from the same start if it ever needs another end;
* :data:`NO_END` when it has exhausted every configuration without reaching
  an end: the general search would reach none either;
* :data:`GAVE_UP` when it has explored ``limit`` configurations, or its cache
  holds states of more than ``max_bytes`` (``sys.getsizeof``), before either:
  the general search, which yields to the budgets, decides instead. So its
  time and memory between two budget checks stay bounded (``limit`` is at
  most the caller's slice; the states held, at most 8 MiB, are freed when it
  returns).
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Hashable, Sequence

from checkers.linear.models import ANY, NOTHING, Call, Illegal

__all__ = ["GAVE_UP", "NO_END", "first_end", "growers"]


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_END: Any = _Marker("NO_END")
GAVE_UP: Any = _Marker("GAVE_UP")


def first_end(calls_all: Sequence[Call], cp: Sequence[int], rp: Sequence[int | None], a: int, b_end: int,
              oks: list[int], carried: Sequence[int], new: list[int], s: Hashable,
              step: Callable[[Hashable, Call], Any], grows: Callable[[Hashable, Hashable], bool] | None,
              ahead: Any, limit: int, max_bytes: int,
              tried: dict[Hashable, list[frozenset[int]]] | None = None) -> tuple[Any, Any, int]:
    """(the state at the segment's first end, or NO_END, or GAVE_UP; the info ops open there; explored).

    The segment is entries ``a .. b_end``: ``oks`` its ``ok`` ones in order of
    completion, ``new`` its ``info`` ones; ``carried`` are the ``info`` ops
    open at its start (sorted), ``s`` the state there. Bits: ``oks``, then
    ``carried``, then ``new``. ``ahead`` is
    :func:`checkers.linear.search._ahead` of the next segment, or None.
    ``tried``: ends passed on before (state -> sets of open info ops); an end
    in such a state with no more ops open is passed over.
    """
    k = len(oks)
    g = s  # first the ok ops in order of completion (which real time allows), no info op taken
    for i in oks:
        c = calls_all[i]
        if c.read_only and c.needs is not NOTHING:
            if c.needs != g:
                break
        else:
            g = step(g, c)
            if g.__class__ is Illegal:
                break
    else:
        if (ahead is None or ahead[0] == g or ahead[0] in ahead[1] or (
                ahead[2] and (grows is None or grows(g, ahead[0])))) and (  # (stricter than the test below)
                tried is None or not _passed(tried, g, (*carried, *new))):
            return g, (*carried, *new), k + 1
    order = [*oks, *carried, *new] if carried or new else oks
    calls = []
    needs = []
    makes = []
    pos = [0] * (b_end - a)
    ro_mask = needs_mask = fixed_mask = any_maker = 0
    makers: dict[Hashable, int] = {}
    bit = 1
    for b, i in enumerate(order):
        if i >= a:  # not carried from before the segment
            pos[i - a] = b
        c = calls_all[i]
        calls.append(c)
        _f, _arg, _ret, _key, read_only, _free, need, make = c
        needs.append(need)
        makes.append(make)
        if read_only:
            if b < k:
                ro_mask |= bit
                if need is not NOTHING:
                    needs_mask |= bit
        else:
            if need is not NOTHING and b < k:
                needs_mask |= bit
            if make is ANY:
                any_maker |= bit
            else:
                makers[make] = makers.get(make, 0) | bit
                fixed_mask |= bit
        bit <<= 1
    # candidates when bit j is the first ok op not linearized: the ops invoked before it returned
    cand_of = []
    acc = ((1 << len(carried)) - 1) << k
    ci = a
    for i in oks:
        r = rp[i]
        while ci < b_end and cp[ci] < r:  # type: ignore[operator]
            acc |= 1 << pos[ci - a]
            ci += 1
        cand_of.append(acc)
    grown = None if grows is None else growers(grows, makes, fixed_mask)

    if ahead is not None:
        a_need, a_fixed, a_any = ahead
        a_grown = grows is None or bool(a_fixed) and any(grows(x, a_need) for x in a_fixed)
        a_open = a_need in a_fixed or (a_any and a_grown)
        full = (1 << len(order)) - 1

        def ahead_ok(L: int, s: Hashable) -> bool:
            """At an end: can the state the next segment's first read needs still be made before it?

            (by its ops, or by ``info`` ops of this segment still open; the
            search's ``ahead_ok`` where ``a_need == s`` and ``a_open`` failed)
            """
            rest = full & ~L
            if makers and makers.get(a_need, 0) & rest:
                return True
            if not (a_any or any_maker & rest):
                return False
            if a_grown or grows(s, a_need):  # type: ignore[misc]
                return True
            return bool(rest & grown(a_need))
    has_info = k < len(order)
    cut_ahead = 2 * len(order) + 8  # configurations explored before the look-ahead is tested at each one
    okmask = (1 << k) - 1
    # (L, s) -> None; with info ops, as the general search: (ok part of L, s) -> the info parts seen
    cache: dict[tuple[int, Hashable], Any] = {(0, s): [0] if has_info else None}
    sizeof = sys.getsizeof
    held = 0
    explored = 0
    stack: list[list[Any]] = []
    L = 0
    while True:
        # entering configuration (L, s), not seen before
        explored += 1
        if explored > limit:
            return GAVE_UP, (), explored
        L_in = L
        while True:  # legal reads among the candidates: take them all, without branching
            m = (~L & (L + 1)).bit_length() - 1
            if m >= k:
                break
            cand = cand_of[m] & ~L
            ro = cand & ro_mask
            if not ro:
                break
            L1 = L
            while ro:
                low = ro & -ro
                ro ^= low
                b = low.bit_length() - 1
                need = needs[b]
                if (need == s) if need is not NOTHING else (step(s, calls[b]).__class__ is not Illegal):
                    L |= low
            if L == L1:
                break
        if m >= k:  # every op of the segment linearized
            if ahead is None or a_need == s or a_open or ahead_ok(L, s):
                open_ = () if k == len(order) else tuple(order[b] for b in range(k, len(order)) if not L >> b & 1)
                if tried is None or not _passed(tried, s, open_):
                    return s, open_, explored
            todo = 0
        else:
            todo = cand & ~ro_mask  # the reads left are illegal in s
            need = needs[m]
            pending = needs_mask & ~L
            r = (pending & -pending).bit_length() - 1  # the next op that needs a state (-1: none)
            # can the state m needs (and then the next op that needs one, r) be made by an op that may
            # come before it: one making it, or one making ANY from s (or a fixed state) that grows into it
            if need is not NOTHING and need != s and not (
                    (makers and makers.get(need, 0) & (before := cand & ~(1 << m))) or (
                    any_maker & (before := cand & ~(1 << m)) and (
                        grows is None or grows(s, need) or before & grown(need)))):  # type: ignore[misc]
                todo = 0  # m needs a state no op that may come before it can make: dead end
            elif r > m and (need := needs[r]) != s and not (
                    (makers and makers.get(need, 0) & (before := cand_of[r] & ~L & ~(1 << r))) or (
                    any_maker & (before := cand_of[r] & ~L & ~(1 << r)) and (
                        grows is None or grows(s, need) or before & grown(need)))):  # type: ignore[misc]
                todo = 0  # so does the next op that needs a state
            elif explored > cut_ahead and ahead is not None and not (a_need == s or a_open or ahead_ok(L, s)):
                todo = 0  # (a search past its first tries) so does the next segment's first read
            elif L != L_in:  # reads taken: a configuration of its own
                if not has_info:
                    if (L, s) in cache:
                        todo = 0
                    else:
                        cache[(L, s)] = None
                else:
                    seen = cache.get((L & okmask, s))
                    info = L >> k
                    if seen is None:
                        cache[(L & okmask, s)] = [info]
                    elif any(x & ~info == 0 for x in seen):
                        todo = 0  # seen with at most these info ops taken: no better
                    else:
                        seen.append(info)
        if todo:
            stack.append([L, s, todo])
        while stack:  # the next configuration to enter, backtracking as needed
            top = stack[-1]
            todo = top[2]
            tL, ts = top[0], top[1]
            while todo:
                low = todo & -todo
                todo ^= low
                b = low.bit_length() - 1
                s2 = makes[b]
                if s2 is ANY:
                    s2 = step(ts, calls[b])
                    if s2.__class__ is Illegal:
                        continue
                elif needs[b] is not NOTHING and needs[b] != ts:
                    continue
                L2 = tL | low
                if not has_info:
                    key = (L2, s2)
                    if key in cache:
                        continue
                    cache[key] = None
                else:
                    key = (L2 & okmask, s2)
                    seen = cache.get(key)
                    info = L2 >> k
                    if seen is None:
                        cache[key] = [info]
                    elif any(x & ~info == 0 for x in seen):
                        continue
                    else:
                        seen.append(info)
                held += sizeof(s2)
                if held > max_bytes:
                    return GAVE_UP, (), explored
                top[2] = todo
                L, s = L2, s2
                break
            else:
                stack.pop()
                continue
            break
        else:
            return NO_END, (), explored


def _passed(tried: dict[Hashable, list[frozenset[int]]], s: Hashable, open_: tuple[int, ...]) -> bool:
    """Was an end in state ``s`` with at least the ops ``open_`` open passed on already?"""
    seen = tried.get(s)
    if seen is None:
        return False
    mine = frozenset(open_)
    return any(mine <= x for x in seen)


def growers(grows: Callable[[Hashable, Hashable], bool], makes: Sequence[Hashable],
            fixed_mask: int) -> Callable[[Hashable], int]:
    """``need`` -> the bits of ``fixed_mask`` whose fixed state ``makes[b]`` ``grows`` into ``need``.

    Worked out once per ``need`` asked for (the reachability and look-ahead
    tests ask again at every configuration, and a wide segment has many
    fixed makers).
    """
    memo: dict[Hashable, int] = {}

    def grown(need: Hashable) -> int:
        got = memo.get(need)
        if got is None:
            got = 0
            fixed = fixed_mask
            while fixed:
                low = fixed & -fixed
                fixed ^= low
                if grows(makes[low.bit_length() - 1], need):
                    got |= low
            memo[need] = got
        return got

    return grown


