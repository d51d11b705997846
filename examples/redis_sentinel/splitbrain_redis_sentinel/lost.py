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

from dataclasses import dataclass
from typing import Any

from checkers.api import Anomaly, CheckResult, Verdict
from harness import History, Operation

__all__ = ["LostWrites"]

def _s(ns: int | None) -> str:
    return "?" if ns is None else f"{ns / 1e9:.3f} s"


def _span(o: Operation) -> tuple[int | None, int | None]:
    return o.invoke.time, (o.completion.time if o.completion is not None else None)


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
        anomalies = []
        for w in acked:
            k, v = w.invoke.value
            w_start, w_end = _span(w)
            if (k, v) in seen or w_end is None:
                continue
            for r in reads:
                r_start, _ = _span(r)
                if r.invoke.value[0] != k or r_start is None or r_start <= w_end:
                    continue
                got = r.value[1]
                old = writer.get((k, got))
                if got is not None and (old is None or old.status != "ok" or _span(old)[1] is None
                                        or _span(old)[1] >= w_start):  # type: ignore[operator]
                    continue
                before = ("nil, the initial value" if got is None else
                          f"{got}, written by p{old.process} via {old.invoke.node} before it began "
                          f"(completed at {_s(_span(old)[1])})")
                anomalies.append(Anomaly(
                    kind="lost-write",
                    summary=(f"key {k}: lost write: write {v} (p{w.process} via {w.invoke.node}) was "
                             f"acknowledged at {_s(w_end)} and no read ever returned it; the read by "
                             f"p{r.process} via {r.invoke.node} at {_s(r_start)} returned {before}"),
                    ops=(w.call_index, w.return_index or w.call_index, r.call_index),
                    data={"key": k, "value": v, "node": w.invoke.node, "read_node": r.invoke.node}))
                break
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if anomalies else Verdict.VALID,
                           anomalies=tuple(sorted(anomalies, key=lambda a: a.ops[0])), stats={"acknowledged_writes": len(acked), "lost": len(anomalies)})
