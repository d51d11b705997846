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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, NamedTuple

from harness.history import History, HistoryError, Operation
from checkers.linear.models import ANY, NOTHING, Call, Model, ModelInputError

__all__ = ["Entry", "Partition", "partition"]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """The entries of one key, in invocation order, and how many were dropped."""

    key: Hashable
    entries: tuple[Entry, ...]
    dropped: int = 0


_entry = tuple.__new__  # Entry(...) through its keyword-parsing __new__ costs twice as much

MEMO_TRIAL = 2000
"""Operations after which the call memo is dropped if it has not been paying (most values unique)."""


def partition(history: History, model: Model) -> tuple[Partition, ...]:
    """Build, filter and group the entries of ``history`` (see the module docstring)."""
    pos = dict(zip(map(id, history.ops), range(len(history.ops))))
    make_call = model.call
    memo: dict[Any, Call] | None = {}  # model.call is pure, and many histories repeat a few calls
    hits = 0
    groups: dict[Hashable, list[Entry]] = {}
    dropped: dict[Hashable, int] = {}
    for n, operation in enumerate(history.operations):
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
        call = mk = None
        if memo is not None:
            if n == MEMO_TRIAL and hits * 10 < n:
                memo = None
            else:
                try:  # memo key: lists become tuples (one level; deeper lists stay unhashable)
                    mk = (inv.f, (list, *iv) if iv.__class__ is list else iv,
                          (list, *out) if out.__class__ is list else out, ok)
                    call = memo.get(mk)
                except TypeError:  # unhashable (nested) values: no memo
                    mk = None
        if call is None:
            try:
                call = make_call(inv.f, iv, out, ok)
            except ModelInputError as e:
                bad = comp if ok and "completion" in str(e) else inv
                raise HistoryError(f"op index {bad.index} ({inv.f}): {e}; check the --model option",
                                   file=history.source, line=history.line_of(bad)) from None  # type: ignore[union-attr]
            if mk is not None:
                memo[mk] = call  # type: ignore[index]
        else:
            hits += 1
        key = call.key
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
            dropped[key] = 0
        if call.read_only and (call.free or not ok):
            dropped[key] += 1
            continue
        group.append(_entry(Entry, (call, operation, pos[id(inv)], pos[id(comp)] if ok else None)))
    out = []
    for key, entries in groups.items():
        kept = _drop_unobservable(entries, model)
        out.append(Partition(key=key, entries=tuple(kept), dropped=dropped[key] + len(entries) - len(kept)))
    return tuple(out)


def _drop_unobservable(entries: list[Entry], model: Model) -> list[Entry]:
    if model.unseen is not None and any(e.ret_pos is None for e in entries):
        unseen = model.unseen([e.call for e in entries])
        entries = [e for e in entries if e.ret_pos is not None or not unseen(e.call)]
    if any((c.makes is ANY) if not c.read_only else (c.needs is NOTHING and not c.free)
           for c in (e.call for e in entries)):
        return entries  # some call's legality or effect is not a fixed state: keep everything
    while True:
        needed = {e.call.needs for e in entries if e.call.needs is not NOTHING}
        kept = [e for e in entries
                if e.ret_pos is not None or e.call.read_only or e.call.makes in needed]
        if len(kept) == len(entries):
            return kept
        entries = kept
