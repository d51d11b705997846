"""The search: Wing & Gong's linearization search with Lowe's cache, for one partition.

**Segments.** A partition's ``ok`` operations fall into segments separated by
quiescent points: instants at which no ``ok`` operation is pending (every
``ok`` op invoked before the instant has returned). Every linearization
respects such a point: all ``ok`` ops before it come first. A configuration
at a point is a model state and the ``info`` ops still open (invoked, not
linearized); what follows depends on nothing else. So the search goes segment
by segment, and its memory follows the widest window of concurrency, not the
length: bit sets span one segment and its open ``info`` ops, and a segment's
cache lives only while the search is inside it.

Two drivers share one segment search (:func:`_segment`):

* **lazy** (first): depth first over segments, like the unsplit search: a
  segment's search yields the configurations at its end one at a time, the
  next segment starts from the first, and it is resumed for the next only
  when everything after it fails. It keeps the last ``depth`` segments
  resumable; an older one is dropped, its configuration committed. If the
  search ever needs a dropped segment again, or proves the partition
  invalid, the exact driver decides instead. A segment of at most
  :data:`LEAN_WIDTH` ops is first given to the lean search
  (:func:`checkers.linear.lean.first_end`, a plain function over the same
  configurations): its first end costs no generator, and the general
  search is started from the same configuration only if the driver comes
  back for another end;
* **exact**: breadth first: the *frontier* of every configuration reachable
  at a point (reduced by dominance) is carried to the next segment, whose
  search starts from each. Memory is the frontier and one segment's cache;
  the time is that of exploring every reachable configuration.

**Within a segment** a configuration is (L, s): the set L of the segment's
operations linearized so far, as the bits of a Python ``int``, and the model
state s after them. Bits ``0..K-1`` are the segment's ``ok`` operations in
order of completion; bits ``K..`` its ``info`` ones (those still open from the
frontier, then those invoked in the segment; a set bit means linearized or
not open). Let m be the ``ok`` operation not in L that completes first (the
lowest zero bit). Every operation not in L invoked before m completed may
come next (the candidates); nothing invoked later may, until m is
linearized. ``info`` operations may be linearized after their invocation or
never.

Depth-first search over configurations, each visited once (the cache), with
these cuts, each sound (nothing that could lead to a linearization is skipped):

* candidates are tried in bit order: ``ok`` operations that complete soonest
  first, ``info`` operations last;
* a legal ``ok`` read-only candidate is linearized at once, without branching
  (moving a read earlier never hurts: it changes no state and only widens
  the candidates);
* dominance: (L, s) is skipped when the cache holds (L', s) with the same ``ok``
  part and a subset of L's ``info`` part (fewer ``info`` ops taken is never worse);
  the same holds at a point between segments;
* if m, or the next op that ``needs`` a state, or the next segment's first
  such op, needs a state other than s and no op that may come before it
  ``makes`` that state, the configuration is dead.

Budgets: ``deadline`` (``time.monotonic()`` value), ``max_cache`` (entries)
and ``max_bytes`` (estimated bytes of the caches, frontier and model states
held: :func:`entry_bytes` per entry plus ``sys.getsizeof`` of each state
stored) stop the search with outcome ``"unknown"`` instead of a hang or an
OOM kill; :func:`searcher` runs the search in slices so that a caller can
interleave partitions and enforce one budget over all of them (the first
slice :data:`FIRST_SLICE` configurations, each next one twice the last: a
key shown invalid in a few configurations is so before its neighbours have
spent long slices).
The deepest configuration reached in the segment that fails is kept (as a
chain of frames) to explain an ``"invalid"`` outcome; the linearization
before it is kept as entry numbers only, and the states along it are
recomputed when it is reported.
"""

from __future__ import annotations

import sys
import time
from array import array
from dataclasses import dataclass
from collections.abc import Sequence as SequenceABC
from typing import Any, Generator, Hashable, Literal, NamedTuple, Sequence

from checkers.linear.lean import GAVE_UP, NO_END, first_end, growers
from checkers.linear.models import ANY, NOTHING, Call, Illegal, Model
from checkers.linear.partition import Entry, Partition

__all__ = ["BudgetSpent", "SearchResult", "Usage", "entry_bytes", "search", "searcher", "segments"]

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


class Usage(NamedTuple):
    """What a :func:`searcher` holds now: cache entries and their estimated bytes."""

    entries: int
    bytes: int


def entry_bytes(width: int) -> int:
    """Estimated bytes of one cache entry in a segment of ``width`` bits.

    A key tuple, the dict slot, the list of info masks and two ints of
    ``width`` bits (measured with tracemalloc: about 200 bytes plus the bits);
    the model state is counted apart.
    """
    return 200 + width // 4


class BudgetSpent(Exception):
    """Thrown into a :func:`searcher` to stop it with outcome ``"unknown"``."""


def search(entries: Sequence[Entry] | Partition, model: Model, init: Hashable, *,
           deadline: float | None = None, max_cache: int | None = None,
           max_bytes: int | None = None) -> SearchResult:
    """Decide whether ``entries`` (one partition) are linearizable from ``init``."""
    run = searcher(entries, model, init)
    try:
        while True:
            use = next(run)
            if deadline is not None and time.monotonic() > deadline:
                return run.throw(BudgetSpent("time budget spent"))
            if max_cache is not None and use.entries > max_cache:
                return run.throw(BudgetSpent(f"cache bound of {max_cache} entries reached"))
            if max_bytes is not None and use.bytes > max_bytes:
                return run.throw(BudgetSpent(f"memory bound of {max_bytes // 2**20} MiB reached"))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def segments(entries: Sequence[Entry]) -> Sequence[tuple[list[int], list[int]]]:
    """Split at quiescent points: per segment, its ``ok`` entries (by completion) and new ``info`` ones.

    ``entries`` come in invocation order. An ``info`` entry belongs to the
    segment during which it was invoked, or to the next one when invoked
    between two; ``info`` entries invoked after the last ``ok`` one are left
    out (nothing needs them).
    """
    return _segments([e.call_pos for e in entries], [e.ret_pos for e in entries])


def _segments(cp: Sequence[int], rp: Sequence[int | None]) -> "_Segments":
    """The segments of columns ``cp``/``rp`` (see :func:`segments`), found in one pass.

    Each segment is a run of consecutive entries: it closes before the first
    entry invoked after every ``ok`` entry of it returned. Only the
    boundaries are kept; a trailing run without an ``ok`` entry is none.
    """
    bounds = array("q", (0,))
    has_ok = False
    last = -1
    i = 0
    for c, r in zip(cp, rp):
        if has_ok and c > last:
            bounds.append(i)
            has_ok = False
        if r is not None:
            has_ok = True
            if r > last:
                last = r
        i += 1
    if has_ok:
        bounds.append(len(rp))
    return _Segments(rp, bounds)


class _Segments(SequenceABC):
    """The segments of one partition, materialised on demand: 8 bytes a segment held.

    Segment ``s`` is the run of entries ``bounds[s]..bounds[s + 1]`` (in
    invocation order); its ``ok`` entries (by completion) and ``info`` ones
    are rebuilt from the column ``rp`` when asked for (the last few are kept:
    the drivers ask for each a few times in a row).
    """

    __slots__ = ("rp", "bounds", "_memo")

    def __init__(self, rp: Sequence[int | None], bounds: array) -> None:
        self.rp = rp
        self.bounds = bounds
        self._memo: dict[int, tuple[list[int], list[int]]] = {}

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, si: int) -> tuple[list[int], list[int]]:  # type: ignore[override]
        got = self._memo.get(si)
        if got is not None:
            return got
        n = len(self.bounds) - 1
        if si < 0:
            si += n
        if not 0 <= si < n:
            raise IndexError(si)
        rp = self.rp
        a, b = self.bounds[si], self.bounds[si + 1]
        if b - a == 1:
            got = ([a], []) if rp[a] is not None else ([], [a])
        elif None not in rp[a:b]:  # (most segments: no info op)
            got = (sorted(range(a, b), key=rp.__getitem__), [])  # type: ignore[arg-type]
        else:
            oks = [i for i in range(a, b) if rp[i] is not None]
            infos = [i for i in range(a, b) if rp[i] is None]
            if len(oks) > 1:
                oks.sort(key=rp.__getitem__)  # type: ignore[arg-type]
            got = (oks, infos)
        if len(self._memo) > 4:
            self._memo.clear()
        self._memo[si] = got
        return got


class _Config(NamedTuple):
    """A configuration at a point between segments: its state and the open info entries.

    ``path`` is how it was reached from the configuration the segment's search
    started from: (that configuration's path, the segment's entries in
    linearization order); None for a configuration that follows the
    committed prefix directly.
    """

    state: Hashable
    open: tuple[int, ...]
    path: Any


class _Stuck(NamedTuple):
    """A segment no configuration got through: where its deepest attempt stopped."""

    start: Any             # the path of the configuration that attempt started from
    part: tuple[int, ...]  # the segment's entries it linearized
    stuck: int             # the entry that could not follow
    cache_entries: int


LAZY_DEPTH = 64
"""Segments the lazy driver keeps resumable (see the module docstring)."""

_NO_INFO = (0,)  # the cache value when a segment has no info ops
_new = tuple.__new__  # a _Config built in the driver's loop without the named tuple's keyword parsing
_NONE_OPEN: frozenset[int] = frozenset()
_ILLEGAL = Illegal("illegal by the call's hints")  # not explained: a failing segment is searched again

LEAN = True
"""Whether the lazy driver tries :func:`checkers.linear.lean.first_end` first (tests turn it off)."""
LEAN_WIDTH = 64
"""The widest segment (ops and info ops open) the lean search is tried on: on wider ones (Porcupine's
c50 kv histories: 90-140 ops) the general search's look-ahead cut from the first configuration pays
(c50-bad: 31 ms with the lean search first, 17 without), and its set-up is a small part."""
LEAN_LIMIT = 256
"""Configurations the lean search explores before the general one takes over."""
_NO_USAGE = (0, 0)

FIRST_SLICE = 64
"""Configurations in a search's first slice; each next one is twice as long, up to ``slice_``: a key
that is shown invalid (or valid) in a few configurations is so before its neighbours have spent
their full slices."""

TICK_BYTES = 8 << 20
"""A search yields early, before its slice ends, each time the states it holds grow by this much."""


def searcher(entries: Sequence[Entry] | Partition, model: Model, init: Hashable, *,
             slice_: int = 1024) -> Generator[Usage, None, SearchResult]:
    """:func:`search` as a generator: yields its :class:`Usage` after each slice of configurations.

    The first slice is :data:`FIRST_SLICE` configurations, each next one
    twice the last, up to ``slice_``.

    ``entries`` may be a :class:`~checkers.linear.partition.Partition`, whose
    columns are then searched as they are (no :class:`Entry` is built).

    The caller enforces budgets by throwing :class:`BudgetSpent` in, which
    returns an ``"unknown"`` result; several partitions can so be searched in
    turns, and the first invalid one found ends the check.
    """
    if isinstance(entries, Partition):  # its columns, as they are
        cols = _Cols(entries.calls, entries.cp, entries.rp)
    else:
        cols = _Cols([e.call for e in entries], [e.call_pos for e in entries], [e.ret_pos for e in entries])
    segs = _segments(cols.cp, cols.rp)
    first = min(FIRST_SLICE, slice_)
    count = [0, first, first]  # configurations explored, when to yield next, the slice now
    got = yield from _lazy(cols, model, init, segs, count, slice_)
    if got is None:
        got = yield from _exact(cols, model, init, segs, count, slice_)
    return got


class _Cols(NamedTuple):
    """A partition's entries as columns: the search reads these in its innermost loops."""

    calls: list[Call]
    cp: list[int]
    rp: list[int | None]


def _lazy(cols: _Cols, model: Model, init: Hashable, segs: "_Segments",
          count: list[int], slice_: int) -> Generator[Usage, None, SearchResult | None]:
    """The lazy driver: a valid or unknown result, or None for the exact driver to decide."""
    step = model.step
    grows = model.grows
    calls = cols.calls
    n = len(segs)
    lean_limit = min(slice_, LEAN_LIMIT)
    # a level: [segment, its search, usage, start]; no paths are kept (the exact driver explains)
    levels: list[list[Any]] = []
    tried: dict[int, dict[Hashable, list[frozenset[int]]]] = {}  # per segment, the ends passed on
    bounds = segs.bounds
    cfg = _Config(init, (), None)
    si = 0
    while True:
        while si < n:  # forward from cfg
            if not cfg.open and bounds[si + 1] - bounds[si] == 1:
                # ops alone in their windows (a segment of one entry): stepped here, one after another
                s = cfg.state
                s2: Any = None
                while True:
                    c = calls[bounds[si]]
                    if c.read_only and c.needs is not NOTHING:
                        s2 = s if c.needs == s else _ILLEGAL
                    elif c.makes is not ANY:
                        s2 = c.makes if c.needs is NOTHING or c.needs == s else _ILLEGAL
                    else:
                        s2 = step(s, c)
                    count[0] += 1
                    if count[0] >= count[1]:
                        _next_slice(count, slice_)
                        try:
                            yield _usage(levels)
                        except BudgetSpent as e:
                            return _unknown(e, count, levels)
                    if s2.__class__ is Illegal:
                        break
                    s = s2
                    si += 1
                    if si == n or bounds[si + 1] - bounds[si] != 1:
                        break
                if s2.__class__ is Illegal:
                    break  # a dead end: back to the last segment with a choice
                cfg = _new(_Config, (s, (), None))
                continue
            oks, new = segs[si]
            ahead = None if si + 1 == n else _ahead(cols, segs[si + 1])
            run: Any = None
            got: Any = GAVE_UP
            if LEAN and len(oks) + len(new) + len(cfg.open) <= LEAN_WIDTH:  # the first end, without the general set-up
                got, open_, explored = first_end(calls, cols.cp, cols.rp, bounds[si], bounds[si + 1], oks,
                                                 cfg.open, new, cfg.state, step, grows, ahead,
                                                 lean_limit, TICK_BYTES, tried.get(si))
                count[0] += explored
                if got is NO_END:
                    break  # a dead end: back to the last segment with a choice
            if got is GAVE_UP:  # too wide for the lean search, or it gave up: the general one
                run = _segment(cols, model, oks, new, [cfg], count, slice_, ahead, usage := [0, 0], paths=False)
            # a level: [segment, its search (None while only the lean search ran), usage, start]
            levels.append([si, run, usage if run is not None else _NO_USAGE, cfg])
            if len(levels) > LAZY_DEPTH:
                dropped = levels.pop(0)[1]
                if dropped is not None:
                    dropped.close()  # it cannot be resumed: if the search needs it, the exact driver decides
                if len(tried) > 4 * LAZY_DEPTH:  # the ends of segments no level can reach again
                    for old in [x for x in tried if x < levels[0][0]]:
                        del tried[old]
            if run is None:
                _record(tried, si, got, open_)  # (first_end passes over the ends tried already)
                cfg = _new(_Config, (got, open_, None))
                si += 1
                if count[0] >= count[1]:
                    _next_slice(count, slice_)
                    try:
                        yield _usage(levels)
                    except BudgetSpent as e:
                        return _unknown(e, count, levels)
                continue
            break
        else:
            return SearchResult(outcome="valid", explored=count[0], cache_entries=0)
        while levels:  # the next configuration after the top segment, backtracking as needed
            top = levels[-1]
            if top[1] is None:  # only the lean search ran: the general one from the same start, for more ends
                ti = top[0]
                oks, new = segs[ti]
                ahead = None if ti + 1 == n else _ahead(cols, segs[ti + 1])
                top[2] = [0, 0]
                top[1] = _segment(cols, model, oks, new, [top[3]], count, slice_, ahead, top[2], paths=False)
            try:
                v = next(top[1])
            except StopIteration:
                levels.pop()
                continue
            if v is None:
                try:
                    yield _usage(levels)
                except BudgetSpent as e:
                    return _unknown(e, count, levels)
                continue
            if _dominated(tried.setdefault(top[0], {}), v):
                continue
            cfg = v
            si = top[0] + 1
            break
        else:  # invalid, or a dropped segment would be needed again
            return None


def _record(tried: dict[int, dict[Hashable, list[frozenset[int]]]], si: int, state: Hashable,
            open_: tuple[int, ...]) -> None:
    """Record an end passed on from segment ``si`` that no end tried before dominates."""
    mine = frozenset(open_) if open_ else _NONE_OPEN
    ends = tried.get(si)
    if ends is None:
        tried[si] = {state: [mine]}
    else:
        ends.setdefault(state, []).append(mine)


def _next_slice(count: list[int], slice_: int) -> None:
    """Set when to yield next: each slice twice the last, up to ``slice_``."""
    count[2] = grown = min(2 * count[2], slice_)
    count[1] = count[0] + grown


def _step(step: Any, s: Hashable, c: Call) -> Any:
    """``step(s, c)``, by the hints where they decide it (as :func:`_segment` steps)."""
    if c.read_only and c.needs is not NOTHING:
        return s if c.needs == s else _ILLEGAL
    if c.makes is not ANY:
        return c.makes if c.needs is NOTHING or c.needs == s else _ILLEGAL
    return step(s, c)


def _usage(levels: list[list[Any]]) -> Usage:
    return Usage(sum(lv[2][0] for lv in levels), sum(lv[2][1] for lv in levels))


def _unknown(e: BudgetSpent, count: list[int], levels: list[list[Any]]) -> SearchResult:
    for lv in levels:
        if lv[1] is not None:
            lv[1].close()
    return SearchResult(outcome="unknown", explored=count[0], cache_entries=_usage(levels).entries,
                        reason=str(e))


def _dominated(tried: dict[Hashable, list[frozenset[int]]], cfg: _Config) -> bool:
    """Was a configuration with this state and at least these open ops tried already? (Records it if not.)"""
    seen = tried.get(cfg.state)
    mine = frozenset(cfg.open) if cfg.open else _NONE_OPEN
    if seen is None:
        tried[cfg.state] = [mine]
        return False
    if any(mine <= x for x in seen):
        return True
    seen.append(mine)
    return False


def _exact(cols: _Cols, model: Model, init: Hashable, segs: Sequence[tuple[list[int], list[int]]],
           count: list[int], slice_: int) -> Generator[Usage, None, SearchResult]:
    """The exact driver (see the module docstring)."""
    step = model.step
    n = len(segs)
    done = array("q")  # the committed prefix, as entry numbers in linearization order
    frontier = [_Config(init, (), None)]
    held = 0  # bytes held by the frontier
    for si, (oks, new) in enumerate(segs):
        if len(oks) == 1 and not new and len(frontier) == 1 and not frontier[0].open:
            s2 = _step(step, frontier[0].state, cols.calls[oks[0]])
            if s2.__class__ is not Illegal:  # one op alone in its window, from one state
                done.append(oks[0])
                frontier = [_Config(s2, (), None)]
                count[0] += 1
                if count[0] >= count[1]:
                    _next_slice(count, slice_)
                    try:
                        yield Usage(1, sys.getsizeof(s2))
                    except BudgetSpent as e:
                        return SearchResult(outcome="unknown", explored=count[0], cache_entries=1,
                                            reason=str(e))
                continue
        last = si == n - 1
        ahead = None if last else _ahead(cols, segs[si + 1])
        while True:
            usage = [0, held]
            run = _segment(cols, model, oks, new, frontier, count, slice_, ahead, usage)
            ends: dict[Hashable, list[_Config]] = {}
            while True:
                try:
                    v = next(run)
                except StopIteration as stop:
                    stuck: _Stuck | None = stop.value
                    break
                if v is None:
                    try:
                        yield Usage(usage[0] + len(frontier), usage[1])
                    except BudgetSpent as e:
                        run.close()
                        return SearchResult(outcome="unknown", explored=count[0], cache_entries=usage[0],
                                            reason=str(e))
                    continue
                if last:
                    run.close()
                    return SearchResult(outcome="valid", explored=count[0], cache_entries=usage[0])
                ends.setdefault(v.state, []).append(v)
            if ends or ahead is None:
                break
            ahead = None  # search it again without looking ahead: the next segment then shows what fails
        if not ends:
            assert stuck is not None
            order = array("q", done)
            _commit(order, stuck.start)
            order.extend(stuck.part)
            return SearchResult(outcome="invalid", explored=count[0], cache_entries=stuck.cache_entries,
                                prefix=tuple(_replay(cols, step, init, order)), stuck=stuck.stuck)
        frontier = []
        held = 0
        for found in ends.values():
            found.sort(key=lambda c: -len(c.open))
            kept: list[frozenset[int]] = []
            for c in found:
                mine = frozenset(c.open)
                if any(mine <= x for x in kept):
                    continue  # an end in this state with at least these ops open: no worse
                kept.append(mine)
                frontier.append(c)
                held += sys.getsizeof(c.state) + 100 + 8 * len(c.open)
        if len(frontier) == 1:
            _commit(done, frontier[0].path)
            frontier = [frontier[0]._replace(path=None)]
    return SearchResult(outcome="valid", explored=count[0], cache_entries=0)


def _commit(done: array, path: Any) -> None:
    """Append a configuration's path (a chain of segment parts) to ``done``."""
    parts = []
    while path is not None:
        parts.append(path[1])
        path = path[0]
    for p in reversed(parts):
        done.extend(p)


def _replay(cols: _Cols, step: Any, init: Hashable,
            order: Sequence[int]) -> list[tuple[int, Hashable]]:
    """The linearization ``order`` with the state after each op (the ops are legal in turn)."""
    out = []
    s = init
    for i in order:
        s = step(s, cols.calls[i])
        out.append((i, s))
    return out


def _ahead(cols: _Cols, seg: tuple[list[int], list[int]]) -> Any:
    """What the next segment's first op with a fixed ``needs`` asks of the state at the point.

    (the state it needs, the fixed states made by ops of that segment that may
    precede it, whether one of those makes :data:`ANY`); None when no op there
    needs a fixed state.
    """
    oks, new = seg
    calls, cp = cols.calls, cols.cp
    for i in oks:
        need = calls[i].needs
        if need is not NOTHING:
            r = cols.rp[i]
            break
    else:
        return None
    fixed = set()
    any_ = False
    j = min(oks)  # the segment's entries are a run, in invocation order: those invoked before r lead it
    if new and new[0] < j:
        j = new[0]
    while j < len(cp) and cp[j] < r:  # type: ignore[operator]
        c = calls[j]
        if not c.read_only:
            if c.makes is ANY:
                any_ = True
            else:
                fixed.add(c.makes)
        j += 1
    return need, fixed, any_


def _segment(cols: _Cols, model: Model, oks: list[int], new: list[int],
             frontier: list[_Config], count: list[int], slice_: int, ahead: Any,
             usage: list[int], *, paths: bool = True) -> Generator[_Config | None, None, _Stuck | None]:
    """Search one segment from every configuration of ``frontier``.

    Yields each configuration reached at the segment's end, and None every
    ``slice_`` configurations explored (``count`` is [explored, when to
    yield next]; ``usage`` is kept at [cache entries, estimated bytes]).
    Returns, when exhausted, a :class:`_Stuck` if no configuration got
    through. ``ahead`` (see :func:`_ahead`) prunes configurations from which
    the next segment's first read can no longer see what it saw. Without
    ``paths`` the configurations yielded say nothing of how they were reached.
    """
    calls_all, cp, rp = cols
    carried = sorted({i for c in frontier for i in c.open}) if len(frontier) > 1 or frontier[0].open else []
    order = oks + carried + new if carried or new else oks  # bit b <-> entry order[b]
    k = len(oks)
    okmask = (1 << k) - 1
    width = len(order)
    has_info = k < width
    calls = [calls_all[i] for i in order]
    step = model.step
    per_entry = entry_bytes(width)

    # candidates when bit j is the first unlinearized ok op: all ops invoked before j returns
    bit_of = {i: b for b, i in enumerate(order)}
    invoked = sorted(oks + new) if new else sorted(oks)
    n_inv = len(invoked)
    cand_of = []
    acc = ((1 << len(carried)) - 1) << k
    ci = 0
    for j in range(k):
        r = rp[oks[j]]
        while ci < n_inv and cp[invoked[ci]] < r:  # type: ignore[operator]
            acc |= 1 << bit_of[invoked[ci]]
            ci += 1
        cand_of.append(acc)
    ro_mask = needs_mask = fixed_mask = any_maker = 0
    # by the hints' contract a call with a fixed ``makes`` (or a read with a fixed ``needs``) is
    # legal exactly in state ``needs``: the search steps those itself, without calling the model
    needs = [c.needs for c in calls]
    makes = [c.makes for c in calls]
    makers: dict[Hashable, int] = {}
    for b, c in enumerate(calls):
        if b < k:
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
    grown = None if grows is None else growers(grows, [c.makes for c in calls], fixed_mask)

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
        return bool(before & grown(need))  # a fixed state that the others could grow into need?

    ahead_ok = None
    if ahead is not None:
        a_need, a_fixed, a_any = ahead
        full = (1 << width) - 1
        a_grown = grows is None or any(grows(x, a_need) for x in a_fixed)

        def ahead_ok(L: int, s: Hashable) -> bool:
            """Can the state ``a_need`` still be made before the next segment's first read?"""
            if a_need == s or a_need in a_fixed:
                return True
            rest = full & ~L
            if makers.get(a_need, 0) & rest:
                return True
            if not (a_any or any_maker & rest):
                return False
            if a_grown or grows(s, a_need):  # type: ignore[misc]
                return True
            return bool(rest & grown(a_need))

    cache: dict[tuple[int, Hashable], Any] = {}  # (ok part of L, s) -> info parts seen
    n_cache = 0
    held = usage[1]  # bytes: the frontier's, then each state stored in the cache
    tick_at = held + TICK_BYTES
    n_ends = 0
    best: list[Any] = []
    best_depth = -1
    position = {i: b for b, i in enumerate(carried, k)}
    starts = []
    for cfg in frontier:
        open_ = set(cfg.open)
        L0 = 0
        for i in carried:
            if i not in open_:
                L0 |= 1 << position[i]
        starts.append((L0, cfg))
    for L0, cfg in starts:
        L, s, parent = L0, cfg.state, (L0, cfg)
        seen = cache.get((0, s))
        if seen is None:
            cache[(0, s)] = [L >> k] if has_info else _NO_INFO
        elif not has_info or any(x & ~L == 0 for x in seen):
            continue  # a start in this state with at least these info ops open: no worse
        else:
            seen.append(L >> k)
        n_cache += 1
        stack: list[list[Any]] = []
        while True:
            # entering configuration (L, s), not seen before
            count[0] += 1
            if count[0] >= count[1]:
                _next_slice(count, slice_)
                usage[0], usage[1] = n_cache, n_cache * per_entry + held
                yield None
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
            if m >= k:  # every ok op of the segment linearized: a configuration at its end
                frame = [L, s, 0, parent, 0]
                if ahead_ok is None or ahead_ok(L, s):  # else the next segment's first read is out of reach
                    n_ends += 1
                    usage[0], usage[1] = n_cache, n_cache * per_entry + held
                    yield _Config(s, tuple(order[b] for b in range(k, width) if not L >> b & 1),
                                  (_start_of(frame)[1].path, _path(frame, order, calls)) if paths else None)
                todo = 0
            else:
                todo = cand & ~ro_mask  # the reads left are illegal in s
                blocked = m
                need = needs[m]
                pending = needs_mask & ~L
                r = (pending & -pending).bit_length() - 1  # the next op that needs a state (-1: none)
                if need is not NOTHING and need != s and not reachable(m, L, s):
                    todo = 0  # m needs a state no op that may come before it can make: dead end
                elif r > m and needs[r] != s and not reachable(r, L, s):
                    todo, blocked = 0, r  # so does the next op that needs a state
                elif ahead_ok is not None and not ahead_ok(L, s):
                    todo = 0  # so does the next segment's first read
                elif L != L_in:
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
                if paths:
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
                        cache[key] = _NO_INFO
                    else:
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
                    held += sys.getsizeof(s2)
                    if held > tick_at:  # big states: let the caller weigh them before a slice ends
                        tick_at = held + TICK_BYTES
                        count[1] = count[0] + 1
                    top[2] = todo
                    L, s, parent = L2, s2, top
                    break
                else:
                    stack.pop()
                    continue
                break
            else:
                break  # this start is exhausted
    usage[0], usage[1] = n_cache, n_cache * per_entry + held
    if n_ends or not best:
        return None
    return _Stuck(start=_start_of(best)[1].path, part=_path(best, order, calls), stuck=order[best[4]],
                  cache_entries=n_cache)


def _start_of(frame: list[Any]) -> tuple[int, _Config]:
    while frame[3].__class__ is list:
        frame = frame[3]
    return frame[3]  # type: ignore[no-any-return]


def _path(frame: list[Any], order: list[int], calls: list[Any]) -> tuple[int, ...]:
    """The segment's entries linearized on the way to ``frame``, in order.

    Each frame adds the op stepped into (never read-only: reads are not
    branched on) and then the reads taken at once in the new state, in that order.
    """
    chain = []
    f = frame
    while f.__class__ is list:
        chain.append(f)
        f = f[3]
    prev = f[0]  # the start's L: info ops not open there
    chain.reverse()
    out: list[int] = []
    for f in chain:
        new = f[0] & ~prev
        bits = []
        while new:
            low = new & -new
            new ^= low
            bits.append(low.bit_length() - 1)
        bits.sort(key=lambda b: calls[b].read_only)  # stable: the stepped op first
        out.extend(order[b] for b in bits)
        prev = f[0]
    return tuple(out)
