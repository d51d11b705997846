"""Cycles as data, then prose a person can check by hand.

A workload supplies an :data:`EdgeExplainer`: given two transactions and the
kind of edge between them, it returns the *reason* as data (``{"key": "x",
"value": 3, ...}``) with a ``why`` sentence ("T2 read T1's append of 3 to key
x"). :func:`cycle_anomaly` names the transactions of a cycle ``T1 .. Tn`` and
writes it up the way Elle does::

    Let:
      T1 = {:index 4, :process 1, :type :ok, :value [[:append :x 3]]}
      T2 = {...}
    Then:
      - T1 < T2, because T2 read T1's append of 3 to key :x.
      - However, T2 < T1, because T2 read key :y without T1's append of 5: a contradiction!
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from checkers.api import Anomaly
from checkers.elle.cycles import Cycle
from checkers.elle.graph import KIND_NAMES, PROCESS, REALTIME
from checkers.elle.txn import Txn
from harness.edn import Keyword, dumps

__all__ = ["EdgeExplainer", "cycle_anomaly", "txn_data", "show", "show_key", "order_reason"]

EdgeExplainer = Callable[[Txn, Txn, int, Mapping[int, str]], dict[str, Any]]
"""``(t1, t2, kind, names) -> {"why": str, ...}``: why ``t1`` precedes ``t2`` by an edge of ``kind``;
``names`` maps a transaction's node to its name in the cycle (``T1``)."""

_DESCRIPTION = {
    "G0": "a cycle of write-write dependencies (dirty write)",
    "G1c": "a cycle of write-write and write-read dependencies (circular information flow)",
    "G-single": "a dependency cycle with exactly one read-write anti-dependency (read skew)",
    "G-nonadjacent": "a dependency cycle whose read-write anti-dependencies are never adjacent",
    "G2-item": "a dependency cycle with adjacent read-write anti-dependencies (write skew)",
}


def show(v: Any, limit: int = 80) -> str:
    """A value in EDN, as Jepsen prints it (cut at ``limit`` characters)."""
    try:
        s = dumps(v)
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def show_key(k: Any) -> str:
    """A key as Jepsen writes it: strings that came from EDN keywords get their colon back."""
    if isinstance(k, str) and k and " " not in k:
        return show(Keyword(k))
    return show(k)


def _mops_edn(mops: Sequence[Sequence[Any]]) -> list[Any]:
    return [[Keyword(m[0]), Keyword(m[1]) if isinstance(m[1], str) and m[1] and " " not in m[1] else m[1],
             *m[2:]] for m in mops]


def txn_data(t: Txn) -> dict[str, Any]:
    """A transaction as plain data: index, process, status, micro-ops, times."""
    op = t.op
    return {"index": op.invoke.index,
            "complete_index": None if op.completion is None else op.completion.index,
            "process": op.process, "status": t.status, "value": [list(m) for m in t.mops],
            "node": op.invoke.node if op.completion is None else (op.completion.node or op.invoke.node)}


def _txn_text(t: Txn) -> str:
    return (f"{{:index {t.op.invoke.index}, :process {show(t.op.process)}, :type :{t.status}, "
            f":value {show(_mops_edn(t.mops), 200)}}}")


def order_reason(a: Txn, b: Txn, kind: int, names: Mapping[int, str]) -> dict[str, Any] | None:
    """The reason for a process or real-time edge (shared by every workload), or ``None``."""
    if kind == PROCESS:
        return {"process": a.op.process,
                "why": f"process {show(a.op.process)} executed {names[a.node]} and then {names[b.node]}"}
    if kind == REALTIME:
        ca = a.op.completion.index if a.op.completion is not None else None
        return {"completed": ca, "invoked": b.op.invoke.index,
                "why": f"{names[a.node]} completed (index {ca}) before {names[b.node]} was invoked "
                       f"(index {b.op.invoke.index})"}
    return None


def cycle_anomaly(cycle: Cycle, txns: Sequence[Txn], explain: EdgeExplainer) -> Anomaly:
    """The :class:`~checkers.api.Anomaly` for ``cycle``: data (transactions, steps) then the prose."""
    first = min(range(len(cycle.steps)), key=lambda i: txns[cycle.steps[i][0]].op.invoke.index)
    cycle_steps = cycle.steps[first:] + cycle.steps[:first]   # T1 is the earliest invoked
    order: list[Txn] = [txns[a] for a, _, _ in cycle_steps]
    names = {t.node: f"T{i + 1}" for i, t in enumerate(order)}
    steps: list[dict[str, Any]] = []
    lines = ["Let:"]
    lines += [f"  {names[t.node]} = {_txn_text(t)}" for t in order]
    lines.append("Then:")
    last = len(cycle_steps) - 1
    for i, (a, kind, b) in enumerate(cycle_steps):
        ta, tb = txns[a], txns[b]
        reason = order_reason(ta, tb, kind, names) or explain(ta, tb, kind, names)
        steps.append({"from": names[ta.node], "to": names[tb.node], "type": KIND_NAMES[kind], **reason})
        lead = "However, " if i == last else ""
        tail = ": a contradiction!" if i == last else "."
        lines.append(f"  - {lead}{names[ta.node]} < {names[tb.node]}, because {reason['why']}{tail}")
    base = cycle.anomaly.replace("-process", "").replace("-realtime", "")
    variant = (" (using real-time order)" if cycle.anomaly.endswith("-realtime")
               else " (using process order)" if cycle.anomaly.endswith("-process") else "")
    chain = " < ".join(names[t.node] for t in order) + f" < {names[order[0].node]}"
    summary = (f"{cycle.anomaly}: {_DESCRIPTION.get(base, 'a dependency cycle')}{variant}: {chain}; "
               + "; ".join(f"{s['from']} < {s['to']} because {s['why']}" for s in steps))
    return Anomaly(kind=cycle.anomaly, summary=summary,
                   ops=tuple(t.op.invoke.index for t in order),
                   data={"cycle": [{"name": names[t.node], **txn_data(t)} for t in order],
                         "steps": steps, "text": "\n".join(lines)})
