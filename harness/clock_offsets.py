"""Per-node clock offsets over time, read back from a history's clock nemesis events.

The clock nemesis (:mod:`nemesis.clock`) records what it did in its
completions: ``"offsets_ms": {node: ms}``, the offset each node's clock was
*verified* to have once the op was done (nodes whose skew did not take effect
are absent). :func:`clock_spans` turns those into, per node, consecutive
:class:`ClockSpan`s: the offset is known exactly between ops, and only within
a range while an op was being applied, from its invocation to its completion
(a bump may have landed at any moment of it; a strobe swung the clock between
its base and ``base + delta`` throughout). Every node starts at 0, the host's
clock.

Pure functions of the history, so a checker can explain an anomaly with the
offsets in effect (:mod:`checkers.linear.causes`) and the report can plot
them, both from the stored history alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from harness.history import NEMESIS, Op

__all__ = ["BUMP", "CLOCK_FS", "ClockSpan", "OFFSET", "RESET", "STROBE", "clock_spans", "offset_during",
           "offset_text"]

OFFSET = "clock-offset"
BUMP = "clock-bump"
STROBE = "clock-strobe"
RESET = "clock-reset"
CLOCK_FS: tuple[str, ...] = (OFFSET, BUMP, STROBE, RESET)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSpan:
    """``node``'s clock was ``lo_ms``..``hi_ms`` ahead of the host's from ``start_ns`` to ``end_ns``.

    ``end_ns`` None: until the history ends. ``lo_ms == hi_ms`` when it is exact.
    """

    node: str
    start_ns: int
    end_ns: int | None
    lo_ms: float
    hi_ms: float

    @property
    def exact(self) -> bool:
        return self.lo_ms == self.hi_ms


def _offsets(value: Any) -> dict[str, float]:
    got = value.get("offsets_ms") if isinstance(value, Mapping) else None
    if not isinstance(got, Mapping):
        return {}
    return {str(n): float(ms) for n, ms in got.items() if isinstance(ms, (int, float))}


def _strobe(value: Any, node: str) -> tuple[float, float] | None:
    """``(delta_ms, duration_ms)`` of a strobe of ``node`` this completion started; None otherwise."""
    s = value.get("strobe") if isinstance(value, Mapping) else None
    if not isinstance(s, Mapping) or node not in (s.get("nodes") or ()):
        return None
    d, t = s.get("delta_ms"), s.get("duration_ms")
    if not isinstance(d, (int, float)) or not isinstance(t, (int, float)):
        return None
    return float(d), float(t)


@dataclass(slots=True)
class _Now:
    """A node's clock since ``since``: ``offset``, strobing up to ``+ delta`` until ``until`` if set."""

    since: int
    offset: float
    until: int | None = None
    delta: float = 0.0

    def spans(self, node: str, end: int | None) -> list[ClockSpan]:
        """Its spans from ``since`` to ``end`` (None: open-ended)."""
        out: list[ClockSpan] = []
        since = self.since
        if self.until is not None:
            stop = self.until if end is None else min(self.until, end)
            if stop > since:
                lo, hi = sorted((self.offset, self.offset + self.delta))
                out.append(ClockSpan(node=node, start_ns=since, end_ns=stop, lo_ms=lo, hi_ms=hi))
                since = stop
        if end is None or end > since:
            out.append(ClockSpan(node=node, start_ns=since, end_ns=end, lo_ms=self.offset, hi_ms=self.offset))
        return out


def clock_spans(ops: Iterable[Op]) -> dict[str, list[ClockSpan]]:
    """Per node with a clock op, its spans in time order (empty when the history has no clock op).

    A strobe (``"strobe": {"delta_ms", "duration_ms"}`` beside its base
    ``offsets_ms``) is a range from its invocation until its duration has
    passed after its completion, or the node's next clock op began.
    """
    pending: dict[str, Op] = {}
    current: dict[str, _Now] = {}
    spans: dict[str, list[ClockSpan]] = {}
    for op in ops:
        if op.process != NEMESIS or op.f not in CLOCK_FS:
            continue
        if op.f not in pending:
            pending[op.f] = op
            continue
        inv = pending.pop(op.f)
        t0 = inv.time if inv.time is not None else 0
        t1 = op.time if op.time is not None else t0
        for node, new in _offsets(op.value).items():
            now = current.get(node, _Now(since=0, offset=0.0))
            out = spans.setdefault(node, [])
            out.extend(now.spans(node, t0))
            during = [now.offset, new]
            strobe = _strobe(op.value, node)
            if strobe is not None:
                during.append(new + strobe[0])
            if t1 > t0:
                out.append(ClockSpan(node=node, start_ns=t0, end_ns=t1, lo_ms=min(during), hi_ms=max(during)))
            current[node] = (_Now(since=t1, offset=new, until=t1 + int(strobe[1] * 1e6), delta=strobe[0])
                             if strobe is not None else _Now(since=t1, offset=new))
    for node, now in current.items():
        spans.setdefault(node, []).extend(now.spans(node, None))
    return spans


def offset_during(spans: Mapping[str, Sequence[ClockSpan]], node: str | None, start_ns: int | None,
                  end_ns: int | None) -> tuple[float, float] | None:
    """The range of ``node``'s offset over ``[start_ns, end_ns]``; None when the history cannot tell.

    A node no clock op touched is at 0 throughout when the history has any
    clock op; ``None`` without clock ops, node or times.
    """
    if not spans or node is None or start_ns is None:
        return None
    end = end_ns if end_ns is not None else start_ns
    mine = spans.get(node)
    if not mine:
        return (0.0, 0.0)
    lo = hi = None
    for s in mine:
        if s.start_ns <= end and (s.end_ns is None or s.end_ns >= start_ns):
            lo = s.lo_ms if lo is None else min(lo, s.lo_ms)
            hi = s.hi_ms if hi is None else max(hi, s.hi_ms)
    if lo is None or hi is None:
        return (0.0, 0.0)  # before its first op
    return (lo, hi)


def offset_text(lo: float, hi: float | None = None) -> str:
    """``+5000 ms``, ``-250 ms``, ``+0..+800 ms`` (a range while a skew was being applied)."""
    def one(ms: float) -> str:
        return f"{ms:+.0f}" if round(ms) != 0 else "+0"
    if hi is None or round(hi) == round(lo):
        return f"{one(lo)} ms"
    return f"{one(lo)}..{one(hi)} ms"
