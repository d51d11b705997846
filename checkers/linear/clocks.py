"""The clocks behind a cause: an older write that won because its node's clock was ahead.

A store that orders writes by its coordinators' wall clocks (last write wins,
as the quorum store's ``seed`` variant does) keeps the write with the higher
timestamp, whatever happened first. When the clock nemesis skewed the nodes
(:mod:`nemesis.clock`), a witness's older write may have beaten a newer one
only because the node that coordinated it had a fast clock. :func:`with_clocks`
adds that to a :class:`~checkers.linear.causes.Cause` (lost write, stale read,
flip-flopping reads) when the history says so:

* the write that won (``wrote the value read``, ``wrote the older value``)
  and the write it beat (``lost write``, ``overwrote it``, ``wrote the newer
  value``) were coordinated by nodes (``Op.node``) whose offsets over each
  write's interval are known from the history's clock events
  (:func:`harness.clock_offsets.clock_spans`);
* the winner's node was ahead of the loser's by more than the time between
  the two writes' invocations: so the older write's wall-clock version was
  the later one.

Then the cause's text gains a sentence with both offsets, and the two writes'
roles name their clocks. Otherwise the cause is returned as it was. A pure
function of the witness and the history, like the rest of the explanation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from checkers.linear.partition import Entry
from harness.clock_offsets import CLOCK_FS, ClockSpan, clock_spans, offset_during, offset_text
from harness.history import History

if TYPE_CHECKING:
    from checkers.linear.causes import Cause

__all__ = ["LOSERS", "WINNERS", "with_clocks"]

WINNERS = ("wrote the value read", "wrote the older value")
"""Roles of the write whose value survived."""
LOSERS = ("lost write", "overwrote it", "wrote the newer value")
"""Roles of the newer write it beat."""

_PATTERNS = ("lost-write", "stale-read", "flip-flop")


def _offset(spans: dict[str, list[ClockSpan]], e: Entry) -> tuple[str, tuple[float, float]] | None:
    o = e.op
    node = o.invoke.node or (o.completion.node if o.completion is not None else None)
    end = o.completion.time if o.completion is not None else None
    got = offset_during(spans, node, o.invoke.time, end)
    return None if got is None or node is None else (node, got)


def with_clocks(cause: "Cause", witness: Sequence[Entry], history: History | None) -> "Cause":
    """``cause`` with the clock offsets that explain it, when they do (see the module docstring)."""
    if history is None or cause.pattern not in _PATTERNS or not any(op.f in CLOCK_FS for op in history.nemesis):
        return cause
    from checkers.linear.causes import Cause, op_phrase  # causes imports this module

    spans = clock_spans(history.nemesis)
    by_index = {x.op.invoke.index: x for x in witness}
    winners = [by_index[i] for i, r in cause.roles.items() if r in WINNERS and i in by_index]
    losers = [by_index[i] for i, r in cause.roles.items() if r in LOSERS and i in by_index]
    for w in losers:
        wo = _offset(spans, w)
        if wo is None or w.op.invoke.time is None:
            continue
        for m in winners:
            mo = _offset(spans, m)
            if mo is None or m.op.invoke.time is None or m.op.invoke.time > w.op.invoke.time:
                continue
            (m_node, (m_lo, m_hi)), (w_node, (w_lo, w_hi)) = mo, wo
            ahead_ms = m_lo - w_hi
            gap_ms = (w.op.invoke.time - m.op.invoke.time) / 1e6
            if ahead_ms <= gap_ms:
                continue
            text = (f" The clocks explain it: {op_phrase(m)} was versioned by {m_node}'s clock, then "
                    f"{offset_text(m_lo, m_hi)} off the host's, and {op_phrase(w)}, begun {gap_ms / 1000:.3f} s "
                    f"later, by {w_node}'s, at {offset_text(w_lo, w_hi)}: {m_node}'s clock was {ahead_ms:.0f} ms "
                    f"ahead, more than the time between them, so the older write carried the later wall-clock "
                    f"version and last-write-wins kept it.")
            roles = dict(cause.roles)
            roles[m.op.invoke.index] = f"{roles[m.op.invoke.index]} ({m_node} clock {offset_text(m_lo, m_hi)})"
            roles[w.op.invoke.index] = f"{roles[w.op.invoke.index]} ({w_node} clock {offset_text(w_lo, w_hi)})"
            return Cause(pattern=cause.pattern, text=cause.text + text, roles=roles, failed=cause.failed)
    return cause
