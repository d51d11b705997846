"""Jepsen's set checkers: ``Set`` (one final read) and ``SetFull`` (every read).

Ops: ``add`` with one element as value, ``read`` whose ``ok`` value is the
whole set (a list). Jepsen semantics: a ``fail`` add never happened; an
``info`` add may or may not have.

:class:`Set` (``jepsen.checker/set``) compares the last ``ok`` read with the
adds: *lost* elements were acknowledged but are missing, *unexpected* ones
were never attempted, *recovered* ones were read though their add's outcome
was unknown. Invalid when something was lost or unexpected; unknown when the
set was never read.

:class:`SetFull` (``jepsen.checker/set-full``) follows each element through
every read. Its *known* point is the first completion that proves it exists
(its add's ``ok`` or the first read that saw it). It is *stable* if some read
that saw it began after the last read that missed it, *lost* if a read that
missed it began after both the last read that saw it and its known point,
else *never-read*. A stable element is *stale* when some read that began after
it was known missed it (its stable latency, the time from known to stable, is
positive). Invalid when an element was lost, a read returned an element
twice or one never added, or (``linearizable=True``) one was stale; unknown
when no element is stable. Latencies are in milliseconds, as in Jepsen.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from checkers.api import Anomaly, CheckResult, Verdict
from checkers.inputs import element
from checkers.inputs import elements as checked
from harness.history import History, Op

__all__ = ["Set", "SetFull", "quantiles"]

LIMIT = 8
"""Elements of one kind described in full; the rest are counted."""


def _ref(op: Op | None) -> dict[str, Any] | None:
    if op is None:
        return None
    return {"index": op.index, "time": op.time, "process": op.process, "type": op.type, "value": op.value}




def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _sort(xs: Any) -> list[Any]:
    try:
        return sorted(xs, key=lambda x: (type(x).__name__, x))
    except TypeError:  # tuples of mixed types: any stable order will do for a listing
        return sorted(xs, key=repr)


class Set:
    """``jepsen.checker/set`` (see the module docstring)."""

    def __init__(self, *, name: str = "set"):
        self.name = name

    def check(self, history: History) -> CheckResult:
        attempts, adds, final, final_op = set(), set(), None, None
        for o in history.operations:
            if o.f == "add":
                x = element(history, o.invoke, o.invoke.value, "the added element")
                attempts.add(x)
                if o.status == "ok":
                    adds.add(x)
            elif o.f == "read" and o.status == "ok":
                final, final_op = o.completion.value, o  # type: ignore[union-attr]
        if final_op is None:
            return CheckResult(checker=self.name, verdict=Verdict.UNKNOWN, error="the set was never read",
                               stats={"attempt_count": len(attempts), "acknowledged_count": len(adds)})
        read = set(checked(history, final_op, final, "the final read's value"))
        ok = read & attempts
        unexpected, lost, recovered = read - attempts, adds - read, ok - adds
        stats = {"attempt_count": len(attempts), "acknowledged_count": len(adds), "ok_count": len(ok),
                 "lost_count": len(lost), "recovered_count": len(recovered),
                 "unexpected_count": len(unexpected), "ok": _sort(ok), "lost": _sort(lost),
                 "unexpected": _sort(unexpected), "recovered": _sort(recovered)}
        at = f"the final read (index {final_op.invoke.index}, process {final_op.process})"
        anomalies = []
        if lost:
            anomalies.append(Anomaly(kind="lost", summary=f"{len(lost)} acknowledged element(s) missing from {at}: "
                                                          f"{_sort(lost)[:20]}",
                                     ops=(final_op.invoke.index,), data={"elements": _sort(lost)}))
        if unexpected:
            anomalies.append(Anomaly(kind="unexpected", summary=f"{at} returned {len(unexpected)} element(s) "
                                                                f"never added: {_sort(unexpected)[:20]}",
                                     ops=(final_op.invoke.index,), data={"elements": _sort(unexpected)}))
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if anomalies else Verdict.VALID,
                           anomalies=tuple(anomalies), stats=stats)


@dataclass(slots=True)
class _Element:
    """What ``SetFull`` knows of one element as it walks the history (mutable, private)."""

    element: Any
    add: Op
    known: Op | None = None
    last_present: Op | None = None     # invocation of the latest-invoked read that saw it
    last_absent: Op | None = None      # invocation of the latest-invoked read that missed it


def quantiles(xs: Sequence[float], points: Sequence[float] = (0, 0.5, 0.95, 0.99, 1)) -> dict[str, float] | None:
    """Jepsen's ``frequency-distribution``: the value at each point (0..1) of the sorted ``xs``."""
    s = sorted(xs)
    if not s:
        return None
    n = len(s)
    return {str(p): s[min(n - 1, int(math.floor(n * p)))] for p in points}


def _ms(ns: int) -> int:
    return int(ns / 1_000_000)


class SetFull:
    """``jepsen.checker/set-full`` (see the module docstring)."""

    def __init__(self, *, linearizable: bool = False, name: str = "set-full"):
        self.linearizable = linearizable
        self.name = name

    def check(self, history: History) -> CheckResult:
        invocation = {id(o.completion): o.invoke for o in history.operations if o.completion is not None}
        elements: dict[Any, _Element] = {}
        dups: dict[Any, int] = {}
        unexpected: dict[Any, Op] = {}
        for op in history.ops:
            if op.is_nemesis:
                continue
            if op.f == "add":
                if op.type == "invoke":
                    x = element(history, op, op.value, "the added element")
                    elements[x] = _Element(element=x, add=op)
                elif op.type == "ok" and _hashable(op.value) and op.value in elements:
                    e = elements[op.value]
                    e.known = e.known or op
            elif op.f == "read" and op.type == "ok":
                inv = invocation.get(id(op))
                if inv is None:
                    continue
                vals = checked(history, op, op.value, "the read's value")
                for x, c in Counter(vals).items():
                    if c > 1:
                        dups[x] = max(dups.get(x, 0), c)
                seen = set(vals)
                for x in seen:
                    if x not in elements and x not in unexpected:
                        unexpected[x] = op
                for x, e in elements.items():
                    if x in seen:
                        e.known = e.known or op
                        if e.last_present is None or e.last_present.index < inv.index:
                            e.last_present = inv
                    else:
                        if e.last_absent is None or e.last_absent.index < inv.index:
                            e.last_absent = inv
        return self._results(elements, dups, unexpected)

    def _results(self, elements: dict[Any, _Element], dups: dict[Any, int],
                 unexpected: dict[Any, Op]) -> CheckResult:
        rows = []
        for e in elements.values():
            lp, la, k = e.last_present, e.last_absent, e.known
            stable = lp is not None and (la.index if la else -1) < lp.index
            lost = (k is not None and la is not None and (lp.index if lp else -1) < la.index
                    and k.index < la.index)
            stable_lat = lost_lat = None
            if stable and k is not None and k.time is not None:
                t = la.time + 1 if la is not None and la.time is not None else 0
                stable_lat = _ms(max(0, t - k.time))
            if lost and k is not None and k.time is not None:
                t = lp.time + 1 if lp is not None and lp.time is not None else 0
                lost_lat = _ms(max(0, t - k.time))
            rows.append({"element": e.element, "outcome": "stable" if stable else "lost" if lost else "never-read",
                         "stable_latency": stable_lat, "lost_latency": lost_lat,
                         "known": _ref(k), "last_present": _ref(lp), "last_absent": _ref(la)})
        by = {o: [r for r in rows if r["outcome"] == o] for o in ("stable", "lost", "never-read")}
        stale = [r for r in by["stable"] if (r["stable_latency"] or 0) > 0]
        worst = sorted(stale, key=lambda r: r["stable_latency"], reverse=True)[:LIMIT]
        stats: dict[str, Any] = {
            "attempt_count": len(rows), "stable_count": len(by["stable"]),
            "lost_count": len(by["lost"]), "lost": _sort(r["element"] for r in by["lost"]),
            "never_read_count": len(by["never-read"]), "never_read": _sort(r["element"] for r in by["never-read"]),
            "stale_count": len(stale), "stale": _sort(r["element"] for r in stale), "worst_stale": worst,
            "duplicated_count": len(dups), "duplicated": dups,
            "unexpected_count": len(unexpected), "unexpected": _sort(unexpected),
        }
        for key, col in (("stable_latencies", "stable_latency"), ("lost_latencies", "lost_latency")):
            q = quantiles([r[col] for r in rows if r[col] is not None])
            if q is not None:
                stats[key] = q
        anomalies: list[Anomaly] = []
        for r in by["lost"][:LIMIT]:
            lp = r["last_present"]
            seen = f"last seen by the read invoked at index {lp['index']}" if lp else "never seen by any read"
            anomalies.append(Anomaly(
                kind="lost", summary=f"element {r['element']!r} lost: known to exist at index {r['known']['index']}, "
                                     f"{seen}, missing from the read invoked at index {r['last_absent']['index']} "
                                     f"and every read after it",
                ops=tuple(x["index"] for x in (r["known"], lp, r["last_absent"]) if x), data=r))
        if self.linearizable:
            for r in worst:
                anomalies.append(Anomaly(
                    kind="stale", summary=f"element {r['element']!r} stale for {r['stable_latency']} ms: known at "
                                          f"index {r['known']['index']}, yet the read invoked at index "
                                          f"{r['last_absent']['index']} missed it",
                    ops=(r["known"]["index"], r["last_absent"]["index"]), data=r))
        for x, c in list(dups.items())[:LIMIT]:
            anomalies.append(Anomaly(kind="duplicated", summary=f"element {x!r} appeared {c} times in one read",
                                     data={"element": x, "count": c}))
        for x, op in list(unexpected.items())[:LIMIT]:
            anomalies.append(Anomaly(kind="unexpected", summary=f"the read completed at index {op.index} returned "
                                                                f"{x!r}, which was never added",
                                     ops=(op.index,), data={"element": x, "read": _ref(op)}))
        if anomalies:
            verdict = Verdict.INVALID
        elif not by["stable"]:
            verdict = Verdict.UNKNOWN
        else:
            verdict = Verdict.VALID
        error = "no element was ever stably read" if verdict is Verdict.UNKNOWN else None
        return CheckResult(checker=self.name, verdict=verdict, anomalies=tuple(anomalies), stats=stats, error=error)
