"""A plain linearizability search for the witness reduction's small candidate sets.

The witness reduction (:mod:`checkers.linear.witness`) asks "is this
sub-history linearizable?" hundreds of times, of sets of a handful to a few
dozen operations, most of them linearizable. The general search
(:func:`checkers.linear.search.search`) answers each in about 0.1 ms, nearly
all of it set-up (columns, segments, resumable generators, budget slices)
that pays off on long histories and not on ten operations.

:func:`linearizable` is Wing & Gong's search with a cache of visited
configurations, as one function, for those sets. A configuration is (L, s):
the operations linearized so far (bits of an ``int``, in the order given,
which must be invocation order) and the model state. Let m be the ``ok``
operation not in L that completes first: every operation not in L invoked
before m completed may come next; an ``ok`` read-only candidate that is
legal is taken at once, without branching (it changes no state and only
widens the candidates: the general search's cut, with the same argument);
and a configuration is dead when m needs a state other than s that no
candidate can make (``Call.makes`` is that state, or :data:`ANY`).
``info`` operations (``ret_pos`` None) may be linearized after their
invocation or never; ``info`` reads, and ``free`` calls, are dropped. The
set is linearizable when every ``ok`` operation is in L.

It gives up (returns None) after ``limit`` configurations: the caller then
asks the general search, whose cuts (segments, dominance, the ``needs``
look-ahead) are what hard sets need. So a wrong answer here could only come
from a wrong search, never from the budget; the tests hold it to brute force
and to the general search.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Hashable, Sequence

from checkers.linear.models import ANY, NOTHING, Call, Illegal, Model
from checkers.linear.partition import Entry

__all__ = ["LIMIT", "MAX_OPS", "linearizable"]

LIMIT = 4
"""Configurations explored per operation before giving the set to the general search."""
MAX_OPS = 40
"""Sets larger than this go to the general search at once."""


def linearizable(entries: Sequence[Entry], model: Model, init: Hashable, *,
                 limit: int = LIMIT, max_ops: int = MAX_OPS) -> bool | None:
    """Is ``entries`` (one key, invocation order) linearizable from ``init``?

    None: gave up, after ``limit`` configurations per operation, or at once
    when there are more than ``max_ops``.
    """
    if len(entries) > max_ops:
        return None
    limit *= len(entries) + 4
    kept = [e for e in entries if not e.call.free and not (e.ret_pos is None and e.call.read_only)]
    n = len(kept)
    calls = [e.call for e in kept]
    cps = [e.call_pos for e in kept]
    rps = [e.ret_pos for e in kept]
    oks = sorted((i for i in range(n) if rps[i] is not None), key=rps.__getitem__)  # type: ignore[arg-type]
    rank = [-1] * n  # an ok op's place in completion order: its bit in R
    for r, i in enumerate(oks):
        rank[i] = r
    # per rank: the bits of the ops invoked before that ok op completed
    window = [(1 << bisect_left(cps, rps[i])) - 1 for i in oks]  # type: ignore[arg-type]
    reads = 0
    for i in oks:
        if calls[i].read_only:
            reads |= 1 << i
    # the hints, as the general search uses them: a fixed read is legal in its one state; a fixed write
    # (``makes``) in its ``needs`` state or in any, and leaves ``makes``; the others ask the model
    needs = [c.needs for c in calls]
    makes = [c.makes for c in calls]
    done_all = (1 << len(oks)) - 1
    step = model.step
    seen: set[tuple[int, Hashable]] = set()
    stack: list[tuple[int, int, Hashable]] = [(0, 0, init)]  # (L, the ranks of L's ok ops, state)
    while stack:
        L, R, s = stack.pop()
        while True:  # take every legal ok read among the candidates, as long as that widens them
            if R == done_all:
                return True
            first = oks[(~R & (R + 1)).bit_length() - 1]
            cand = window[rank[first]] & ~L
            took = False
            rd = cand & reads
            while rd:
                b = rd & -rd
                rd ^= b
                i = b.bit_length() - 1
                need = needs[i]
                if (s == need) if need is not NOTHING else not isinstance(step(s, calls[i]), Illegal):
                    L |= b
                    R |= 1 << rank[i]
                    took = True
            if not took:
                break
        if (L, s) in seen:
            continue
        need = needs[first]
        cand &= ~reads
        if need is not NOTHING and need != s and not _can_make(need, cand, makes):
            continue  # the first pending op needs a state no candidate can produce: dead
        seen.add((L, s))
        if len(seen) > limit:
            return None
        nexts = []
        while cand:
            b = cand & -cand
            cand ^= b
            i = b.bit_length() - 1
            made = makes[i]
            if made is not ANY:
                need = needs[i]
                if need is not NOTHING and need != s:
                    continue
                t = made
            else:
                t = step(s, calls[i])
                if isinstance(t, Illegal):
                    continue
            r = rank[i]
            nexts.append((r if r >= 0 else n + i, L | b, R if r < 0 else R | 1 << r, t))
        if len(nexts) > 1:
            nexts.sort(key=_first, reverse=True)  # tried first: the ok op that completes soonest; info last
        stack.extend([x[1:] for x in nexts])
    return False


def _first(x: tuple[int, int, int, Hashable]) -> int:
    return x[0]


def _can_make(need: Hashable, cand: int, makes: list[Hashable]) -> bool:
    """May one of the candidates ``cand`` (bits; not reads) leave the state ``need``?"""
    while cand:
        b = cand & -cand
        cand ^= b
        made = makes[b.bit_length() - 1]
        if made is ANY or made == need:
            return True
    return False
