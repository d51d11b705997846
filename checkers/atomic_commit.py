"""Atomic commit: what a two-phase commit must leave in its participants' own logs, and what it told clients.

A pure function of the history: the ``place`` ops (what each client was
told), the ``read-all`` snapshots, the nemesis events (when the coordinator
was down) and the last ``ok`` ``final`` op, whose value is every
participant's transaction log and lock table read after healing (see
``targets/two_pc``)::

    {"participants": {P: {"log": {txn: {state: prepared|committed|aborted, work,
                                        prepared_at, decided_at, note, lost_at}},
                          "locks": [{txn, since, holds}], "resources": {k: n}, "initial": {k: n},
                          "crashes": [{node, point, order, at}]}},
     "coordinator": {"name", "crashes": [...], "undone": [txn]}, "now": wall seconds}

Safety properties, each an anomaly kind naming the transactions and what
every participant recorded:

``atomicity``                      committed at one participant and not at another (aborted, prepared,
                                   or never prepared there: TLA+ ``TCommit``'s ``TCConsistent``, and
                                   "nothing commits unless every participant voted YES")
``commit-reported-not-committed``  the client was told COMMITTED and some participant did not commit
                                   (the guide's "commit reported although a participant failed")
``abort-reported-but-committed``   the client was told ABORTED and some participant committed
``not-conserved``                  stock taken != items of the orders committed at the order
                                   participant, money charged != their totals (at the end); in a
                                   ``read-all``, a participant's resources + what its committed
                                   work took != its initial amounts, or a resource below zero

Liveness findings, kept apart (``data["class"] == "liveness"``):

``locks-kept-by-abort``  the client was told ABORTED and a participant still holds the transaction's
                         lock at the end (the guide's "locks kept by argument-less abort")
``blocking``             a participant still holds a prepared transaction's lock at the end; named
                         "blocking after coordinator crash" when the coordinator was down after
                         the prepare. Held locks that *were* resolved after the coordinator came
                         back are not anomalies: they are listed in ``stats["blocking_resolved"]``
                         with how long each was held.

Locks held longer than a bound (``lock_bound_s``, default 5 s), from the
participants' own times: a lock is taken at ``prepared_at`` and released at
``decided_at`` (commit or abort), when the participant died if a restart
forgot it (its first kill or crash after the prepare; else ``lost_at``, the
restart that noticed), or not at all (still held at the end, measured to
the final read). A ``blocking`` anomaly carries ``held_s``, how long each holder has held it.
Locks that were held longer than the bound *and released* are the same
liveness finding without an anomaly, as resolved blocking is: listed in
``stats["held_long"]`` (longest first) per transaction with each
participant's hold, so a protocol that blocks while its coordinator is down
and recovers is reported, not failed.

Times in the prose are seconds since the run began (the participants' wall
clock is aligned by the final read's ``now`` and its completion time).
:class:`AtomicCommit` adds to each anomaly a lane trace per named
transaction (``data["lanes"]``: the coordinator's messages, each
participant's lock and decision, the client's request, faults and crash
points) and ``data["explanation"]``, told from it (:mod:`checkers.two_pc_lanes`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from checkers.api import Anomaly, CheckResult, Verdict, first_of_each_kind
from checkers.lanes import refine_offset
from checkers.two_pc_lanes import call_spans, with_lanes
from harness.history import History, Op
from nemesis.windows import fault_windows

__all__ = ["KINDS", "LOCK_BOUND_S", "PROBLEMS", "AtomicCommit", "Down", "check_logs"]

KINDS = ("atomicity", "commit-reported-not-committed", "abort-reported-but-committed", "not-conserved",
         "locks-kept-by-abort", "blocking")
PROBLEMS = {"commit-reported-not-committed": "commit reported although a participant failed",
            "locks-kept-by-abort": "locks kept by argument-less abort",
            "blocking": "blocking after coordinator crash"}
LIVENESS = ("locks-kept-by-abort", "blocking")
LIMIT = 8
SLACK = 0.2
LOCK_BOUND_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Down:
    """The coordinator was down from ``start`` to ``end`` (run seconds; ``None``: never came back)."""

    start: float
    end: float | None
    why: str


class _Logs:
    """The final state by transaction, with a clock from participant wall time to run seconds."""

    def __init__(self, final: Mapping[str, Any], offset: float) -> None:
        self.parts: dict[str, Mapping[str, Any]] = dict(final.get("participants", {}))
        self.offset = offset
        self.locks = {p: {lk["txn"]: lk for lk in s.get("locks", [])} for p, s in self.parts.items()}

    def t(self, wall: float | None) -> float | None:
        return None if wall is None else wall + self.offset

    def txns(self) -> list[str]:
        return sorted({t for s in self.parts.values() for t in s.get("log", {})})

    def state(self, p: str, txn: str) -> str:
        e = self.parts[p].get("log", {}).get(txn)
        if e is None:
            return "absent"
        if e["state"] == "prepared" and txn not in self.locks[p]:
            return "forgotten"  # prepared, then the participant lost it (a restart of in-memory state)
        return e["state"]

    def hold(self, p: str, txn: str, end: float, deaths: Iterable[float] = ()) -> tuple[float, float, str] | None:
        """When ``p`` took ``txn``'s lock, when it let it go (``end`` if it still holds it), and how.

        A lock a restart forgot went with the process: at ``p``'s first death (``deaths``, run seconds)
        after the prepare when one is known, else at the restart that noticed (``lost_at``).
        """
        e = self.parts[p].get("log", {}).get(txn)
        lock = self.locks[p].get(txn)
        if lock is not None:
            lo = self.t(lock.get("since", e and e.get("prepared_at")))
            return None if lo is None else (lo, end, "still held")
        if e is None or e.get("prepared_at") is None:
            return None  # never locked: voted NO, or an abort before any prepare
        lo = self.t(e["prepared_at"])
        st = self.state(p, txn)
        if st in ("committed", "aborted") and e.get("decided_at") is not None:
            return lo, self.t(e["decided_at"]), st  # type: ignore[return-value]
        if st == "forgotten" and e.get("lost_at") is not None and e["lost_at"] >= e["prepared_at"]:
            back = self.t(e["lost_at"])
            died = min((t for t in deaths if lo <= t <= back), default=None)  # type: ignore[operator]
            if died is not None:
                return lo, died, "lost when it died"  # type: ignore[return-value]
            return lo, back, "lost at a restart"  # type: ignore[return-value]
        return None

    def describe(self, txn: str) -> str:
        out = []
        for p in sorted(self.parts):
            e = self.parts[p].get("log", {}).get(txn)
            st = self.state(p, txn)
            if e is None:
                out.append(f"{p}: never prepared")
                continue
            at = self.t(e.get("decided_at") if st in ("committed", "aborted") else e.get("prepared_at"))
            what = {"forgotten": "prepared, then forgotten (no lock held)",
                    "prepared": "prepared, lock still held"}.get(st, st)
            note = f", {e['note']}" if e.get("note") and st == "aborted" else ""
            out.append(f"{p}: {what}{'' if at is None else f' at {at:.2f} s'}{note}")
        return f"transaction {txn} ({'; '.join(out)})"


def _down_at(down: Iterable[Down], lo: float, hi: float | None) -> Down | None:
    """The first outage that began while a lock taken at ``lo`` was still held (until ``hi``; None: the end).

    Only an outage that *began* during the hold counts: a window's end is the nemesis's ``start``
    completion, recorded after the restarted coordinator already serves, so locks taken in a window's
    tail were taken by the new coordinator. ``SLACK`` s before ``lo`` still count: a prepare the
    coordinator sent just before it died may arrive just after.
    """
    for d in down:
        if lo <= d.start + SLACK and (hi is None or hi >= d.start):
            return d
    return None


def check_logs(final: Mapping[str, Any], told: Mapping[str, str] | None = None, *,
               reads: Iterable[tuple[float, Mapping[str, Any]]] = (), down: Iterable[Down] = (),
               offset: float = 0.0, lock_bound_s: float = LOCK_BOUND_S,
               deaths: Mapping[str, Iterable[float]] | None = None) -> tuple[list[Anomaly], dict[str, Any]]:
    """Every property ``final`` breaks, and the figures; ``told`` maps txn -> COMMITTED|ABORTED.

    ``deaths``: participant -> when it was killed or crashed (run seconds), for the locks it forgot.
    """
    died = {p: tuple(ts) for p, ts in (deaths or {}).items()}
    v = _Logs(final, offset)
    nows = [s["now"] for s in v.parts.values() if s.get("now") is not None]
    end = v.t(final.get("now", max(nows, default=None))) or 0.0
    down = tuple(sorted(down, key=lambda d: d.start))
    told = dict(told or {})
    out: list[Anomaly] = []

    def add(kind: str, txns: list[str], why: str, **data: Any) -> None:
        problem = data.pop("problem", PROBLEMS.get(kind) if kind != "blocking" else None)
        head = f"{problem}: " if problem else ""
        prose = " | ".join(v.describe(t) for t in txns[:3]) + (f" (and {len(txns) - 3} more)" if len(txns) > 3 else "")
        out.append(Anomaly(kind=kind, summary=f"{head}{why}. {prose}".rstrip(". ") + ".",
                           data={"txns": txns, "problem": problem,
                                 "class": "liveness" if kind in LIVENESS else "safety",
                                 "recorded": {t: {p: v.state(p, t) for p in v.parts} for t in txns[:3]}, **data}))

    for txn in v.txns():
        states = {p: v.state(p, txn) for p in v.parts}
        done = sorted(p for p, s in states.items() if s == "committed")
        rest = sorted(p for p, s in states.items() if s != "committed")
        if done and rest:
            add("atomicity", [txn], f"transaction {txn} committed at {', '.join(done)} but not at "
                f"{', '.join(f'{p} ({states[p]})' for p in rest)}")
        if told.get(txn) == "COMMITTED" and rest:
            add("commit-reported-not-committed", [txn], f"the client was told {txn} COMMITTED, "
                f"but {', '.join(rest)} did not commit it")
        if told.get(txn) == "ABORTED" and done:
            add("abort-reported-but-committed", [txn], f"the client was told {txn} ABORTED, "
                f"but {', '.join(done)} committed it")

    # conservation at the end: the order participant's committed orders against stock and money
    orders = v.parts.get("order", {}).get("log", {})
    sold: dict[str, int] = defaultdict(int)
    charged = 0
    for txn, e in orders.items():
        if e["state"] == "committed":
            for p, q in e["work"].get("items", []):
                sold[p] += int(q)
            charged += int(e["work"].get("total", 0))
    committed = sorted(t for t, e in orders.items() if e["state"] == "committed")
    inv = v.parts.get("inventory")
    if inv is not None and "initial" in inv:
        for p in sorted(inv["initial"]):
            taken = inv["initial"][p] - inv["resources"].get(p, 0)
            if taken != sold.get(p, 0):
                bad = [t for t in committed if v.state("inventory", t) != "committed"
                       and any(x == p for x, _ in orders[t]["work"].get("items", []))] or \
                      [t for t in v.txns() if v.state("inventory", t) == "committed" and t not in committed]
                add("not-conserved", bad, f"stock of {p}: {taken} taken at inventory, but the orders committed "
                    f"at the order participant hold {sold.get(p, 0)}", where="final", resource=p)
    pay = v.parts.get("payment")
    if pay is not None and "initial" in pay:
        taken = sum(pay["initial"].values()) - sum(pay["resources"].values())
        if taken != charged:
            bad = [t for t in committed if v.state("payment", t) != "committed"] or \
                  [t for t in v.txns() if v.state("payment", t) == "committed" and t not in committed]
            add("not-conserved", bad, f"money: {taken} charged at payment, but the orders committed at the order "
                f"participant total {charged}", where="final", resource="money")
    for at, snap in reads:
        for p, s in sorted(snap.items()):
            for k, n in sorted(s.get("resources", {}).items()):
                init, took = s.get("initial", {}).get(k, n), s.get("taken", {}).get(k, 0)
                if n < 0 or n + took != init:
                    add("not-conserved", [], f"read-all at {at:.2f} s: {p}'s {k} is {n} with {took} taken by "
                        f"committed work, initially {init}", where="read-all", resource=k)

    # liveness: locks still held at the end, and locks held while the coordinator was down
    resolved: list[dict[str, Any]] = []
    held_long: list[dict[str, Any]] = []
    for txn in v.txns():
        holds = {p: h for p in sorted(v.parts) if (h := v.hold(p, txn, end, died.get(p, ()))) is not None}
        long = {p: h for p, h in holds.items() if h[2] != "still held" and h[1] - h[0] > lock_bound_s}
        if long:
            held_long.append(_held_long(txn, long, lock_bound_s, down))
        holders = sorted(p for p in v.parts if txn in v.locks[p])
        hold = "hold" if len(holders) > 1 else "holds"
        if holders:
            since = min(v.t(v.locks[p][txn]["since"]) or 0.0 for p in holders)
            held_s = {p: round(holds[p][1] - holds[p][0], 3) for p in holders if p in holds}
            how_long = f"; held {max(held_s.values(), default=0.0):.2f} s by the final read"
            if told.get(txn) == "ABORTED":
                add("locks-kept-by-abort", [txn], f"the client was told {txn} ABORTED, yet "
                    f"{', '.join(holders)} still {hold} its lock "
                    f"(since {since:.2f} s): the abort released nothing{how_long}", holders=holders,
                    held_s=held_s)
                continue
            d = _down_at(down, since, None)
            if d is not None:
                add("blocking", [txn], f"{', '.join(holders)} prepared {txn} (at {since:.2f} s) and still "
                    f"{hold} its locks at the end; the coordinator was down from {d.start:.2f} s ({d.why}) "
                    + ("and never came back" if d.end is None else f"to {d.end:.2f} s, and it never resolved")
                    + how_long, problem=PROBLEMS["blocking"], holders=holders, held_s=held_s, resolved=False)
            else:
                add("blocking", [txn], f"{', '.join(holders)} still {hold} {txn}'s locks at the end "
                    f"(in doubt since {since:.2f} s){how_long}", problem="in doubt at the end", holders=holders,
                    held_s=held_s, resolved=False)
            continue
        for p in sorted(v.parts):
            e = v.parts[p].get("log", {}).get(txn)
            if e is None or e.get("prepared_at") is None or e.get("decided_at") is None:
                continue
            lo, hi = v.t(e["prepared_at"]), v.t(e["decided_at"])
            d = _down_at(down, lo, hi)  # type: ignore[arg-type]
            if d is not None and hi is not None and lo is not None:
                resolved.append({"txn": txn, "participant": p, "held_s": round(hi - lo, 3), "state": e["state"],
                                 "summary": f"{p} held {txn} prepared from {lo:.2f} s to {hi:.2f} s "
                                 f"({hi - lo:.2f} s) while the coordinator was down from {d.start:.2f} s "
                                 f"({d.why}); resolved as {e['state']} after it came back"})
    stats = {"txns": len(v.txns()), "told": len(told), "committed_orders": len(committed),
             "blocking_resolved": resolved[:LIMIT], "blocking_resolved_count": len(resolved),
             "lock_bound_s": lock_bound_s, "held_long_count": len(held_long),
             "held_long": sorted(held_long, key=lambda h: -h["longest_s"])[:LIMIT],
             "coordinator_down": [{"start": d.start, "end": d.end, "why": d.why} for d in down]}
    return out, stats


def _held_long(txn: str, long: Mapping[str, tuple[float, float, str]], bound: float,
               down: Iterable[Down]) -> dict[str, Any]:
    """One transaction whose locks participants held longer than ``bound`` s, then let go."""
    held = {p: round(hi - lo, 3) for p, (lo, hi, _) in long.items()}
    each = ", ".join(f"{p} {hi - lo:.2f} s (from {lo:.2f} s, {how} at {hi:.2f} s)"
                     for p, (lo, hi, how) in long.items())
    d = _down_at(down, min(lo for lo, _, _ in long.values()), max(hi for _, hi, _ in long.values()))
    why = "" if d is None else f"; the coordinator was down from {d.start:.2f} s ({d.why})"
    return {"txn": txn, "participants": sorted(long), "held_s": held, "longest_s": max(held.values()),
            "summary": f"{txn}'s locks were held longer than the {bound:g} s bound: {each}{why}"}


def _participant_deaths(history: History, final: Mapping[str, Any], offset: float) -> dict[str, list[float]]:
    """Participant -> the starts of its kill windows and its crash-point deaths, in run seconds."""
    parts = final.get("participants", {})
    by_name = {s.get("name", p): p for p, s in parts.items()}
    out: dict[str, list[float]] = defaultdict(list)
    for w in fault_windows(history.nemesis):
        if w.kind == "kill" and w.start_ns is not None:
            for n in w.nodes:
                if n in by_name:
                    out[by_name[n]].append(w.start_ns / 1e9)
    for p, s in parts.items():
        out[p] += [float(c["at"]) + offset for c in s.get("crashes", []) if c.get("at") is not None]
    return out


def _coordinator_down(history: History, name: str, crashes: Iterable[Mapping[str, Any]],
                      offset: float) -> list[Down]:
    """Kill windows of the coordinator, and crash-point deaths up to the next ``start`` that revived it."""
    out = [Down(start=w.start_ns / 1e9, end=None if w.end_ns is None else w.end_ns / 1e9, why="killed")
           for w in fault_windows(history.nemesis)
           if w.kind == "kill" and name in w.nodes and w.start_ns is not None]
    starts = sorted(e.time / 1e9 for e in history.nemesis if e.f == "start" and e.type == "info"
                    and e.time is not None and isinstance(e.value, dict) and name in e.value.get("nodes", []))
    for c in crashes:
        at = float(c["at"]) + offset
        end = next((s for s in starts if s >= at), None)
        out.append(Down(start=at, end=end, why=f"crash point {c['point']} of {c.get('order')}"))
    return sorted(out, key=lambda d: d.start)


class AtomicCommit:
    """The atomic-commit properties over a history with a ``final`` read (see the module docstring)."""

    def __init__(self, *, name: str = "atomic-commit", lock_bound_s: float = LOCK_BOUND_S) -> None:
        if not lock_bound_s > 0:
            raise ValueError(f"lock_bound_s must be a positive number of seconds, not {lock_bound_s!r}")
        self.name, self.lock_bound_s = name, lock_bound_s

    def check(self, history: History) -> CheckResult:
        told: dict[str, str] = {}
        reads: list[tuple[float, Mapping[str, Any]]] = []
        final_op: Op | None = None
        places = 0
        for o in history.operations:
            c = o.completion
            if o.f == "place":
                places += 1
                if o.status == "ok" and isinstance(c.value, dict):  # type: ignore[union-attr]
                    told[str(o.invoke.value["txn"])] = c.value.get("status")  # type: ignore[union-attr]
            elif o.f == "read-all" and o.status == "ok" and isinstance(c.value, dict):  # type: ignore[union-attr]
                reads.append(((c.time or 0) / 1e9, c.value))  # type: ignore[union-attr]
            elif o.f == "final" and o.status == "ok":
                final_op = c
        if final_op is None:
            return CheckResult(checker=self.name, verdict=Verdict.UNKNOWN, stats={"places": places},
                               error="no final read succeeded: the participants' logs after healing are unknown")
        final = final_op.value
        gone = [p for p, s in final.get("participants", {}).items() if "unreachable" in s]
        if gone:
            return CheckResult(checker=self.name, verdict=Verdict.UNKNOWN, stats={"places": places},
                               error=f"the final read could not reach {', '.join(gone)}")
        offset = 0.0
        if final_op.time is not None and final.get("now") is not None:  # moved into the bounds the client's
            # place ops set on the coordinator's prepares (the final answer's encoding and travel make it late)
            offset = refine_offset(final_op.time / 1e9 - float(final["now"]), call_spans(history, final))
        coord = final.get("coordinator", {})
        down = _coordinator_down(history, coord.get("name", "coordinator"), coord.get("crashes", []), offset)
        found, stats = check_logs(final, told, reads=reads, down=down, offset=offset, lock_bound_s=self.lock_bound_s,
                                  deaths=_participant_deaths(history, final, offset))
        found = with_lanes(found, final, history, offset, end=None if final_op.time is None else final_op.time / 1e9)
        kept, counts = first_of_each_kind(found, LIMIT)
        problems = sorted({a.data["problem"] for a in found if a.data.get("problem")})
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if found else Verdict.VALID,
                           anomalies=kept,
                           stats={"places": places, "reads": len(reads), **stats, "counts": counts,
                                  "problems": problems,
                                  "committed_told": sum(s == "COMMITTED" for s in told.values()),
                                  "aborted_told": sum(s == "ABORTED" for s in told.values())})
