"""A history file partitioned as it is read: the check of a history too long to hold (issue 15).

:class:`HistoryFile` stands for a ``.jsonl`` or ``.edn`` history where
:class:`~checkers.linearizability.Linearizability` takes a
:class:`~harness.history.History`: ``check(HistoryFile(path))`` gives the
verdict, stats and explanation ``check(load_history(path))`` gives, without
ever holding the history. One pass over the file (a block of lines at a time,
:func:`harness.formats.history_blocks`) decodes each event, pairs it by
process (Jepsen's rules, as :func:`harness.history.pair`), builds the
model's :class:`~checkers.linear.models.Call` as soon as an operation
completes and appends it to its key's columns; the decoded events go with
their block. What is held per operation searched is its ``Call`` (and the
values in it), its invocation position (8 bytes in an ``array``) and its
completion position; nothing for a ``fail`` op or a dropped one.

The partitions are those of :func:`checkers.linear.partition.partition` on the
loaded history, in the same order (of each key's first invocation), with the
same operations in the same order (by invocation), the same drops and the same
counts; positions are event positions in the file (the loaded path uses the
events' indices when they increase: the same order, which is all the search
reads). Errors are the loader's and the partitioner's, with the same file
line: a bad line or an invocation while its process has one open stops the
read where it is; an operation the model cannot use is reported after the
whole file is read, the first by invocation order, as the loaded path
reports it.

Operations are kept only where someone asks for them: the explanation of an
invalid key (:meth:`HistoryFile.history_for`) reads the file again and
keeps that key's operations (failed ones included) and the nemesis events,
a :class:`~harness.history.History` of its own.

A key's columns cannot be searched before the file ends: an invocation still
open may belong to any key, and one never completed is known only at the end.
"""

from __future__ import annotations

import sys
from array import array
from itertools import islice
from operator import lt
from pathlib import Path
from typing import Any, Hashable

from checkers.linear.models import ANY, Call, Model, ModelInputError
from checkers.linear.partition import Calls, Partition, drop_unobservable
from harness.history import NEMESIS, History, HistoryError, Op, Operation

__all__ = ["HistoryFile"]

_INF = float("inf")
_Marker = type(ANY)


class _Key:
    """One key's columns while the file is read (completion order; sorted at the end)."""

    __slots__ = ("calls", "cp", "rp", "dropped", "first_dropped")

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.cp = array("q")
        self.rp: list[int | None] = []
        self.dropped = 0
        self.first_dropped: float = _INF


class HistoryFile:
    """A history file for :meth:`Linearizability.check` to read as it checks (see the module docstring).

    After :meth:`partitions`: ``events`` (every event read), ``operations``
    (client operations paired), ``nemesis`` (nemesis events and completions
    with nothing open), and ``value_bytes``: what the values in an operation's
    call take on average, which here no loaded history holds but the check
    (so its memory bound counts them, with the columns).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.source = str(path)
        self.events = 0
        self.operations = 0
        self.nemesis = 0
        self.value_bytes = 0
        self._model: Model | None = None
        self._loaded: History | None = None
        self._explained: dict[Hashable, tuple[History, dict[int, Operation]]] = {}

    def __repr__(self) -> str:
        return f"HistoryFile({self.source!r})"

    def partitions(self, model: Model) -> tuple[Partition, ...]:
        """The partitions of the file for ``model``, read in one pass (see the module docstring)."""
        from harness.formats import history_blocks, NotLineLayout
        self._model = model
        try:
            return self._partitions(history_blocks(self.path), model)
        except NotLineLayout:  # an EDN layout found out past its first blocks: read it whole
            from checkers.linear.partition import partition
            from harness.formats import load_history
            h = self._loaded = load_history(self.path)
            self.events, self.operations, self.nemesis = len(h.ops), len(h.operations), len(h.nemesis)
            return partition(h, model)

    def _partitions(self, blocks: Any, model: Model) -> tuple[Partition, ...]:
        calls_of = Calls(model)
        keys: dict[Hashable, _Key] = {}
        names: dict[str, str] = {}
        shared: dict[Any, Any] = {}
        open_: dict[Any, tuple[Op, int, int]] = {}
        pop = open_.pop
        first_error: tuple[int, HistoryError] | None = None
        pos = 0
        operations = nemesis = 0
        source = self.path
        for ops, where in blocks:
            for op, line in zip(ops, where):
                p = op.process
                if p.__class__ is not int and p == NEMESIS:
                    nemesis += 1
                    pos += 1
                    continue
                if op.type == "invoke":
                    if p in open_:
                        prev = open_[p][0]
                        raise HistoryError(f"process {p} invokes {op.f!r} while its {prev.f!r} "
                                           f"(index {prev.index}) is still open", file=source, line=line)
                    open_[p] = (op, pos, line)
                    operations += 1
                    pos += 1
                    continue
                got = pop(p, None)
                if got is None:
                    nemesis += 1
                    pos += 1
                    continue
                inv, ip, il = got
                t = op.type
                if t == "fail":
                    pos += 1
                    continue
                ok = t == "ok"
                # one call, as partition() makes it (its memo included), with what an error names
                f = inv.f
                f = names.get(f) or names.setdefault(f, f)
                iv = inv.value
                if iv.__class__ is list and iv:  # a [k v] value's key, held once for every call of it
                    k = iv[0]
                    if k.__class__ is str and len(k) <= 32 or k.__class__ is int:
                        k0 = shared.get(k)
                        if k0 is None:
                            if len(shared) < 100_000:
                                shared[k] = k
                        elif k0 is not k and k0.__class__ is k.__class__:
                            iv[0] = k0  # the event is ours alone: it goes with its block
                out = op.value if ok else None
                try:
                    call = calls_of.of(f, iv, out, ok)
                except ModelInputError as e:
                    bad, bad_line = (op, line) if ok and "completion" in str(e) else (inv, il)
                    if first_error is None or ip < first_error[0]:
                        first_error = (ip, HistoryError(
                            f"op index {bad.index} ({f}): {e}; check the --model option",
                            file=source, line=bad_line))
                    pos += 1
                    continue
                key = call.key
                g = keys.get(key)
                if g is None:
                    g = keys[key] = _Key()
                if call.read_only and (call.free or not ok):
                    g.dropped += 1
                    if ip < g.first_dropped:
                        g.first_dropped = ip
                else:
                    g.calls.append(call)
                    g.cp.append(ip)
                    g.rp.append(pos if ok else None)
                pos += 1
        # invocations never completed: indeterminate, as the loaded path pairs them
        for inv, ip, il in sorted(open_.values(), key=lambda x: x[1]):
            f = names.get(inv.f) or inv.f
            try:
                call = calls_of.of(f, inv.value, None, False)
            except ModelInputError as e:
                if first_error is None or ip < first_error[0]:
                    first_error = (ip, HistoryError(f"op index {inv.index} ({f}): {e}; check the --model option",
                                                    file=source, line=il))
                continue
            g = keys.get(call.key)
            if g is None:
                g = keys[call.key] = _Key()
            if call.read_only:
                g.dropped += 1
                g.first_dropped = min(g.first_dropped, ip)
            else:
                g.calls.append(call)
                g.cp.append(ip)
                g.rp.append(None)
        open_.clear()
        if first_error is not None:
            raise first_error[1]
        self.events, self.operations, self.nemesis = pos, operations, nemesis
        for g in keys.values():
            g.calls, g.cp, g.rp = _in_invocation_order(g.calls, g.cp, g.rp)
        out = []
        # in order of each key's first invocation, as partition() gives them
        for key, g in sorted(keys.items(), key=lambda kv: min(kv[1].cp[0] if kv[1].cp else _INF,
                                                                kv[1].first_dropped)):
            calls, cp, rp = g.calls, g.cp, g.rp
            g.calls = g.rp = []  # type: ignore[assignment]
            before = len(calls)
            calls, cp, rp, _ = drop_unobservable(calls, cp, rp, None, model)
            part = Partition(key=key, calls=calls, cp=cp, rp=rp, ops=None, dropped=g.dropped + before - len(calls))
            part.ops_of(self._ops_of)
            out.append(part)
        keys.clear()
        self.value_bytes = _value_bytes(out)
        return tuple(out)

    def _ops_of(self, part: Partition) -> list[Operation]:
        _, at = self._explain(part.key)
        return [at[c] for c in part.cp]

    def history_for(self, part: Partition) -> History:
        """The history an explanation of ``part`` reads: its key's operations (any status) and the nemesis events.

        Read again from the file (a pass, and the key's operations held).
        """
        if self._loaded is not None:  # a layout read whole: explained as the loaded path explains it
            return self._loaded
        return self._explain(part.key)[0]

    def _explain(self, key: Hashable) -> tuple[History, dict[int, Operation]]:
        got = self._explained.get(key)
        if got is None:
            got = self._explained[key] = self._read_key(key)
        return got

    def _read_key(self, key: Hashable) -> tuple[History, dict[int, Operation]]:
        """Every event of ``key``'s operations, and the nemesis ones, with positions and lines."""
        from harness.formats import history_blocks, load_history, NotLineLayout
        try:
            return self._collect(_positions(history_blocks(self.path)), key)
        except NotLineLayout:
            h = load_history(self.path)
            lines = h.lines if h.lines is not None else range(1, len(h.ops) + 1)
            return self._collect(((o, i, ln) for i, (o, ln) in enumerate(zip(h.ops, lines))), key)

    def _collect(self, events: Any, key: Hashable) -> tuple[History, dict[int, Operation]]:
        model = self._model
        assert model is not None
        at: dict[int, int] = {}  # id of a kept invocation -> its position
        open_: dict[Any, tuple[Op, int, int]] = {}
        kept: list[tuple[int, Op, int]] = []
        for op, pos, line in events:
            p = op.process
            if p.__class__ is not int and p == NEMESIS:
                kept.append((pos, op, line))
                continue
            if op.type == "invoke":
                open_[p] = (op, pos, line)
                continue
            got = open_.pop(p, None)
            if got is None:
                kept.append((pos, op, line))
                continue
            inv, ip, il = got
            if _key_of(model, inv, op) == key:
                kept += [(ip, inv, il), (pos, op, line)]
                at[id(inv)] = ip
        for inv, ip, il in open_.values():
            if _key_of(model, inv, None) == key:
                kept.append((ip, inv, il))
                at[id(inv)] = ip
        kept.sort(key=lambda x: x[0])
        h = History.of([op for _, op, _ in kept], source=self.path, lines=[ln for _, _, ln in kept])
        by_pos = {at[id(o.invoke)]: o for o in h.operations if id(o.invoke) in at}
        return h, by_pos


def _positions(blocks: Any) -> Any:
    pos = 0
    for ops, where in blocks:
        for op, line in zip(ops, where):
            yield op, pos, line
            pos += 1


def _key_of(model: Model, inv: Op, comp: Op | None) -> Any:
    """The partition key of an operation, failed or not (None when the model cannot use it: never asked)."""
    ok = comp is not None and comp.type == "ok"
    try:
        return model.call(inv.f, inv.value, comp.value if ok else None, ok).key  # type: ignore[union-attr]
    except (ModelInputError, ValueError, TypeError):
        return _NO_KEY


_NO_KEY = object()


def _in_invocation_order(calls: list[Call], cp: array, rp: list[int | None]) -> tuple[list[Call], array, list[int | None]]:
    """The columns sorted by invocation position (they were appended as operations completed)."""
    if all(map(lt, cp, islice(cp, 1, None))):
        return calls, cp, rp
    order = sorted(range(len(cp)), key=cp.__getitem__)
    return [calls[i] for i in order], array("q", map(cp.__getitem__, order)), [rp[i] for i in order]


def _value_bytes(parts: Any, samples: int = 2000) -> int:
    """The bytes of the values a call holds (its argument, result, the states it needs or makes), on average.

    Measured on up to ``samples`` calls spread over the partitions; the key is
    held once for all its calls, the markers and small numbers by Python.
    """
    total = sum(len(p) for p in parts)
    if not total:
        return 0
    step = max(1, total // samples)
    size = seen = 0
    for p in parts:
        calls = p.calls
        for i in range(step // 2 % max(1, len(calls)), len(calls), step):
            c = calls[i]
            mine = {id(x): x for x in (c.arg, c.ret, c.needs, c.makes) if x is not None and x is not c.key}
            size += sum(_deep_size(x) for x in mine.values() if x.__class__ not in (bool, _Marker))
            seen += 1
    return size // seen if seen else 0


def _deep_size(x: Any, depth: int = 0) -> int:
    n = sys.getsizeof(x)
    if depth < 3 and isinstance(x, (tuple, frozenset, list)):
        n += sum(_deep_size(y, depth + 1) for y in x)
    return n
