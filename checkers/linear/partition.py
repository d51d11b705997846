"""From a history to the independent sub-problems the search solves.

P-compositionality (Horn & Kroening): a history over independent objects is
linearizable iff each object's sub-history is. The model's ``call`` gives each
operation its partition ``key``; :func:`partition` groups by it, in order of
first appearance.

Jepsen's rules decide what is searched at all: ``fail`` ops never happened and
are dropped; ``info`` ops and invocations that never completed may take effect
at any instant after their invocation, or never. Some operations provably
cannot change the verdict and are dropped here, before any search:

* an ``info`` call that is read-only (it constrains nothing and changes nothing);
* an ``ok`` call that is ``free`` (legal in every state, changes nothing);
* in a partition where every call is a read with a fixed ``needs`` (or free),
  or has a fixed ``makes`` (register-like models), an ``info`` call whose
  resulting state no call ``needs``: whatever it wrote
  no one could have observed, so a linearization that applies it is no better
  than one that leaves it out. Applied until nothing more drops;
* an ``info`` call the model's ``unseen`` hook says no call could observe
  (``kv``: a string no get returned).

A model's unusable value raises :class:`~harness.history.HistoryError` naming
the file line of the invocation.

:func:`partition` also takes a :class:`PartitionSource`, a history that
partitions itself as it is read (:class:`checkers.linear.stream.HistoryFile`,
for files too long to load): the same partitions, built in one pass over the
file, with :func:`drop_unobservable` applied to each key as here.
"""

from __future__ import annotations

from array import array
from itertools import compress, islice, repeat
from operator import attrgetter, is_, lt
from typing import Any, Callable, Hashable, NamedTuple, Protocol, Sequence

from harness.history import History, HistoryError, Op, Operation
from checkers.linear.models import ANY, NOTHING, Call, Model, ModelInputError

__all__ = ["Entry", "Partition", "PartitionSource", "drop_unobservable", "partition", "positions"]


class Entry(NamedTuple):
    """One operation ready for the search.

    ``call_pos``/``ret_pos`` are event positions in ``History.ops`` (the
    real-time order); ``ret_pos`` is ``None`` for an indeterminate op.
    A named tuple, not a frozen dataclass: one is built per operation on the
    hot path, and a tuple is built twice as fast.
    """

    call: Call
    op: Operation
    call_pos: int
    ret_pos: int | None


class Partition:
    """The operations of one key, in invocation order, and how many were dropped.

    Held as columns, which is what the search reads (issue 15: a million
    operations must fit in well under a GiB): ``calls`` (the model's
    :class:`Call` of each), ``cp`` and ``rp`` (their invocation and
    completion positions in real-time order; ``rp`` is ``None`` for an
    indeterminate op) and ``ops`` (the :class:`Operation` of each). About
    150 bytes an operation, against some 300 for a tuple of :class:`Entry`
    values. ``entries`` builds those (once) for the explanation of an invalid
    key, and for callers that want them; a valid key never does.

    ``cp`` is a list or an ``array('q')`` (8 bytes an op: the streaming path
    of :mod:`checkers.linear.stream`); both index and iterate alike. ``ops``
    may be left for later (``ops=None`` and :meth:`ops_of`): a partition
    read from a file holds no operations, and reads its own again from the
    file when an explanation asks.
    """

    __slots__ = ("key", "calls", "cp", "rp", "_ops", "_ops_of", "dropped", "_entries")

    def __init__(self, *, key: Hashable, entries: Sequence[Entry] | None = None, dropped: int = 0,
                 calls: list[Call] | None = None, cp: Sequence[int] | None = None,
                 rp: list[int | None] | None = None, ops: list[Operation] | None = None) -> None:
        self.key = key
        self.dropped = dropped
        self._ops_of: Callable[[Partition], list[Operation]] | None = None
        if entries is not None:
            self._entries: tuple[Entry, ...] | None = tuple(entries)
            self.calls = [e.call for e in self._entries]
            self.cp = [e.call_pos for e in self._entries]
            self.rp = [e.ret_pos for e in self._entries]
            self._ops: list[Operation] | None = [e.op for e in self._entries]
        else:
            assert calls is not None and cp is not None and rp is not None
            self._entries = None
            self.calls, self.cp, self.rp, self._ops = calls, cp, rp, ops

    def ops_of(self, load: Callable[["Partition"], list[Operation]]) -> None:
        """Where :attr:`ops` comes from when it was not given: ``load(self)``, called once when asked."""
        self._ops_of = load

    @property
    def ops(self) -> list[Operation]:
        """The :class:`Operation` of each call (loaded on first use when the partition was read from a file)."""
        if self._ops is None:
            assert self._ops_of is not None, "a partition without its operations, and nowhere to read them"
            self._ops = self._ops_of(self)
        return self._ops

    @property
    def entries(self) -> tuple[Entry, ...]:
        """The operations as :class:`Entry` values (built on first use, then the same objects)."""
        if self._entries is None:
            self._entries = tuple(map(_entry, repeat(Entry), zip(self.calls, self.ops, self.cp, self.rp)))
        return self._entries

    def __len__(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        return f"Partition(key={self.key!r}, {len(self.calls)} ops, dropped={self.dropped})"


_entry = tuple.__new__  # Entry(...) through its keyword-parsing __new__ costs twice as much

MEMO_TRIAL = 512
"""Operations after which the call memo is dropped unless half of them were found in it."""
MEMO_MAX = 65_536
"""Calls the memo holds at most (some 250 bytes each): it must not grow with the history."""


class Calls:
    """``model.call`` through a memo while the memo pays: ``calls.of(f, invoke_value, ok_value, ok)``.

    ``model.call`` is pure, and many histories repeat a few calls (registers
    of small integers, a mutex): those are built once. After
    :data:`MEMO_TRIAL` operations the memo goes unless half of them were
    found in it (a kv history of unique strings: building its key costs about
    what a miss saves), and ``of`` is then ``model.call`` itself, with no
    cost per call. The memo holds at most :data:`MEMO_MAX` calls. Its key
    turns lists into tuples one level deep; a deeper list is unhashable and
    is built without the memo. ``model.call``'s :class:`ModelInputError`
    goes to the caller, which knows the file line.
    """

    __slots__ = ("of", "_make", "_memo", "_made", "_hits")

    def __init__(self, model: Model) -> None:
        self._make = model.call
        self._memo: dict[Any, Call] = {}
        self._made = self._hits = 0
        self.of: Callable[[str, Any, Any, bool], Call] = self._memoized

    def _memoized(self, f: str, iv: Any, out: Any, ok: bool) -> Call:
        self._made += 1
        if self._made == MEMO_TRIAL and self._hits * 2 < self._made:
            self.of = self._make
            self._memo = {}
            return self._make(f, iv, out, ok)
        try:
            mk = (f, (list, *iv) if iv.__class__ is list else iv, (list, *out) if out.__class__ is list else out, ok)
            call = self._memo.get(mk)
        except TypeError:  # unhashable (nested) values
            return self._make(f, iv, out, ok)
        if call is not None:
            self._hits += 1
            return call
        call = self._make(f, iv, out, ok)
        if len(self._memo) < MEMO_MAX:
            self._memo[mk] = call
        return call


def positions(history: History) -> Callable[[Op], int]:
    """A key giving each event its position in real-time order.

    An event's ``index`` when the indices increase along ``history.ops`` (as
    every reader and the recorder make them: no table needed); else its
    position, through a table of the events' ids.
    """
    idx = [o.index for o in history.ops]
    if all(map(lt, idx, islice(idx, 1, None))):
        return _INDEX
    table = dict(zip(map(id, history.ops), range(len(history.ops))))
    return lambda op: table[id(op)]


_INDEX = attrgetter("index")


class PartitionSource(Protocol):
    """A history that partitions itself as it is read (:class:`checkers.linear.stream.HistoryFile`)."""

    def partitions(self, model: Model) -> tuple[Partition, ...]: ...

    def history_for(self, part: Partition) -> History: ...


def partition(history: History | PartitionSource, model: Model) -> tuple[Partition, ...]:
    """Build, filter and group the operations of ``history`` (see the module docstring)."""
    if not isinstance(history, History):
        return history.partitions(model)
    pos = positions(history)
    by_index = pos is _INDEX
    calls_of = Calls(model)
    # per key: [calls, cp, rp, ops] and their appends; the count dropped
    groups: dict[Hashable, tuple[list[Call], list[int], list[int | None], list[Operation]]] = {}
    adders: dict[Hashable, tuple[Any, Any, Any, Any]] = {}
    dropped: dict[Hashable, int] = {}
    for operation in history.operations:
        inv, comp = operation.invoke, operation.completion
        if comp is None:
            ok = False
        else:
            t = comp.type
            if t == "fail":
                continue
            ok = t == "ok"
        iv = inv.value
        out = comp.value if ok else None  # type: ignore[union-attr]
        try:
            call = calls_of.of(inv.f, iv, out, ok)
        except ModelInputError as e:
            bad = comp if ok and "completion" in str(e) else inv
            raise HistoryError(f"op index {bad.index} ({inv.f}): {e}; check the --model option",
                               file=history.source, line=history.line_of(bad)) from None  # type: ignore[union-attr]
        key = call.key
        add = adders.get(key)
        if add is None:
            group = groups[key] = ([], [], [], [])
            add = adders[key] = tuple(x.append for x in group)  # type: ignore[assignment]
            dropped[key] = 0
        if call.read_only and (call.free or not ok):
            dropped[key] += 1
            continue
        add_call, add_cp, add_rp, add_op = add  # type: ignore[misc]
        add_call(call)
        add_op(operation)
        if by_index:
            add_cp(inv.index)
            add_rp(comp.index if ok else None)  # type: ignore[union-attr]
        else:
            add_cp(pos(inv))
            add_rp(pos(comp) if ok else None)  # type: ignore[arg-type]
    out = []
    for key, (calls, cp, rp, ops) in groups.items():
        before = len(calls)
        calls, cp, rp, ops = drop_unobservable(calls, cp, rp, ops, model)
        out.append(Partition(key=key, calls=calls, cp=cp, rp=rp, ops=ops,
                             dropped=dropped[key] + before - len(calls)))
    return tuple(out)


def drop_unobservable(calls: list[Call], cp: Sequence[int], rp: list[int | None], ops: list[Operation] | None,
                      model: Model) -> tuple[list[Call], Any, list[int | None], list[Operation] | None]:
    """The columns without the info calls no call could observe (see the module docstring); ``cp`` keeps its type."""
    infos = list(compress(range(len(rp)), map(is_, rp, repeat(None))))  # found in C: no loop over every op
    if not infos:
        return calls, cp, rp, ops  # every op completed: there is no info op to drop
    gone: set[int] = set()
    if model.unseen is not None:
        unseen = model.unseen(calls)
        gone = {i for i in infos if unseen(calls[i])}
    if not any((c.makes is ANY) if not c.read_only else (c.needs is NOTHING and not c.free)
               for i, c in enumerate(calls) if i not in gone):
        # every call's legality or effect is a fixed state: drop info calls whose state no call needs
        while True:
            needed = {c.needs for i, c in enumerate(calls) if i not in gone and c.needs is not NOTHING}
            more = {i for i in infos if i not in gone and not calls[i].read_only and calls[i].makes not in needed}
            if not more:
                break
            gone |= more
    if not gone:
        return calls, cp, rp, ops
    if len(gone) <= 64:  # a few: deleted in place (a memmove each), no pass that touches every call
        for i in sorted(gone, reverse=True):
            del calls[i], cp[i], rp[i]
            if ops is not None:
                del ops[i]
        return calls, cp, rp, ops
    keep = bytearray(b"\x01") * len(calls)
    for i in gone:
        keep[i] = 0
    kept_cp = array(cp.typecode, compress(cp, keep)) if isinstance(cp, array) else list(compress(cp, keep))
    return (list(compress(calls, keep)), kept_cp, list(compress(rp, keep)),
            None if ops is None else list(compress(ops, keep)))
