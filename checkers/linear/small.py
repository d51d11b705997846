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
a configuration is dead when m needs a state other than s that no
candidate can make (``Call.makes`` is that state, or :data:`ANY`); and one
is skipped when a configuration with the same ``ok`` operations and state
and a subset of its ``info`` ones was seen (an ``info`` operation may be
left out for good: the general search's dominance).
``info`` operations (``ret_pos`` None) may be linearized after their
invocation or never; ``info`` reads, and ``free`` calls, are dropped. The
set is linearizable when every ``ok`` operation is in L.

:class:`Subsets` is built once over a set of entries and answers for any
subset of them, given as a bit mask: the reduction tries hundreds of subsets
of one set, and the tables (completion order, each op's window of
candidates) are the same for all. An op outside the mask is treated as
already linearized. :func:`linearizable` asks about one list.

It gives up (returns None) after ``limit`` configurations: the caller then
asks the general search, whose cuts (segments, dominance, the ``needs``
look-ahead) are what hard sets need. So a wrong answer here could only come
from a wrong search, never from the budget; the tests hold it to brute force
and to the general search.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Hashable, Sequence

from checkers.linear.models import ANY, NOTHING, Illegal, Model
from checkers.linear.partition import Entry

__all__ = ["LIMIT", "MAX_OPS", "Subsets", "linearizable"]

LIMIT = 4
"""Configurations explored per operation before giving the set to the general search."""
MAX_OPS = 300
"""Sets larger than this go to the general search at once."""


def linearizable(entries: Sequence[Entry], model: Model, init: Hashable, *,
                 limit: int = LIMIT, max_ops: int = MAX_OPS) -> bool | None:
    """Is ``entries`` (one key, invocation order) linearizable from ``init``?

    None: gave up, after ``limit`` configurations per operation, or at once
    when there are more than ``max_ops``.
    """
    if len(entries) > max_ops:
        return None
    return Subsets(entries, model, init)((1 << len(entries)) - 1, limit=limit, max_ops=max_ops)


class Subsets:
    """The search over subsets of ``entries`` (one key, invocation order): ``subsets(mask)``."""

    __slots__ = ("model", "init", "calls", "needs", "makes", "rank", "oks", "window", "reads", "skip", "ok_bits",
                 "n")

    def __init__(self, entries: Sequence[Entry], model: Model, init: Hashable) -> None:
        self.model = model
        self.init = init
        n = self.n = len(entries)
        self.calls = calls = [e.call for e in entries]
        self.needs = [c.needs for c in calls]
        self.makes = [c.makes for c in calls]
        cps = [e.call_pos for e in entries]
        rps = [e.ret_pos for e in entries]
        oks = [i for i in range(n) if rps[i] is not None]
        oks.sort(key=rps.__getitem__)  # type: ignore[arg-type]
        self.oks = oks
        self.rank = rank = [-1] * n  # an ok op's place in completion order: its bit in R
        for r, i in enumerate(oks):
            rank[i] = r
        # per rank: how many ops were invoked before that ok op completed (its candidates are those bits;
        # the masks are made as needed: one per op up front is n^2 bits on a big set)
        self.window = [bisect_left(cps, rps[i]) for i in oks]  # type: ignore[arg-type]
        reads = skip = ok_bits = 0
        for i, c in enumerate(calls):
            if rps[i] is not None:
                ok_bits |= 1 << i
                if c.read_only:
                    reads |= 1 << i
            if c.free or (rps[i] is None and c.read_only):
                skip |= 1 << i  # legal anywhere, or free to never happen and changes nothing: dropped
        self.reads, self.skip, self.ok_bits = reads, skip, ok_bits

    def __call__(self, mask: int, *, limit: int = LIMIT, max_ops: int = MAX_OPS) -> bool | None:
        """Is the subset ``mask`` (bit ``i``: entry ``i``) linearizable? None: gave up (see the module)."""
        mask &= ~self.skip
        size = mask.bit_count()
        if size > max_ops:
            return None
        limit *= size + 4
        calls, needs, makes, rank, oks, window, reads = (self.calls, self.needs, self.makes, self.rank, self.oks,
                                                         self.window, self.reads & mask)
        n = self.n
        # ops outside the mask count as linearized already: in L, and their ranks in R
        done_all = (1 << len(oks)) - 1
        R0 = done_all
        ok = mask & self.ok_bits
        while ok:
            b = ok & -ok
            ok ^= b
            R0 &= ~(1 << rank[b.bit_length() - 1])
        step = self.model.step
        # configurations seen: per (ok ops taken, state), the info ops taken with them; one with fewer
        # info ops taken (a subset) dominates: an info op may be left out for good (the general search's cut)
        seen: dict[tuple[int, Hashable], list[int]] = {}
        oks_mask = self.ok_bits
        explored = 0
        stack: list[tuple[int, int, Hashable]] = [(((1 << n) - 1) & ~mask, R0, self.init)]  # (L, L's ranks, state)
        while stack:
            L, R, s = stack.pop()
            while True:  # take every legal ok read among the candidates, as long as that widens them
                if R == done_all:
                    return True
                first = oks[(~R & (R + 1)).bit_length() - 1]
                cand = ((1 << window[rank[first]]) - 1) & ~L
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
            key = (L & oks_mask, s)
            info = L & ~oks_mask
            infos = seen.get(key)
            if infos is not None and any(i & ~info == 0 for i in infos):
                continue
            need = needs[first]
            cand &= ~reads
            if need is not NOTHING and need != s and not _can_make(need, cand, makes):
                continue  # the first pending op needs a state no candidate can produce: dead
            if infos is None:
                seen[key] = [info]
            else:
                infos.append(info)
            explored += 1
            if explored > limit:
                return None
            nexts = []
            while cand:
                b = cand & -cand
                cand ^= b
                i = b.bit_length() - 1
                made = makes[i]
                if made is not ANY:  # a fixed write: legal in its one state (or any), leaves ``makes``
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
                # tried first: the ok op that completes soonest; info ops last (the first items differ, so
                # tuples compare by them alone and never reach the states)
                nexts.sort(reverse=True)
            stack.extend([x[1:] for x in nexts])
        return False


def _can_make(need: Hashable, cand: int, makes: list[Hashable]) -> bool:
    """May one of the candidates ``cand`` (bits; not reads) leave the state ``need``?"""
    while cand:
        b = cand & -cand
        cand ^= b
        made = makes[b.bit_length() - 1]
        if made is ANY or made == need:
            return True
    return False
