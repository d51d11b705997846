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

Ops are given as ``{"process", "f", "value", "type", "invoke_index",
"complete_index"}``; ``value`` is the history's (the result for ``ok`` ops).
The summary is one sentence naming all of that briefly.
"""

from __future__ import annotations

from typing import Any, Hashable

from checkers.api import Anomaly
from harness.edn import dumps
from checkers.linear.models import Illegal, Model
from checkers.linear.partition import Entry, Partition
from checkers.linear.search import SearchResult
from harness.history import History, Operation

__all__ = ["PREFIX_LIMIT", "CONCURRENT_LIMIT", "explain", "op_data", "writers_of"]

PREFIX_LIMIT = 200
CONCURRENT_LIMIT = 50


def _json(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_json(x) for x in v]
    if isinstance(v, frozenset):
        return sorted((_json(x) for x in v), key=repr)
    return v


def op_data(e: Entry, model: Model) -> dict[str, Any]:
    """One entry as plain data, with the model's one-line description."""
    o = e.op
    return {"process": o.process, "f": o.f, "value": o.value, "type": o.status,
            "invoke_index": o.invoke.index, "complete_index": o.return_index,
            "call": model.describe_call(e.call)}


def _short(e: Entry) -> str:
    o = e.op
    end = "" if o.return_index is None else f"..{o.return_index}"
    return f"process {o.process} {o.f} {_brief(o.value)} (index {o.invoke.index}{end})"


def _brief(v: Any) -> str:
    try:
        s = dumps(v)
    except ValueError:
        s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _split(v: Any, independent: bool) -> tuple[Any, Any] | None:
    """``(key, value)`` of an independent tuple, ``(None, v)`` otherwise; None if malformed."""
    if not independent:
        return None, v
    return (v[0], v[1]) if isinstance(v, list) and len(v) == 2 else None


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
        w = _writes(o, independent)
        if w is not None and w == (key, got):
            out.append({"process": o.process, "f": o.f, "value": o.invoke.value, "type": o.status,
                        "invoke_index": o.invoke.index, "complete_index": o.return_index})
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


def explain(part: Partition, result: SearchResult, model: Model, *,
            history: History | None = None, independent: bool = False) -> Anomaly:
    """The anomaly for an ``"invalid"`` search result of ``part``.

    With ``history`` (the whole one, ``fail`` ops included), a register read
    also names the operations that wrote the value it returned (``writers``).
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
    if writers is not None:
        data["writers"] = writers
        got = stuck.op.value[1] if independent else stuck.op.value
        summary += _writers_text(writers, got)
    ops = [stuck.op.invoke.index]
    if stuck.op.return_index is not None:
        ops.append(stuck.op.return_index)
    ops.extend(e.op.invoke.index for e in concurrent[:CONCURRENT_LIMIT])
    if writers:
        ops.extend(w["invoke_index"] for w in writers if w["type"] == "fail")
    return Anomaly(kind="nonlinearizable", summary=summary, ops=tuple(ops), data=data)
