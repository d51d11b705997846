"""Transactions as the Elle checkers see them: micro-ops, status, order.

A transaction is a client operation whose value is a list of micro-ops
``[f, key, value]`` (Jepsen's ``:txn`` ops; EDN keywords arrive as strings).
Its status follows Jepsen: ``ok`` committed, and its reads are the values in
the completion; ``info`` (or never completed) may or may not have committed,
and its reads are unknown, so only its writes are used; ``fail`` did not
commit, and its writes are kept only to recognise aborted reads (G1a).

:func:`parse` validates every micro-op against the workload's functions and
raises :class:`~harness.history.HistoryError` naming the file line of the
first bad one; :func:`order_edges` adds process and real-time edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from checkers.elle.graph import PROCESS, REALTIME, GraphBuilder
from checkers.inputs import bad_input
from harness.history import History, Operation

__all__ = ["Txn", "Parsed", "parse", "order_edges", "bad_input"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Txn:
    """One transaction.

    ``node``    its node in the dependency graph (ok and info ones), or -1 (fail).
    ``status``  ``"ok"``, ``"info"`` or ``"fail"``.
    ``mops``    its micro-ops ``[f, key, value]``: the completion's for ``ok``,
                the invocation's otherwise (reads then carry no value).
    ``op``      the history's operation, for explanations.
    """

    node: int
    status: str
    mops: Sequence[Sequence[Any]]
    op: Operation

    @property
    def process(self) -> Any:
        return self.op.process


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """The transactions of a history: ``txns`` indexed by node, then the failed ones."""

    txns: list[Txn]
    failed: list[Txn]


def parse(history: History, fs: Sequence[str], *, workload: str) -> Parsed:
    """Transactions of ``history``, each micro-op checked to be ``[f, key, value]`` with ``f`` in ``fs``.

    Operations whose ``f`` is not ``txn`` are ignored (Elle does the same).
    """
    allowed = frozenset(fs)
    txns: list[Txn] = []
    failed: list[Txn] = []
    for op in history.operations:
        if op.invoke.f != "txn":
            continue
        status = op.status
        value = op.completion.value if status == "ok" else op.invoke.value
        if type(value) is not list:
            raise bad_input(history, op, f"a {workload} transaction's value must be a list of "
                                         f"[f key value] micro-ops, got {value!r}")
        for m in value:
            if type(m) is not list or len(m) != 3 or m[0] not in allowed:
                raise bad_input(history, op, f"bad micro-op {m!r} for {workload}: expected "
                                             f"[f key value] with f one of {sorted(allowed)}")
            k = m[1]
            if isinstance(k, (list, dict)):
                raise bad_input(history, op, f"micro-op key {k!r} must be a scalar")
            v = m[2]
            read_list = m[0] == "r" and workload == "list-append" and isinstance(v, list)
            if isinstance(v, dict) or (isinstance(v, list) and not read_list) or (
                    read_list and any(isinstance(x, (list, dict)) for x in v)):
                raise bad_input(history, op, f"micro-op {m!r}: the value must be a number, string or nil"
                                             + (" (in a read, a list of them)" if workload == "list-append" else ""))
        if status == "fail":
            failed.append(Txn(node=-1, status="fail", mops=value, op=op))
        else:
            txns.append(Txn(node=len(txns), status=status, mops=value, op=op))
    return Parsed(txns=txns, failed=failed)


def order_edges(txns: Sequence[Txn], b: GraphBuilder, *, process: bool, realtime: bool) -> None:
    """Add process-order and real-time edges between ``txns`` to ``b``.

    Process: each ``ok`` transaction precedes every later one of its process
    (an ``info`` one may still be running, so nothing follows from it).
    Real time: T1 < T2 when T1 completed ``ok`` before T2 was invoked. Instead
    of one edge per such pair, every ``ok`` completion becomes a time point;
    points are chained in history order, T1 links to its own point, and each
    invocation is linked from the last point before it. T1 reaches T2 through
    points exactly when T1 completed before T2 began.
    """
    if process:
        last_ok: dict[Any, int] = {}
        pa: list[int] = []
        pb: list[int] = []
        for t in txns:
            p = t.op.process
            prev = last_ok.get(p)
            if prev is not None:
                pa.append(prev)
                pb.append(t.node)
            if t.status == "ok":
                last_ok[p] = t.node
        b.extend(pa, pb, PROCESS)
    if not realtime:
        return
    comps = [(t.op.completion.index, t.node) for t in txns if t.status == "ok"]  # type: ignore[union-attr]
    comps.sort()
    invs = [(t.op.invoke.index, t.node) for t in txns]
    invs.sort()
    first = b.add_nodes(len(comps))
    ra: list[int] = []
    rb: list[int] = []
    j, last_point, nc = 0, -1, len(comps)
    for ii, node in invs:
        while j < nc and comps[j][0] < ii:
            point = first + j
            ra.append(comps[j][1])
            rb.append(point)
            if last_point >= 0:
                ra.append(last_point)
                rb.append(point)
            last_point = point
            j += 1
        if last_point >= 0:
            ra.append(last_point)
            rb.append(node)
    b.extend(ra, rb, REALTIME)
