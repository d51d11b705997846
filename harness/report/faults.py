"""Fault windows: when each injected fault was in effect, from the nemesis events.

The contract (``docs/DESIGN.md``, "Nemesis events in the history"): each nemesis
action is two ``info`` events of process ``"nemesis"`` with the same ``f``, the
first when the nemesis starts acting, the second when the action is in effect.
The nemesis is one sequential process, so the two events of one action are
adjacent among the nemesis events.

A window opens at the *first* event of a fault (``start-partition``, ``kill``,
``pause``) and closes at the last event of the action that undoes it
(``stop-partition``, ``start``, ``resume``): shading from the moment the nemesis
began acting until the heal was in effect never hides an operation that may
have been affected. A fault never healed has ``end_ns = None`` (it lasted to the
end of the history).

The report and the charts use these windows only for shading and tables; they
never change a verdict.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

from harness.history import History, Op

__all__ = ["FAULT_PAIRS", "FaultWindow", "fault_windows"]

FAULT_PAIRS: dict[str, tuple[str, str]] = {
    # fault kind: (f that starts it, f that ends it)
    "partition": ("start-partition", "stop-partition"),
    "kill": ("kill", "start"),
    "pause": ("pause", "resume"),
}
_KIND_BY_START = {start: kind for kind, (start, _) in FAULT_PAIRS.items()}
_KIND_BY_END = {end: kind for kind, (_, end) in FAULT_PAIRS.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultWindow:
    """One fault, from the nemesis starting it until its heal was in effect.

    ``start``/``end`` are the event positions used on the charts' x axis:
    nanoseconds when the history has times, else event indices. ``detail`` is
    the value of the event saying what the fault did (the second event of the
    starting action when present), as recorded: it came from the system under
    test's harness and is rendered escaped.
    """

    kind: str
    start: int
    end: int | None
    start_index: int
    end_index: int | None
    detail: Any = None


def _position(op: Op, timed: bool) -> int:
    return op.time if (timed and op.time is not None) else op.index


def _actions(events: Sequence[Op]) -> list[tuple[Op, Op | None]]:
    """Group adjacent same-``f`` nemesis events into (first, second) actions."""
    out: list[tuple[Op, Op | None]] = []
    i = 0
    while i < len(events):
        first = events[i]
        if i + 1 < len(events) and events[i + 1].f == first.f:
            out.append((first, events[i + 1]))
            i += 2
        else:
            out.append((first, None))
            i += 1
    return out


def fault_windows(history: History, *, timed: bool | None = None) -> tuple[FaultWindow, ...]:
    """The fault windows of ``history``, in the order the faults began.

    ``timed`` chooses nanoseconds (``True``) or event indices (``False``) for
    ``start``/``end``; by default nanoseconds when every nemesis event has a time.
    Stops with no fault open (a final heal of nothing) are ignored; several
    faults of one kind open at once close first-in, first-out.
    """
    events = [op for op in history.nemesis if op.process == "nemesis"]
    if timed is None:
        timed = all(op.time is not None for op in events)
    open_: dict[str, deque[tuple[Op, Op | None]]] = {kind: deque() for kind in FAULT_PAIRS}
    done: list[FaultWindow] = []
    for first, second in _actions(events):
        if first.f in _KIND_BY_START:
            open_[_KIND_BY_START[first.f]].append((first, second))
        elif first.f in _KIND_BY_END:
            kind = _KIND_BY_END[first.f]
            if not open_[kind]:
                continue
            s_first, s_second = open_[kind].popleft()
            last = second if second is not None else first
            done.append(_window(kind, s_first, s_second, last, timed))
    for kind, pending in open_.items():
        for s_first, s_second in pending:
            done.append(_window(kind, s_first, s_second, None, timed))
    return tuple(sorted(done, key=lambda w: (w.start, w.start_index)))


def _window(kind: str, first: Op, second: Op | None, end: Op | None, timed: bool) -> FaultWindow:
    detail = second.value if second is not None else first.value
    return FaultWindow(
        kind=kind,
        start=_position(first, timed),
        end=None if end is None else _position(end, timed),
        start_index=first.index,
        end_index=None if end is None else end.index,
        detail=detail,
    )
