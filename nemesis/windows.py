"""Fault windows: when each fault was in effect, read back from a history.

The runner's progress display, ``results.json``'s ``faults`` and the HTML
report all show faults through :func:`fault_windows`, so the three agree.

Each fault is a pair of nemesis events (see docs/DESIGN.md): the first says
what the nemesis is about to do, the second what it did. A window opens at the
*second* event of a fault (``start-partition``, ``kill``, ``pause``), and only
if that event claims the fault: for partitions ``"verified": true`` (the
probes saw every cut link drop traffic); for kill and pause a non-empty list of
the nodes it acted on; otherwise no ``error``. It closes at the second event
of the matching heal (``stop-partition``, ``start``, ``resume``) that
succeeded; a window still open when the history ends has ``end_ns = None``
(never healed, e.g. the run was killed).

Kill and pause windows close per node: ``start {"nodes": ["n2"]}`` closes a
window of ``kill ["n2", "n4"]`` only once n4 is back as well. A heal event with
no node list closes every open window of its kind.

Crash points (:mod:`nemesis.crashpoints`): a window of kind ``crash`` per
arming, from the ``arm-crash`` that wrote the node's control file to the
``disarm-crash`` that emptied it (which closes it even when it also reports
that the node did not come back). Its ``detail`` is ``{"node", "point",
"arm", "outcome", "order", "fired_ns", "restart_ns"}``, read from the
``crash-fired``, ``restart`` and ``disarm-crash`` events of the same arming:
``outcome`` is ``"fired"``, ``"armed, never reached"`` or, never disarmed,
``"armed"``.

Histories imported from Jepsen often use a bare ``start``/``stop`` pair for
one generic fault; when a history has nemesis ``stop`` events, ``start`` and
``stop`` are read that way, as kind ``"fault"``.

Clock skews (:mod:`nemesis.clock`) open a ``clock`` window at a verified
``clock-offset``, ``clock-bump`` or ``clock-strobe`` (detail: the offsets,
the strobe) and close per node at ``clock-reset``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from harness.history import NEMESIS, Op

__all__ = ["FaultWindow", "fault_windows"]

# f -> (kind, opens a window?)
_ROLES: dict[str, tuple[str, bool]] = {
    "start-partition": ("partition", True),
    "stop-partition": ("partition", False),
    "kill": ("kill", True),
    "start": ("kill", False),
    "pause": ("pause", True),
    "resume": ("pause", False),
    "start-packet": ("packet", True),
    "stop-packet": ("packet", False),
    "clock-offset": ("clock", True),
    "clock-bump": ("clock", True),
    "clock-strobe": ("clock", True),
    "clock-reset": ("clock", False),
    "arm-crash": ("crash", True),
    "disarm-crash": ("crash", False),
}
_JEPSEN_ROLES: dict[str, tuple[str, bool]] = {"start": ("fault", True), "stop": ("fault", False)}


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultWindow:
    """One fault, from when it was in effect until it was healed.

    ``kind``         ``"partition"``, ``"kill"``, ``"pause"``, ``"packet"``, ``"crash"``
                     (or ``"fault"``, see above).
    ``start_ns``     time of the event that confirmed the fault (``None``: history has no times).
    ``end_ns``       time of the event that confirmed the heal; ``None`` if never healed.
    ``detail``       what the fault was: for partitions the grudge kind, summary and
                     links cut; for kill and pause the nodes.
    ``nodes``        the nodes affected (for partitions: every node that lost a link).
    ``start_index``  ``Op.index`` of the confirming event; ``end_index`` of the heal's.
    """

    kind: str
    start_ns: int | None
    end_ns: int | None
    detail: Any
    nodes: tuple[str, ...]
    start_index: int
    end_index: int | None = None

    def describe(self) -> str:
        """The fault in a few words: ``partition n1 n2 | n3 n4 n5``, ``kill n2 n4``.

        A partition is shown as its sides (the grudge's summary), not as the
        list of nodes that lost a link, which is usually every node.
        """
        d = self.detail if isinstance(self.detail, dict) else {}
        what = str(d.get("summary") or "") if self.kind == "partition" else ""
        if self.kind == "crash" and d.get("point"):
            what = f"{' '.join(self.nodes)} at {d['point']} ({d.get('outcome', 'armed')})"
        return f"{self.kind} {what or ' '.join(self.nodes)}".rstrip()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start_ns": self.start_ns, "end_ns": self.end_ns,
                "detail": self.detail, "nodes": list(self.nodes),
                "start_index": self.start_index, "end_index": self.end_index}


@dataclass(slots=True, kw_only=True)
class _Open:
    window: FaultWindow
    remaining: set[str] = field(default_factory=set)


def _claimed(kind: str, op: Op) -> bool:
    """Whether a confirming event says its fault (or heal) is in effect.

    A ``verified`` flag decides when present (an error beside it is a warning,
    e.g. uncut links that drop traffic too); kill and pause claim the nodes
    they name even when others failed; anything else claims when error-free.
    """
    v = op.value
    if kind == "crash" and op.f == "disarm-crash":
        return True  # disarmed, even if the disarm also says the node is not back
    if isinstance(v, dict) and "verified" in v:
        return v["verified"] is True
    if kind in ("kill", "pause") and _value_nodes(v) is not None:
        return bool(_value_nodes(v))
    return op.error is None


def _value_nodes(value: Any) -> list[str] | None:
    if isinstance(value, dict) and isinstance(value.get("nodes"), list):
        return [str(n) for n in value["nodes"]]
    if isinstance(value, dict) and isinstance(value.get("offsets_ms"), dict):  # clock ops
        return [str(n) for n in value["offsets_ms"]]
    return None


def _opening(kind: str, op: Op) -> FaultWindow | None:
    v = op.value
    if kind == "partition":
        links = v.get("links", []) if isinstance(v, dict) else []
        nodes = sorted({str(n) for link in links for n in link})
        detail = ({k: v[k] for k in ("kind", "summary", "links") if k in v}
                  if isinstance(v, dict) else v)
    elif kind in ("kill", "pause"):
        got = _value_nodes(v)
        if got is not None and not got:
            return None  # acted on no node: nothing in effect
        nodes = sorted(got or [])
        detail = {"nodes": nodes} if got is not None else v
    elif kind == "crash":
        nodes = sorted(_value_nodes(v) or [])
        detail = {k: v.get(k) for k in ("node", "point", "arm")} if isinstance(v, dict) else v
    elif kind == "packet":
        nodes = sorted(_value_nodes(v) or [])
        detail = {k: v[k] for k in ("nodes", "behaviour") if k in v} if isinstance(v, dict) else v
    elif kind == "clock":
        nodes = sorted(_value_nodes(v) or [])
        detail = {k: v[k] for k in ("offsets_ms", "strobe") if k in v} if isinstance(v, dict) else v
    else:
        nodes, detail = [], v
    return FaultWindow(kind=kind, start_ns=op.time, end_ns=None, detail=detail,
                       nodes=tuple(nodes), start_index=op.index)


def fault_windows(ops: Iterable[Op]) -> list[FaultWindow]:
    """The fault windows of a history (its events in order), sorted by start.

    Client events are ignored, so a whole history may be passed.
    """
    events = [op for op in ops if op.process == NEMESIS]
    roles = dict(_ROLES)
    if any(op.f == "stop" for op in events):
        roles.update(_JEPSEN_ROLES)
    pending: dict[str, Op] = {}
    open_: dict[str, list[_Open]] = {}
    done: list[FaultWindow] = []

    def close(o: _Open, op: Op) -> None:
        done.append(FaultWindow(kind=o.window.kind, start_ns=o.window.start_ns,
                                end_ns=op.time, detail=o.window.detail,
                                nodes=o.window.nodes, start_index=o.window.start_index,
                                end_index=op.index))

    for op in events:
        role = roles.get(op.f)
        if role is None:
            continue
        if op.f not in pending:
            pending[op.f] = op  # the first event: the nemesis is about to act
            continue
        del pending[op.f]       # the second event: what it did
        kind, opens = role
        if not _claimed(kind, op):
            continue
        if opens:
            w = _opening(kind, op)
            if w is not None:
                open_.setdefault(kind, []).append(_Open(window=w, remaining=set(w.nodes)))
            continue
        healed = _value_nodes(op.value)
        still: list[_Open] = []
        for o in open_.get(kind, []):
            if healed is None or not o.window.nodes:
                gone = True            # a heal of everything
            else:
                o.remaining -= set(healed)
                gone = not o.remaining
            if gone:
                close(o, op)
            else:
                still.append(o)
        open_[kind] = still
    for opens in open_.values():
        done.extend(o.window for o in opens)
    done = _crash_outcomes(done, events)
    return sorted(done, key=lambda w: (w.start_index, w.kind))


def _crash_outcomes(windows: list[FaultWindow], events: list[Op]) -> list[FaultWindow]:
    """Crash windows with what their arming led to (see the module docstring); others unchanged."""
    if not any(w.kind == "crash" for w in windows):
        return windows
    fired: dict[Any, Op] = {}
    restarted: dict[Any, Op] = {}
    outcome: dict[Any, str] = {}
    for op in events:  # the last event of each pair wins: the completion's time
        v = op.value if isinstance(op.value, dict) else {}
        if op.f == "crash-fired":
            fired[v.get("arm")] = op
        elif op.f == "restart":
            restarted[v.get("arm")] = op
        elif op.f == "disarm-crash":
            for row in v.get("disarmed") or ():
                if isinstance(row, dict):
                    outcome[row.get("arm")] = str(row.get("outcome"))
    out = []
    for w in windows:
        if w.kind != "crash" or not isinstance(w.detail, dict):
            out.append(w)
            continue
        arm = w.detail.get("arm")
        f, r = fired.get(arm), restarted.get(arm)
        got = outcome.get(arm) or ("fired" if f is not None else "armed")
        detail = {**w.detail, "outcome": got,
                  "order": f.value.get("order") if f is not None and isinstance(f.value, dict) else None,
                  "fired_ns": f.time if f is not None else None, "restart_ns": r.time if r is not None else None}
        out.append(FaultWindow(kind=w.kind, start_ns=w.start_ns, end_ns=w.end_ns, detail=detail, nodes=w.nodes,
                               start_index=w.start_index, end_index=w.end_index))
    return out
