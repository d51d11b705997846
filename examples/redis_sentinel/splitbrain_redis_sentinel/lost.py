"""A checker of its own: acknowledged writes that nobody ever read and a later read proves gone.

The linearizability checker already rejects such a history; this one says, in
the words a Redis user would use, which acknowledged writes were lost. For
each key (values are unique per run, so every value has exactly one writer):

    write ``w`` of ``v`` completed ``ok``; no ``ok`` read ever returned ``v``;
    and a read ``r`` that began after ``w`` completed returned a value whose
    write had completed before ``w`` began (or the initial nil).

Then ``w`` is lost: in real time ``w`` follows the write ``r`` saw, and ``r``
follows ``w``, so no order of the operations lets ``r`` see that value, and
no read ever observed ``w``. (A read of a value whose writer was concurrent
with ``w``, or indeterminate, proves nothing and is not used.) The anomaly
names the write, the node that acknowledged it, and the first read that shows
it gone. Pure: a function of the history.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from checkers.api import Anomaly, CheckResult, Verdict
from harness import History, Operation

__all__ = ["LostWrites"]

def _s(ns: int | None) -> str:
    return "?" if ns is None else f"{ns / 1e9:.3f} s"


def _span(o: Operation) -> tuple[int | None, int | None]:
    return o.invoke.time, (o.completion.time if o.completion is not None else None)


def _by_key(reads: list[Operation]) -> dict[Any, list[Operation]]:
    out: dict[Any, list[Operation]] = {}
    for r in reads:
        if r.invoke.time is not None:
            out.setdefault(r.invoke.value[0], []).append(r)
    return out


_BLOCK = 64


class _ReadIndex:
    """One key's ok reads by start time, each with the completion time of the write it saw.

    ``proof[j]`` is when the write read by read ``j`` completed (-1 for nil,
    the initial value; infinity when that write was not acknowledged, or the
    value has no writer: such a read proves nothing). A write ``w`` is proven
    lost by the first read begun after ``w`` ended whose ``proof`` precedes
    ``w``'s start; blocks of ``_BLOCK`` reads keep their least ``proof``, so a
    query skips a block that cannot hold one: a long run is checked in about
    ``writes x reads / _BLOCK`` steps at worst instead of ``writes x reads``.
    """

    __slots__ = ("reads", "starts", "proof", "mins")

    def __init__(self, reads: list[Operation], writer: dict[tuple[Any, Any], Operation]) -> None:
        self.reads = sorted(reads, key=lambda r: r.invoke.time)  # type: ignore[arg-type,return-value]
        self.starts = [r.invoke.time for r in self.reads]
        inf = float("inf")
        self.proof: list[float] = []
        for r in self.reads:
            k, got = r.invoke.value[0], r.value[1]
            old = writer.get((k, got))
            if got is None:
                self.proof.append(-1)
            elif old is None or old.status != "ok" or _span(old)[1] is None:
                self.proof.append(inf)
            else:
                self.proof.append(_span(old)[1])  # type: ignore[arg-type]
        self.mins = [min(self.proof[i:i + _BLOCK]) for i in range(0, len(self.proof), _BLOCK)]

    def first_proof(self, *, after: int, before: int) -> Operation | None:
        """The first read begun after ``after`` whose write completed before ``before``."""
        j = bisect_right(self.starts, after)
        n = len(self.proof)
        while j < n:
            if j % _BLOCK == 0 and self.mins[j // _BLOCK] >= before:
                j += _BLOCK
                continue
            if self.proof[j] < before:
                return self.reads[j]
            j += 1
        return None


@dataclass(frozen=True, slots=True)
class LostWrites:
    name: str = "lost-writes"

    def check(self, history: History) -> CheckResult:
        writer: dict[tuple[Any, Any], Operation] = {}
        acked: list[Operation] = []
        reads: list[Operation] = []
        seen: set[tuple[Any, Any]] = set()
        for o in history.operations:
            k = o.invoke.value[0]
            if o.f == "write":
                writer[(k, o.invoke.value[1])] = o
                if o.status == "ok":
                    acked.append(o)
            elif o.f == "read" and o.status == "ok":
                reads.append(o)
                seen.add((k, o.value[1]))
        index = {k: _ReadIndex(rs, writer) for k, rs in _by_key(reads).items()}
        anomalies = []
        for w in acked:
            k, v = w.invoke.value
            w_start, w_end = _span(w)
            if (k, v) in seen or w_end is None or w_start is None or k not in index:
                continue
            r = index[k].first_proof(after=w_end, before=w_start)
            if r is None:
                continue
            got = r.value[1]
            old = writer.get((k, got))
            before = ("nil, the initial value" if got is None else
                      f"{got}, written by p{old.process} via {old.invoke.node} before it began "  # type: ignore[union-attr]
                      f"(completed at {_s(_span(old)[1])})")  # type: ignore[arg-type]
            anomalies.append(Anomaly(
                kind="lost-write",
                summary=(f"key {k}: lost write: write {v} (p{w.process} via {w.invoke.node}) was "
                         f"acknowledged at {_s(w_end)} and no read ever returned it; the read by "
                         f"p{r.process} via {r.invoke.node} at {_s(r.invoke.time)} returned {before}"),
                ops=(w.call_index, w.return_index or w.call_index, r.call_index),
                data={"key": k, "value": v, "node": w.invoke.node, "read_node": r.invoke.node}))
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if anomalies else Verdict.VALID,
                           anomalies=tuple(sorted(anomalies, key=lambda a: a.ops[0])), stats={"acknowledged_writes": len(acked), "lost": len(anomalies)})
