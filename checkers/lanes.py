"""Lane traces: what happened to one order or transaction, per service, against time, as anomaly data.

The saga and atomic-commit checkers name orders and transactions; for each
one named they put a *lane trace* into ``Anomaly.data["lanes"]`` (a list, one
per subject), and the report (:mod:`harness.report.lanes`) and the terminal
render it. The trace is plain JSON::

    {"subject": "o17", "title": "order o17 (key k.., u3, total 250, now PENDING)",
     "lanes": ["client", "orchestrator", "order", "inventory", "payment"],
     "events": [LaneEvent.to_json(), ...],   # in time order
     "faults": [FaultSpan.to_json(), ...],   # those overlapping the subject's span
     "end": run seconds of the final read (open bars end there)}

Times are seconds since the run began (the history's clock: node wall times
are aligned by the final read's ``now`` and its completion time). A
:class:`LaneEvent` with ``end`` is a span (a call, a held lock), without one
an instant (a row written, a crash); a ``message`` event goes from ``lane`` to
``to`` and back: sent at ``at``, received at ``peer_at`` when the receiver
recorded it, answered at ``end``.

Pure data and pure functions; the checkers decide what goes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from harness.history import History

__all__ = ["EVENT_KINDS", "FaultSpan", "LaneEvent", "crash_events", "crashes_near", "fault_phrase", "fault_spans",
           "lane_trace", "overlapping", "refine_offset", "when"]

EVENT_KINDS = ("step", "compensation", "message", "decision", "lock", "crash", "restart", "client", "state")
"""``step``/``compensation``: a saga's forward step or its undoing; ``message``: a request and its
answer; ``decision``: a coordinator's commit/abort; ``lock``: a participant holding a prepared
transaction; ``crash``/``restart``: a node dying at a crash point or coming back; ``client``: what a
client sent and was told; ``state``: what the final read found (drawn at the end)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneEvent:
    """One thing on one lane (see the module docstring)."""

    lane: str
    at: float
    what: str
    kind: str
    end: float | None = None
    outcome: str = "ok"  # ok | refused | unreachable | no (a NO vote) | lost
    to: str | None = None
    peer_at: float | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"lane": self.lane, "at": round(self.at, 4), "what": self.what, "kind": self.kind,
                             "outcome": self.outcome}
        for k in ("end", "peer_at"):
            v = getattr(self, k)
            if v is not None:
                d[k] = round(v, 4)
        if self.to is not None:
            d["to"] = self.to
        if self.detail:
            d["detail"] = self.detail
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpan:
    """A fault in effect from ``start`` to ``end`` (run seconds; ``None``: never healed) on ``nodes``.

    A ``crash`` fault is a crash point armed (``point``) from its arming to its disarming.
    """

    kind: str
    start: float
    end: float | None
    nodes: tuple[str, ...]
    what: str
    point: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = {"kind": self.kind, "start": round(self.start, 4),
             "end": None if self.end is None else round(self.end, 4), "nodes": list(self.nodes), "what": self.what}
        if self.point is not None:
            d["point"] = self.point
        return d


def fault_spans(history: History) -> tuple[FaultSpan, ...]:
    """Every fault window of ``history`` (:func:`nemesis.windows.fault_windows`) in run seconds."""
    from nemesis.windows import fault_windows

    return tuple(FaultSpan(kind=w.kind, start=w.start_ns / 1e9, end=None if w.end_ns is None else w.end_ns / 1e9,
                           nodes=tuple(w.nodes), what=w.describe(),
                           point=str(w.detail["point"]) if w.kind == "crash" and isinstance(w.detail, dict)
                           and w.detail.get("point") else None)
                 for w in fault_windows(history.ops) if w.start_ns is not None)


CRASH_FS = ("crash-fired", "crash", "crash-point")
RESTART_FS = ("restart",)


def crash_events(history: History, lanes: Mapping[str, str], offset: float | None = None
                 ) -> list[tuple[float, LaneEvent]]:
    """Crash-point firings and restarts recorded as nemesis events (``crash-fired``, ``restart``).

    ``lanes`` maps node names to lanes; events naming no known node are dropped. Each is
    recorded as a pair of equal events (docs/DESIGN.md), taken once. A firing is placed at its
    ``at`` (the node's wall clock) plus ``offset`` when both are known, else when it was recorded.
    Returned with their time so callers can merge them with the nodes' own records.
    """
    out: list[tuple[float, LaneEvent]] = []
    seen: set[tuple[Any, ...]] = set()
    for e in history.nemesis:
        if e.time is None or (e.f not in CRASH_FS and e.f not in RESTART_FS):
            continue
        v = e.value if isinstance(e.value, dict) else {}
        nodes = v.get("nodes") or ([v["node"]] if isinstance(v.get("node"), str) else [])
        point = v.get("point") or v.get("crash-point")
        once = (e.f, str(v.get("node")), str(point), str(v.get("arm")), str(v.get("at")))
        if once in seen:
            continue
        seen.add(once)
        at = v.get("at")
        for n in nodes if isinstance(nodes, list) else []:
            lane = lanes.get(str(n))
            if lane is None:
                continue
            t = e.time / 1e9
            if e.f in CRASH_FS:
                if isinstance(at, (int, float)) and offset is not None:
                    t = float(at) + offset
                order = f" (in {v['order']})" if v.get("order") is not None else ""
                out.append((t, LaneEvent(lane=lane, at=t, kind="crash", outcome="lost",
                                         what=f"✗ {point}" if point else "✗ crash", detail=f"{n} crashed"
                                         + (f" at crash point `{point}`" if point else "") + order)))
            else:
                down = v.get("down_s")
                out.append((t, LaneEvent(lane=lane, at=t, kind="restart", what="restart",
                                         detail=f"{n} back" + (f" after {down:.2f} s" if isinstance(
                                             down, (int, float)) else ""))))
    return out


def crashes_near(records: Iterable[Mapping[str, Any]], extra: Iterable[LaneEvent], *, subject: str,
                 span: tuple[float, float] | None, slack: tuple[float, float],
                 lane_of: Callable[[str], str], t: Callable[[Any], float | None], in_word: str = "in"
                 ) -> list[LaneEvent]:
    """The crash points one subject's lanes show: the nodes' own records, then the history's.

    ``records`` are the nodes' ``{node, point, order, at}`` firings (``at`` node wall seconds,
    ``t`` turns it into run seconds). A firing is shown when it names ``subject``, or when it
    falls within ``span`` (the subject's first to last event) widened by ``slack`` (before,
    after): a node that died while the subject ran ended it too. ``extra`` (from
    :func:`crash_events`) are added within the same window unless a node record already put a
    crash on that lane within 0.5 s.
    """
    before, after = slack

    def near(at: float) -> bool:
        return span is not None and span[0] - before <= at <= span[1] + after

    out: list[LaneEvent] = []
    for c in records:
        at = t(c.get("at"))
        node = str(c.get("node"))
        ours = str(c.get("order")) == subject
        if at is None or not (ours or near(at)):
            continue
        out.append(LaneEvent(lane=lane_of(node), at=at, kind="crash", outcome="lost", what=f"✗ {c.get('point')}",
                             detail=f"{node} crashed at crash point `{c.get('point')}`"
                             + ("" if ours else f" ({in_word} {c.get('order')})")))
    for e in extra:
        if near(e.at) and not any(o.lane == e.lane and abs(o.at - e.at) < 0.5 for o in out if e.kind == "crash"):
            out.append(e)
    return out


def refine_offset(offset: float, spans: Iterable[tuple[float, float, float, float]]) -> float:
    """``offset`` (node wall seconds -> run seconds) moved just enough to be consistent with ``spans``.

    Each span is ``(client_start, client_end, node_start, node_end)``: a client op (run seconds)
    during which the node did something (wall seconds), so ``client_start <= node_start + offset``
    and ``node_end + offset <= client_end``. The final read's offset is late by the time its big
    answer took to encode and travel (0.4 s seen on a loaded machine); the spans bound the true
    one, often to a millisecond. Returned unchanged when it already fits, or when the spans
    contradict each other (then they say nothing trustworthy).
    """
    lo, hi = float("-inf"), float("inf")
    for cs, ce, ns, ne in spans:
        lo, hi = max(lo, cs - ns), min(hi, ce - ne)
    if lo > hi:
        return offset
    return min(max(offset, lo), hi)


def overlapping(faults: Iterable[FaultSpan], lo: float, hi: float, slack: float = 1.0) -> list[FaultSpan]:
    """The faults in effect at some time in ``[lo - slack, hi + slack]``."""
    return [f for f in faults if f.start <= hi + slack and (f.end is None or f.end >= lo - slack)]


def fault_phrase(f: Mapping[str, Any]) -> str:
    """A fault of a lane trace in words: ``the orchestrator was killed at 4.56 s (until 9.42 s)``."""
    nodes = " and ".join(f.get("nodes") or []) or "?"
    until = "still in effect at the end" if f.get("end") is None else f"until {when(f['end'])}"
    if f.get("kind") == "crash" and f.get("point"):
        until = "never disarmed" if f.get("end") is None else f"disarmed at {when(f['end'])}"
        return f"crash point `{f['point']}` armed on the {nodes} at {when(f.get('start'))} ({until})"
    verb = {"kill": f"the {nodes} was killed", "pause": f"the {nodes} was paused"}.get(str(f.get("kind")))
    return f"{verb or str(f.get('what'))} at {when(f.get('start'))} ({until})"


def when(t: float | None) -> str:
    return "?" if t is None else f"{t:.2f} s"


def lane_trace(*, subject: str, title: str, lanes: Sequence[str], events: Iterable[LaneEvent],
               faults: Iterable[FaultSpan], end: float | None,
               lane_of: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON trace of one subject: events in time order, only the faults overlapping them.

    ``lane_of`` maps node names to lanes (default: a node is the lane of its name); each fault
    gets ``lanes``, the lanes of the nodes it hit (a partition: usually all of them).
    """
    evs = sorted(events, key=lambda e: e.at)
    times = [t for e in evs if e.kind != "state" for t in (e.at, e.end) if t is not None]
    near = overlapping(faults, min(times), max(times)) if times else []
    lane_of = dict(lane_of or {})
    shown = []
    for f in near:
        d = f.to_json()
        d["lanes"] = [ln for ln in lanes if ln in {lane_of.get(n, n) for n in f.nodes}]
        shown.append(d)
    return {"subject": subject, "title": title, "lanes": list(lanes), "events": [e.to_json() for e in evs],
            "faults": shown, "end": None if end is None else round(end, 4)}
