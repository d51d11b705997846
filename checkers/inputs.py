"""What a checker says when an operation's value is not the shape its workload needs.

A checker reads values the workload defines: a set's elements, a counter's
increments, a queue's items. A history from outside (Jepsen, a user's own
recorder, a hostile file) may hold anything there, and a checker that then
raises ``TypeError`` deep inside would turn the user's bad input into a
traceback, or, behind :func:`checkers.api.check_safe`, into "checker crashed".
Instead each checker asks these functions, which raise
:class:`~harness.history.HistoryError` at the file and line of the offending
event, saying which op and what was expected, so ``splitbrain check`` exits 3
with a sentence a person can act on.
"""

from __future__ import annotations

from typing import Any

from harness.history import History, HistoryError, Op, Operation

__all__ = ["bad_input", "element", "elements", "number"]

_SCALARS = (int, float, str, bytes, bool, type(None))


def bad_input(history: History, op: Operation | Op, message: str) -> HistoryError:
    """A :class:`HistoryError` at the file line of ``op`` (an operation: its completion, else its invocation)."""
    if isinstance(op, Operation):
        ev = op.completion if op.completion is not None and op.completion.type == "ok" else op.invoke
    else:
        ev = op
    return HistoryError(f"{message} (op index {ev.index}, process {ev.process})",
                        file=history.source, line=history.line_of(ev))


def _is_element(x: Any) -> bool:
    return isinstance(x, _SCALARS) or (isinstance(x, tuple) and all(_is_element(y) for y in x))


def element(history: History, op: Operation | Op, x: Any, what: str) -> Any:
    """``x`` if it can be an element (a number, string, keyword, nil or a tuple of them), else raise."""
    if _is_element(x):
        return x
    raise bad_input(history, op, f"{what} {x!r} is a {type(x).__name__}; elements must be numbers, "
                                 f"strings or keywords")


def elements(history: History, op: Operation | Op, v: Any, what: str) -> list[Any]:
    """The elements of collection value ``v`` (nil is empty), each checked by :func:`element`."""
    if v is None:
        return []
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple, set, frozenset)):
        raise bad_input(history, op, f"{what} {v!r} is not a collection of elements (a list or a set)")
    return [element(history, op, x, f"an element of {what}") for x in v]


def number(history: History, op: Operation | Op, x: Any, what: str) -> int | float:
    """``x`` if it is a number (not a boolean), else raise."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return x
    raise bad_input(history, op, f"{what} {x!r} is not a number")
