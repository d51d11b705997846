"""One 2PC transaction as a lane trace (:mod:`checkers.lanes`), and the sentence that says why it broke.

Built from the final read (each participant's transaction log and lock
table, with ``prepared_at``, ``decided_at`` and ``lost_at``; every node's
``crashes``; the coordinator's step ``trace``, see
:mod:`targets.saga_orders.trace`), the client's ``place`` ops and the fault
windows. Lanes, top to bottom: ``client``, ``coordinator`` (its messages:
prepare and the vote, the decision, commit and the ack, abort), then one per
participant (``order``, ``inventory``, ``payment``: the lock held from the
prepare to the commit, the abort, the restart that lost it, or the end).

:func:`with_lanes` adds ``data["lanes"]`` (one trace per named transaction,
the first three) and ``data["explanation"]`` to the atomic-commit checker's
anomalies; it changes nothing else, so the verdicts stay the checker's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from checkers.api import Anomaly
from checkers.lanes import (FaultSpan, LaneEvent, crash_events, crashes_near, fault_phrase, fault_spans, lane_trace,
                            when)
from harness.history import History

__all__ = ["PROPERTIES", "TwoPcLanes", "call_spans", "explain", "with_lanes"]

PARTICIPANTS = ("order", "inventory", "payment")
PROPERTIES = {
    "atomicity": "a transaction commits at every participant or at none",
    "commit-reported-not-committed": "a transaction reported COMMITTED is committed at every participant",
    "abort-reported-but-committed": "a transaction reported ABORTED is committed nowhere",
    "not-conserved": "stock and money taken equal what the committed orders hold",
    "locks-kept-by-abort": "an aborted transaction releases its locks",
    "blocking": "no participant stays blocked holding a prepared transaction",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TwoPcLanes:
    """Builds lane traces from one final read (see the module docstring)."""

    final: Mapping[str, Any]
    offset: float
    faults: tuple[FaultSpan, ...] = ()
    places: Mapping[str, Sequence[tuple[float, float | None, str]]] = field(default_factory=dict)
    end: float | None = None
    extra_crashes: Sequence[LaneEvent] = ()

    def t(self, wall: float | None) -> float | None:
        return None if wall is None else float(wall) + self.offset

    def parts(self) -> dict[str, Mapping[str, Any]]:
        return {p: s for p, s in self.final.get("participants", {}).items() if isinstance(s, Mapping)}

    def lanes(self) -> tuple[str, ...]:
        parts = self.parts()
        return ("client", "coordinator", *[p for p in PARTICIPANTS if p in parts],
                *sorted(p for p in parts if p not in PARTICIPANTS))

    def lane_of(self) -> dict[str, str]:
        """Node name -> lane (a participant's node may be named other than its role)."""
        out = {str(s.get("name", p)): p for p, s in self.parts().items()}
        out[str(self.final.get("coordinator", {}).get("name", "coordinator"))] = "coordinator"
        return out

    def events(self, txn: str) -> list[LaneEvent]:
        parts = self.parts()
        end = self.end
        ev: list[LaneEvent] = []
        for start, stop, told in self.places.get(txn, ()):
            ev.append(LaneEvent(lane="client", at=start, end=stop, kind="client", what=f"place → {told}",
                                outcome="ok" if stop is not None else "unreachable"))
        for r in self.final.get("coordinator", {}).get("trace", []):
            if str(r.get("subject")) != txn:
                continue
            step = str(r.get("step"))
            if step == "decision":
                ev.append(LaneEvent(lane="coordinator", at=self.t(r["start"]) or 0.0, kind="decision",
                                    what=f"decide {r.get('detail')}"))
                continue
            k = str(r.get("to"))
            log = parts.get(k, {}).get("log", {}).get(txn) or {}
            peer = self.t(log.get("prepared_at") if step == "prepare" else log.get("decided_at"))
            out = str(r.get("outcome", "ok"))
            if out == "ok":
                answer = r.get("detail") if step == "prepare" else "ack"
            else:
                answer = {"refused": "refused", "sent": "never answered"}.get(out, "no answer")
                out = "lost" if out == "sent" else out
            at, stop = self.t(r["start"]) or 0.0, self.t(r["end"])
            if peer is not None and not (at - 0.05 <= peer <= (stop or at) + 0.05):
                peer = None  # a row written by another message (a retry, the resolver)
            ev.append(LaneEvent(lane="coordinator", at=at, end=stop, kind="message", to=k, peer_at=peer,
                                outcome="no" if answer == "NO" else out,
                                what=f"{'abort()' if step == 'abort' and r.get('detail') is None else step}"
                                     f" → {answer}", detail=r.get("error")))
        for p, s in parts.items():
            e = s.get("log", {}).get(txn)
            held = next((lk for lk in s.get("locks", []) if lk.get("txn") == txn), None)
            if e is None:
                continue
            lo, dec, lost = self.t(e.get("prepared_at")), self.t(e.get("decided_at")), self.t(e.get("lost_at"))
            if lo is None:  # voted NO, or an abort that came before any prepare
                ev.append(LaneEvent(lane=p, at=dec or 0.0, kind="compensation", outcome="no",
                                    what=str(e.get("note") or e.get("state"))))
                continue
            if held is not None:
                stop, how = None, "lock still held at the end"
            elif e["state"] in ("committed", "aborted") and dec is not None:
                stop, how = dec, "lock held"
            elif lost is not None:  # gone with the process: at its death if one is known, else the restart
                died = [t for t in self._deaths(p) if lo <= t <= lost]
                stop, how = (min(died), "lock lost when it died") if died else (lost, "lock lost at a restart")
            else:
                stop, how = None, "prepared"
            ev.append(LaneEvent(lane=p, at=lo, end=stop, kind="lock", what=f"prepared; {how}",
                                outcome="lost" if held is not None or lost is not None else "ok"))
            if e["state"] in ("committed", "aborted") and dec is not None:
                ev.append(LaneEvent(lane=p, at=dec, kind="step" if e["state"] == "committed" else "compensation",
                                    what=e["state"]))
            if end is not None:
                if held is not None:
                    ev.append(LaneEvent(lane=p, at=end, kind="state", outcome="lost",
                                        what=f"{p} still holds the lock"))
                elif e["state"] == "prepared":
                    ev.append(LaneEvent(lane=p, at=end, kind="state", outcome="lost",
                                        what=f"{p} forgot its prepare (restarted), never decided"))
        ev += self._crashes(txn, ev)
        return sorted(ev, key=lambda e: e.at)

    def _deaths(self, lane: str) -> list[float]:
        """When the node of ``lane`` died: its crash points fired, and kill windows that hit it."""
        lane_of = self.lane_of()
        node = next((n for n, ln in lane_of.items() if ln == lane), lane)
        s = self.final.get("coordinator", {}) if lane == "coordinator" else self.parts().get(lane, {})
        out = [t for c in s.get("crashes", []) if (t := self.t(c.get("at"))) is not None]
        out += [f.start for f in self.faults if f.kind == "kill" and node in f.nodes]
        out += [e.at for e in self.extra_crashes if e.lane == lane and e.kind == "crash"]
        return sorted(out)

    def _crashes(self, txn: str, ev: Sequence[LaneEvent]) -> list[LaneEvent]:
        """Crash points fired in this transaction, and by any node while it ran."""
        times = [t for e in ev if e.kind != "state" for t in (e.at, e.end) if t is not None]
        span = (min(times), max(times)) if times else None
        lane_of = self.lane_of()
        records = list(self.final.get("coordinator", {}).get("crashes", []))
        for s in self.parts().values():
            records += s.get("crashes", [])
        return crashes_near(records, self.extra_crashes, subject=txn, span=span, slack=(0.2, 0.5),
                            lane_of=lambda node: lane_of.get(node, node), t=self.t)

    def trace(self, txn: str) -> dict[str, Any]:
        work = next((s.get("log", {}).get(txn, {}).get("work") for p, s in self.parts().items()
                     if p == "order" and s.get("log", {}).get(txn)), None)
        what = "" if not isinstance(work, Mapping) else (
            f" ({work.get('user')}, " + ", ".join(f"{q} of {p}" for p, q in work.get("items", [])) +
            f", total {work.get('total')})")
        return lane_trace(subject=txn, title=f"transaction {txn}{what}", lanes=self.lanes(),
                          events=self.events(txn), faults=self.faults, end=self.end, lane_of=self.lane_of())


def explain(kind: str, summary_why: str, trace: Mapping[str, Any]) -> str:
    """The property, then per participant what it recorded, the decision, and what interrupted it."""
    evs = [e for e in trace.get("events", []) if isinstance(e, Mapping)]
    txn = trace.get("subject")
    said: list[str] = []
    decision = next((e for e in evs if e.get("kind") == "decision"), None)
    if decision is not None:
        said.append(f"the coordinator {decision['what'].replace('decide', 'decided')} at {when(decision['at'])}")
    for m in evs:
        if m.get("kind") == "message" and m.get("outcome") not in ("ok", "no"):
            how = {"refused": "was refused", "lost": "was sent and never answered"}.get(str(m.get("outcome")),
                                                                                       "got no answer")
            said.append(f"its {m['what'].split(' → ')[0]} to {m.get('to')} {how} at "
                        f"{when(m.get('end') or m.get('at'))}" + (f" ({m['detail']})" if m.get("detail") else ""))
    per: list[str] = []
    for lane in trace.get("lanes", []):
        if lane in ("client", "coordinator"):
            continue
        mine = [e for e in evs if e.get("lane") == lane and e.get("kind") in ("lock", "step", "compensation")]
        if not mine:
            if any(e.get("lane") == lane for e in evs) or trace.get("events"):
                per.append(f"{lane} never prepared {txn}")
            continue
        bits = []
        for e in mine:
            bits.append(f"prepared at {when(e['at'])}" if e.get("kind") == "lock"
                        else f"{e['what']} at {when(e['at'])}")
        per.append(f"{lane} " + ", ".join(bits))
    crashes = [f"{e.get('detail') or e.get('what')} at {when(e.get('at'))}" for e in evs if e.get("kind") == "crash"]
    faults = [fault_phrase(f) for f in trace.get("faults", []) if isinstance(f, Mapping)]
    left = [str(e["what"]) for e in evs if e.get("kind") == "state"]
    head = summary_why if str(txn) in summary_why else f"{summary_why}; transaction {txn}"
    text = f"{PROPERTIES.get(kind, kind)}; {head}: " + "; ".join(per + said)
    if crashes or faults:
        text += "; meanwhile " + ", ".join((crashes + faults)[:4])
    if left:
        text += "; left: " + ", ".join(left)
    return text


def call_spans(history: History, final: Mapping[str, Any]) -> list[tuple[float, float, float, float]]:
    """Each answered ``place`` op with the coordinator's answered prepares of its transaction (for
    :func:`checkers.lanes.refine_offset`): they ran while the client waited."""
    preps: dict[str, list[Mapping[str, Any]]] = {}
    for r in final.get("coordinator", {}).get("trace", []):
        if r.get("step") == "prepare" and r.get("outcome") == "ok" and r.get("end") is not None:
            preps.setdefault(str(r.get("subject")), []).append(r)
    out = []
    for o in history.operations:
        c = o.completion
        if (o.f == "place" and o.status == "ok" and isinstance(o.invoke.value, dict) and o.invoke.time is not None
                and c is not None and c.time is not None):
            for r in preps.get(str(o.invoke.value.get("txn")), ()):
                out.append((o.invoke.time / 1e9, c.time / 1e9, float(r["start"]), float(r["end"])))
    return out


def _places(history: History) -> dict[str, list[tuple[float, float | None, str]]]:
    out: dict[str, list[tuple[float, float | None, str]]] = {}
    for o in history.operations:
        if o.f != "place" or o.invoke.time is None or not isinstance(o.invoke.value, dict):
            continue
        c = o.completion
        told = (c.value.get("status") if o.status == "ok" and isinstance(c.value, dict)  # type: ignore[union-attr]
                else "refused" if o.status == "fail" else "no answer")
        end = None if o.status == "info" or c is None or c.time is None else c.time / 1e9
        out.setdefault(str(o.invoke.value.get("txn")), []).append((o.invoke.time / 1e9, end, str(told)))
    return out


def with_lanes(found: Iterable[Anomaly], final: Mapping[str, Any], history: History | None,
               offset: float, end: float | None = None) -> list[Anomaly]:
    """``found`` with a lane trace per named transaction (first three) and an explanation in ``data``.

    ``ops`` gets the client's ``place`` ops of those transactions when ``history`` is given.
    """
    places = _places(history) if history is not None else {}
    idx: dict[str, list[int]] = {}
    if history is not None:
        for o in history.operations:
            if o.f == "place" and isinstance(o.invoke.value, dict):
                idx.setdefault(str(o.invoke.value.get("txn")), []).append(o.invoke.index)
    lanes = TwoPcLanes(final=final, offset=offset, places=places,
                       faults=fault_spans(history) if history is not None else (),
                       end=end if end is not None else (None if final.get("now") is None else final["now"] + offset))
    if history is not None:
        lanes = dataclasses.replace(lanes, extra_crashes=[e for _, e in crash_events(history, lanes.lane_of(), offset)])
    out = []
    for a in found:
        txns = [str(t) for t in a.data.get("txns", [])][:3]
        shown = [lanes.trace(t) for t in txns]
        why = a.summary.split(". ")[0]
        why = why.split(": ", 1)[1] if a.data.get("problem") and why.startswith(str(a.data["problem"])) else why
        why = why.split("; ")[0]  # the rest (outage, hold times) is in the summary and on the lanes
        data = {**a.data, "lanes": shown, "explanation": explain(a.kind, why, shown[0]) if shown else a.summary}
        ops = tuple(i for t in txns for i in idx.get(t, ())) or a.ops
        out.append(dataclasses.replace(a, data=data, ops=ops))
    return out
