"""Why a history is not linearizable, as data (:class:`~checkers.api.Anomaly`).

The search keeps its deepest configuration; from it this module reports, for
the partition (key) found invalid:

``key``         the partition key (``null`` for a single object);
``op``          the operation that cannot be linearized: every ``ok`` op that
                completes before it is in the prefix, and no order of the
                remaining candidates makes it legal;
``prefix``      the longest linearizable prefix found, in order, each with the
                model state after it (the last ``PREFIX_LIMIT`` if longer;
                ``prefix_length`` says how long it was);
``state``       the model state at the end of the prefix;
``reason``      what the model says when the op is tried in that state;
``concurrent``  the ops of the partition whose intervals overlap the op's.
``writers``     (register models, when the op is a read) every operation of the
                whole history, failed ones included, that wrote the value read:
                a read of a value only a *failed* write wrote is the classic
                sign of a write reported failed but applied; a value nobody
                wrote points at corruption.
``witness``     the cause, first: a minimal set of the key's operations that is
                still not linearizable (:mod:`checkers.linear.witness`), in
                real-time order, each with a ``role``; the failed writes a read
                returned are listed with them (``type`` ``fail``).
``witness_minimal``  True when removing any one of them makes the rest
                linearizable (each removal searched, or known from a
                linearizable superset); False when the reduction's time ran out.
``cause``       ``{"pattern", "label", "text"}`` (:mod:`checkers.linear.causes`):
                the pattern's name and prose that argues from real time.
``around``      the key's other operations overlapping the witness in time
                (the first ``CONCURRENT_LIMIT``; ``around_count`` says how many).
``witness_note`` (instead of the above) why no witness is given.
``search``      the search's own sentence: the op, the prefix, the state.

Ops are given as ``{"process", "node", "f", "value", "invoke_value", "type",
"error", "invoke_index", "complete_index", "invoke_s", "complete_s", "call"}``;
``value`` is the history's (the result for ``ok`` ops); times are seconds since
the run began (``None`` where the history has none).
The summary leads with the cause ("key 8: stale read: write 878 (p19 via n5)
completed at ...") when a witness was found, else it is the search's sentence.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Hashable

from checkers.api import Anomaly
from checkers.linear.causes import classify
from checkers.linear.models import Illegal, Model
from checkers.linear.partition import Entry, Partition
from checkers.linear.search import SearchResult
from checkers.linear.witness import minimal_witness
from harness.history import History, Operation
from harness.notation import value_text

__all__ = ["PREFIX_LIMIT", "CONCURRENT_LIMIT", "WITNESS_BUDGET_S", "explain", "op_data", "operation_data",
           "writers_of"]

PREFIX_LIMIT = 200
CONCURRENT_LIMIT = 50
WITNESS_BUDGET_S = 3.0
"""Time the witness reduction may take before the prefix explanation is all there is."""
UNFINISHED_WITNESS_MAX = 12
"""A witness the budget left unminimised is shown only up to this many ops."""


def _json(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_json(x) for x in v]
    if isinstance(v, frozenset):
        return sorted((_json(x) for x in v), key=repr)
    return v


def _s(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e9, 6)


def operation_data(o: Operation) -> dict[str, Any]:
    """One history operation as plain data: who, where, when, what, how it ended."""
    inv, c = o.invoke, o.completion  # read once: an explanation gives a few hundred of these
    if c is None:
        return {"process": inv.process, "node": inv.node, "f": inv.f, "value": inv.value,
                "invoke_value": inv.value, "type": "info", "error": None, "invoke_index": inv.index,
                "complete_index": None, "invoke_s": _s(inv.time), "complete_s": None}
    return {"process": inv.process, "node": inv.node or c.node, "f": inv.f,
            "value": c.value if c.type == "ok" else inv.value, "invoke_value": inv.value, "type": c.type,
            "error": c.error, "invoke_index": inv.index, "complete_index": c.index,
            "invoke_s": _s(inv.time), "complete_s": _s(c.time)}


def op_data(e: Entry, model: Model) -> dict[str, Any]:
    """One entry as plain data (:func:`operation_data`), with the model's one-line description."""
    return {**operation_data(e.op), "call": model.describe_call(e.call)}


def _short(e: Entry) -> str:
    o = e.op
    end = "" if o.return_index is None else f"..{o.return_index}"
    return f"process {o.process} {o.f} {_brief(o.value)} (index {o.invoke.index}{end})"


_brief = value_text


def _split(v: Any, independent: bool) -> tuple[Any, Any] | None:
    """``(key, value)`` of an independent tuple, ``(None, v)`` otherwise; None if malformed."""
    if not independent:
        return None, v
    return (v[0], v[1]) if isinstance(v, list) and len(v) == 2 else None


_WRITE_FS = frozenset({"write", "cas"})


def _writes(op: Operation, independent: bool) -> tuple[Any, Any] | None:
    """``(key, value written)`` of a register write or cas, else None."""
    kv = _split(op.invoke.value, independent)
    if kv is None:
        return None
    key, v = kv
    if op.f == "write":
        return key, v
    if op.f == "cas" and isinstance(v, list) and len(v) == 2:
        return key, v[1]
    return None


def writers_of(stuck: Operation, history: History, *, independent: bool) -> list[dict[str, Any]] | None:
    """The operations that wrote what ``stuck`` (a register read) returned; None if not a read."""
    if stuck.f != "read" or stuck.status != "ok":
        return None
    kv = _split(stuck.value, independent)
    if kv is None:
        return None
    key, got = kv
    if got is None:
        return None
    out = []
    for o in history.operations:
        if o.invoke.f not in _WRITE_FS:  # most ops are not writes: the cheap test first
            continue
        w = _writes(o, independent)
        if w is not None and w == (key, got):
            out.append({**operation_data(o), "value": o.invoke.value})
    return out


def _writers_text(writers: list[dict[str, Any]], value: Any) -> str:
    if not writers:
        return f" No operation in the history wrote {_brief(value)}."
    if all(w["type"] == "fail" for w in writers):
        w = writers[0]
        end = "" if w["complete_index"] is None else f"..{w['complete_index']}"
        return (f" {_brief(value)} was written only by process {w['process']}'s {w['f']} "
                f"(index {w['invoke_index']}{end}), which reported fail: a failed write was applied.")
    return ""


def _around(witness: tuple[Entry, ...], entries: tuple[Entry, ...]) -> list[Entry]:
    """The key's other operations whose intervals overlap the witness's span (for the chart)."""
    lo = min(e.call_pos for e in witness)
    ends = [e.ret_pos for e in witness]
    hi = None if None in ends else max(ends)  # type: ignore[type-var]
    mine = {id(e) for e in witness}
    return [e for e in entries if id(e) not in mine and (hi is None or e.call_pos < hi)
            and (e.ret_pos is None or e.ret_pos > lo)]


def explain(part: Partition, result: SearchResult, model: Model, *,
            history: History | None = None, independent: bool = False,
            witness_budget_s: float = WITNESS_BUDGET_S,
            clock: Callable[[], float] = time.monotonic) -> Anomaly:
    """The anomaly for an ``"invalid"`` search result of ``part``.

    With ``history`` (the whole one, ``fail`` ops included), a register read
    also names the operations that wrote the value it returned (``writers``),
    and the cause can name failed writes. The witness reduction gets
    ``witness_budget_s`` seconds of ``clock``.
    """
    assert result.stuck is not None
    entries = part.entries
    stuck = entries[result.stuck]
    init = model.init(part.key)
    state: Hashable = result.prefix[-1][1] if result.prefix else init
    after = model.step(state, stuck.call)
    reason = after.reason if isinstance(after, Illegal) else \
        "no order of the operations concurrent with it lets every later operation follow"
    prefix = [{"op": op_data(entries[i], model), "state": model.describe_state(s)}
              for i, s in result.prefix[-PREFIX_LIMIT:]]
    r = stuck.ret_pos
    concurrent = [e for e in entries
                  if e is not stuck and e.call_pos < r  # type: ignore[operator]
                  and (e.ret_pos is None or e.ret_pos > stuck.call_pos)]
    key = _json(part.key)
    where = "" if part.key is None else f"key {_brief(key)}: "
    summary = (f"{where}{_short(stuck)} cannot be linearized after the {len(result.prefix)}-op "
               f"linearizable prefix (state {model.describe_state(state)}): {reason}.")
    data = {
        "key": key,
        "op": op_data(stuck, model),
        "state": model.describe_state(state),
        "reason": reason,
        "prefix": prefix,
        "prefix_length": len(result.prefix),
        "initial_state": model.describe_state(init),
        "concurrent": [op_data(e, model) for e in concurrent[:CONCURRENT_LIMIT]],
        "concurrent_count": len(concurrent),
    }
    writers = None
    if history is not None and model.name in ("register", "cas-register"):
        writers = writers_of(stuck.op, history, independent=independent)
    data["search"] = summary
    if writers is not None:
        data["writers"] = writers
        got = stuck.op.value[1] if independent else stuck.op.value
        summary += _writers_text(writers, got)
    ops = [stuck.op.invoke.index]
    if stuck.op.return_index is not None:
        ops.append(stuck.op.return_index)
    wit = None if witness_budget_s <= 0 else \
        minimal_witness(entries, model, init, stuck=result.stuck, budget_s=witness_budget_s, clock=clock)
    if witness_budget_s <= 0:
        data["witness_note"] = "no witness was looked for (witness_s=0); the search's prefix explains the verdict"
    elif wit is not None and not wit.minimal and len(wit.entries) > UNFINISHED_WITNESS_MAX:
        data["witness_note"] = (f"the reduction got the key's {len(entries)} operations down to "
                                f"{len(wit.entries)} within {witness_budget_s:g} s, too many to read as a cause; "
                                f"the search's prefix explains the verdict")
        wit = None
    elif wit is None:
        data["witness_note"] = (f"no witness smaller than the key's {len(entries)} operations was found "
                                f"within {witness_budget_s:g} s; the search's prefix explains the verdict")
    else:
        cause = classify(wit.entries, entries, model, init, key=part.key, history=history, stuck=stuck,
                         minimal=wit.minimal)
        shown = [(e.op, op_data(e, model)) for e in wit.entries]
        shown += [(o, {**operation_data(o), "call": model.describe_call(c)}) for o, c in cause.failed]
        shown.sort(key=lambda od: od[0].invoke.index)
        data["witness"] = [{**d, "role": cause.roles.get(o.invoke.index, "")} for o, d in shown]
        data["witness_minimal"] = wit.minimal
        if wit.note:
            data["witness_note"] = wit.note
        data["cause"] = {"pattern": cause.pattern, "label": cause.label, "text": cause.text}
        around = _around(wit.entries, entries)
        data["around"] = [op_data(e, model) for e in around[:CONCURRENT_LIMIT]]
        data["around_count"] = len(around)
        summary = f"{where}{cause.label}: {cause.text}"
        ops.extend(i for o, _ in shown for i in (o.invoke.index, o.return_index) if i is not None)
    ops.extend(e.op.invoke.index for e in concurrent[:CONCURRENT_LIMIT])
    if writers:
        ops.extend(w["invoke_index"] for w in writers if w["type"] == "fail")
    return Anomaly(kind="nonlinearizable", summary=summary, ops=tuple(dict.fromkeys(ops)), data=data)
