"""Jepsen's queue checkers: ``Queue``, ``TotalQueue`` and ``UniqueIds``.

Ops: ``enqueue`` with an element, ``dequeue`` whose ``ok`` value is the element
taken, ``drain`` whose ``ok`` value is a list of elements taken.

:class:`Queue` (``jepsen.checker/queue`` over an unordered queue): assume every
enqueue that did not fail took effect when invoked and every ``ok`` dequeue
when it completed; each dequeue must find its element there.

:class:`TotalQueue` (``jepsen.checker/total-queue``) compares multisets:
*attempted* enqueues (every invocation), *acknowledged* ones (``ok``) and
*dequeued* elements. ``lost`` = acknowledged - dequeued; ``unexpected`` =
dequeued elements never attempted; ``duplicated`` = dequeued beyond the
attempts, less the unexpected; ``recovered`` = dequeued and attempted but not
acknowledged. Invalid when anything is lost, unexpected or duplicated.

:class:`UniqueIds` (``jepsen.checker/unique-ids``): every ``ok`` ``generate``
must return an id no other returned.
"""

from __future__ import annotations

from collections import Counter as Multiset
from typing import Any

from checkers.api import Anomaly, CheckResult, Verdict
from checkers.inputs import element, elements
from harness.history import History

__all__ = ["Queue", "TotalQueue", "UniqueIds"]


def _taken(history: History, op: Any, op_f: str, value: Any) -> list[Any]:
    if op_f == "drain":
        return elements(history, op, value, "the drained value")
    return [element(history, op, value, f"the {op_f}d element")]


def _sorted(m: Multiset) -> list[Any]:
    try:
        return sorted(m.elements(), key=lambda x: (type(x).__name__, x))
    except TypeError:  # tuples of mixed types: any stable order will do for a listing
        return sorted(m.elements(), key=repr)


class Queue:
    """An unordered queue, folded over the history (see the module docstring)."""

    def __init__(self, *, name: str = "queue"):
        self.name = name

    def check(self, history: History) -> CheckResult:
        failed = {id(o.invoke) for o in history.operations if o.status == "fail"}
        present: Multiset = Multiset()
        for op in history.ops:
            if op.is_nemesis:
                continue
            if op.f == "enqueue" and op.type == "invoke" and id(op) not in failed:
                present[element(history, op, op.value, "the enqueued element")] += 1
            elif op.f in ("dequeue", "drain") and op.type == "ok":
                for x in _taken(history, op, op.f, op.value):
                    if x is None:
                        continue
                    if present[x] <= 0:
                        return CheckResult(checker=self.name, verdict=Verdict.INVALID, anomalies=(Anomaly(
                            kind="unexpected", summary=f"the {op.f} completed at index {op.index} (process "
                                                       f"{op.process}) returned {x!r}, which was not in the queue",
                            ops=(op.index,), data={"element": x}),))
                    present[x] -= 1
        return CheckResult(checker=self.name, verdict=Verdict.VALID,
                           stats={"remaining": _sorted(+present)})


class TotalQueue:
    """``jepsen.checker/total-queue`` (see the module docstring)."""

    def __init__(self, *, name: str = "total-queue"):
        self.name = name

    def check(self, history: History) -> CheckResult:
        attempts: Multiset = Multiset()
        acked: Multiset = Multiset()
        dequeued: Multiset = Multiset()
        for o in history.operations:
            if o.f == "enqueue":
                x = element(history, o.invoke, o.invoke.value, "the enqueued element")
                attempts[x] += 1
                if o.status == "ok":
                    acked[x] += 1
            elif o.f in ("dequeue", "drain") and o.status == "ok":
                for x in _taken(history, o, o.f, o.completion.value):  # type: ignore[union-attr]
                    dequeued[x] += 1
        ok = dequeued & attempts
        unexpected = Multiset({x: c for x, c in dequeued.items() if x not in attempts})
        duplicated = (dequeued - attempts) - unexpected
        lost = acked - dequeued
        recovered = ok - acked
        stats = {"attempt_count": sum(attempts.values()), "acknowledged_count": sum(acked.values()),
                 "ok_count": sum(ok.values()), "lost_count": sum(lost.values()),
                 "unexpected_count": sum(unexpected.values()), "duplicated_count": sum(duplicated.values()),
                 "recovered_count": sum(recovered.values()), "lost": _sorted(lost),
                 "unexpected": _sorted(unexpected), "duplicated": _sorted(duplicated),
                 "recovered": _sorted(recovered)}
        anomalies = []
        for kind, m, what in (("lost", lost, "acknowledged but never dequeued"),
                              ("unexpected", unexpected, "dequeued but never enqueued"),
                              ("duplicated", duplicated, "dequeued more often than enqueued")):
            if m:
                anomalies.append(Anomaly(kind=kind, summary=f"{sum(m.values())} element(s) {what}: "
                                                            f"{_sorted(m)[:20]}", data={"elements": _sorted(m)}))
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if anomalies else Verdict.VALID,
                           anomalies=tuple(anomalies), stats=stats)


class UniqueIds:
    """``jepsen.checker/unique-ids`` (see the module docstring)."""

    def __init__(self, *, name: str = "unique-ids"):
        self.name = name

    def check(self, history: History) -> CheckResult:
        attempted = 0
        ids: Multiset = Multiset()
        where: dict[Any, list[int]] = {}
        for o in history.operations:
            if o.f != "generate":
                continue
            attempted += 1
            if o.status == "ok":
                v = element(history, o, o.completion.value, "the generated id")  # type: ignore[union-attr]
                ids[v] += 1
                where.setdefault(v, []).append(o.completion.index)  # type: ignore[union-attr]
        dups = {v: c for v, c in ids.items() if c > 1}
        vals = sorted(ids, key=lambda x: (type(x).__name__, x))
        stats = {"attempted_count": attempted, "acknowledged_count": sum(ids.values()),
                 "duplicated_count": len(dups), "duplicated": dups,
                 "range": [vals[0], vals[-1]] if vals else [None, None]}
        anomalies = tuple(Anomaly(kind="duplicated", summary=f"id {v!r} was generated {c} times (completions at "
                                                             f"indices {where[v]})", ops=tuple(where[v]),
                                  data={"id": v, "count": c}) for v, c in list(dups.items())[:8])
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if dups else Verdict.VALID,
                           anomalies=anomalies, stats=stats)
