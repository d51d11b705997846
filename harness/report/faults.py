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

__all__ = ["FaultWindow", "fault_windows"]


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


def fault_windows(history: History, *, timed: bool | None = None) -> tuple[FaultWindow, ...]:
    """The fault windows of ``history`` in the order the faults began.

    ``timed`` chooses nanoseconds (``True``) or event indices (``False``); by
    default nanoseconds when every nemesis event has a time.
    """
    from nemesis.windows import fault_windows as nemesis_windows

    if timed is None:
        timed = all(op.time is not None for op in history.nemesis)
    out = []
    for w in nemesis_windows(history.ops):
        if timed and w.start_ns is not None:
            start, end = w.start_ns, w.end_ns
        else:
            start, end = w.start_index, w.end_index
        out.append(FaultWindow(kind=w.kind, start=start, end=end, start_index=w.start_index,
                               end_index=w.end_index, detail=w.detail))
    return tuple(out)
