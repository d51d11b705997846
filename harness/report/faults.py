"""Fault windows on the report's x axis, from :func:`nemesis.windows.fault_windows`.

The runner's progress display, ``results.json``'s ``faults`` and this report
all read faults through ``nemesis.windows.fault_windows``, so the three agree
(a window is in effect from the event confirming the fault to the event
confirming its heal; see that module for the exact rules). This module only
places each window on the report's x axis: nanoseconds when the history has
times, else event indices (imported histories without times). A fault never
healed has ``end = None`` and is shaded to the end of the history.

The report uses windows only for shading and a table; they never change a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.history import History

__all__ = ["FaultWindow", "fault_text", "fault_windows"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultWindow:
    """One fault as drawn: ``start``/``end`` are x positions (ns or event index).

    ``detail`` is what the fault did, as recorded; it is rendered escaped.
    """

    kind: str
    start: int
    end: int | None
    start_index: int
    end_index: int | None
    detail: Any = None


def fault_text(detail: Any) -> str:
    """What a fault did, for people: ``n1 n2 | n3 n4 n5 (halves)``, ``n3 n5``; never raw JSON.

    Partitions carry the grudge's ``summary`` (its sides) and ``kind``; kills
    and pauses the ``nodes`` hit; anything else is written in the values'
    notation (:func:`harness.notation.value_text`).
    """
    from harness.notation import value_text

    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        if isinstance(detail.get("summary"), str):
            kind = detail.get("kind")
            return detail["summary"] + (f" ({kind})" if isinstance(kind, str) and kind else "")
        nodes = detail.get("nodes", detail.get("killed", detail.get("paused")))
        if isinstance(nodes, list) and all(isinstance(n, str) for n in nodes):
            return " ".join(nodes) or "no node"
    if isinstance(detail, list) and all(isinstance(n, str) for n in detail):
        return " ".join(detail)
    return value_text(detail, 120)


def fault_windows(history: History, *, timed: bool | None = None) -> tuple[FaultWindow, ...]:
    """The fault windows of ``history`` in the order the faults began.

    ``timed`` chooses nanoseconds (``True``) or event indices (``False``); by
    default nanoseconds when every nemesis event has a time.
    """
    from nemesis.windows import fault_windows as nemesis_windows

    if timed is None:
        timed = all(op.time is not None for op in history.nemesis)
    out = []
    for w in nemesis_windows(history.nemesis):  # every nemesis event is there, in order: no scan of all ops
        if timed and w.start_ns is not None:
            start, end = w.start_ns, w.end_ns
        else:
            start, end = w.start_index, w.end_index
        out.append(FaultWindow(kind=w.kind, start=start, end=end, start_index=w.start_index,
                               end_index=w.end_index, detail=w.detail))
    return tuple(out)
