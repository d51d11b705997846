"""The 2PC coordinator: the guide's ``TwoPhaseCommitCoordinator`` (``seed``) and a recoverable one (``durable``).

Routes: ``POST /place {txn, user, items}`` runs one transaction and answers
``{status: COMMITTED|ABORTED, reason, results}``; ``GET /read-all`` reads
every participant's snapshot (read-only; fails if any is unreachable);
``POST /decision {txn}`` (durable) answers a participant in doubt; ``POST
/final {wait, disarm?}`` waits until no participant holds a prepared
transaction (at most ``wait`` s) and returns every participant's final state;
with ``disarm`` it first disarms every node's crash points for good (``POST
/disarm`` at each participant), so none fires while the system recovers and
is read.

* :class:`SeedCoordinator` is the guide's ``execute`` as written: prepare
  sequentially (order, inventory, payment), stop at the first NO or error and
  ``abortAll(votes)`` -- which calls ``abort()`` with no transaction; then
  commit each voter once, log a failure and report COMMITTED anyway. Nothing
  is written down: a crash forgets every transaction in flight, and their
  prepared participants wait for ever.
* :class:`DurableCoordinator` logs the commit decision in SQLite (fsync'd)
  before phase two and marks it done once every participant acknowledged;
  commits are retried until acknowledged, by the request while it has time and
  then by a background driver (which also resumes every undone decision after
  a restart). Presumed abort: no abort record is needed; ``/decision`` answers
  "commit" for a logged commit, "unknown" while the transaction is still in
  phase one here, and "abort" otherwise (a restarted coordinator never
  resumes a phase one, so an unlogged transaction can only be aborted).

``POST /txn {txn, mops}`` runs a general multi-key transaction (Elle
micro-ops, :mod:`targets.two_pc.kv`) through the same protocol, variant for
variant, over the participants holding its keys: each prepares its own
micro-ops (locking their keys, answering the reads with its vote), and a
COMMITTED answer carries ``mops``, the micro-ops with the reads filled in.
So the seed coordinator's flaws reach these transactions too: a commit lost
at one participant is still reported COMMITTED with its reads.

Crash points: ``after-prepare-<participant>`` (after its YES), ``after-decision``
(the decision taken -- and, durable, logged -- before phase two),
``after-commit-<participant>`` (after its commit returned).

Every message the coordinator sends (prepare and the vote it got, commit and
its ack, abort) and every decision it takes are recorded in its step trace
(:class:`targets.saga_orders.trace.StepTrace`, ``trace.jsonl``): an
observation record for the final read (``coordinator.trace``) and the
report's lanes, never read by the protocol.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any, Mapping

from harness.node.crashpoints import CrashPoints
from harness.node.http import HttpError, Refused, Unreachable, call, log
from targets.saga_orders.trace import StepTrace
from targets.two_pc import kv
from targets.two_pc.participant import KINDS

__all__ = ["DurableCoordinator", "SeedCoordinator"]

Address = tuple[str, int]


class _Coordinator:
    def __init__(self, *, name: str, participants: Mapping[str, Address], prices: Mapping[str, int],
                 crash: CrashPoints, timeout: float) -> None:
        self.name, self.participants, self.prices = name, dict(participants), dict(prices)
        self.crash, self.timeout = crash, timeout
        self.order = [k for k in KINDS if k in self.participants]
        self.trace = StepTrace(crash.file.parent, name)  # beside crashes.jsonl, in the node's data dir

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/health"): lambda _: (200, {"status": "ok", "role": "coordinator"}),
                ("POST", "/place"): self.place, ("POST", "/txn"): self.txn, ("GET", "/read-all"): self.read_all,
                ("POST", "/decision"): self.decision, ("POST", "/final"): self.final}

    def _call(self, kind: str, path: str, body: Any) -> Any:
        return call(self.participants[kind], "POST", path, body, timeout=self.timeout)

    def _send(self, txn: str, msg: str, kind: str, body: Any) -> Any:
        """``_call`` of ``/msg``, recorded in the step trace under ``txn`` (a prepare's detail: the vote)."""
        return self.trace.call(txn, msg, kind, lambda: self._call(kind, "/" + msg, body),
                               detail=lambda d: d.get("vote") if isinstance(d, dict) else None)

    def _txn(self, b: Any) -> dict[str, Any]:
        try:
            items = [[str(p), int(q)] for p, q in b["items"]]
            return {"txn": str(b["txn"]), "user": str(b["user"]), "items": items,
                    "total": sum(self.prices[p] * q for p, q in items)}
        except (KeyError, TypeError, ValueError) as e:
            raise HttpError(400, f"bad transaction {b!r}: {e}") from None

    def place(self, b: Any) -> tuple[int, Any]:
        t = self._txn(b)
        return 200, self._execute(t["txn"], {k: t for k in self.order})[0]

    def txn(self, b: Any) -> tuple[int, Any]:
        """A general transaction: its micro-ops split by participant, run as one 2PC transaction."""
        try:
            txn, mops = str(b["txn"]), b["mops"]
            parts = kv.split(mops, self.order)
        except (KeyError, TypeError, ValueError) as e:
            raise HttpError(400, f"bad transaction {b!r}: {e}") from None
        if not parts:
            raise HttpError(400, f"transaction {txn} has no micro-ops")
        answer, reads = self._execute(txn, {k: {"txn": txn, "kv": m} for k, m in parts.items()})
        if answer["status"] != "COMMITTED":
            return 200, answer
        if answer.get("reason") == "already decided":
            raise HttpError(409, f"{txn} was decided before; its reads are not kept")
        return 200, {**answer, "mops": kv.merge(mops, reads)}

    def _execute(self, txn: str, bodies: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """Run ``txn`` over the participants of ``bodies`` (each its prepare body), in that order.

        Returns the answer and the reads the participants sent with their YES votes.
        """
        raise NotImplementedError

    def decision(self, b: Any) -> tuple[int, Any]:
        raise HttpError(404, "this coordinator keeps no decisions")

    def undone(self) -> list[str]:
        return []

    def read_all(self, _: Any) -> tuple[int, Any]:
        out = {}
        for k in self.order:
            try:
                out[k] = call(self.participants[k], "GET", "/snapshot", timeout=self.timeout)
            except (Refused, Unreachable) as e:
                raise HttpError(503, f"{k} unreachable: {e}") from None
        return 200, out

    def final(self, b: Any) -> tuple[int, Any]:
        if (b or {}).get("disarm"):  # no crash point fires while the system recovers and is read
            self.crash.disarm()
            for k in self.order:
                try:
                    self._call(k, "/disarm", {})
                except (Refused, Unreachable) as e:
                    log(self.name, f"could not disarm {k}: {e}")
        end = time.monotonic() + float((b or {}).get("wait", 5))
        while True:
            states: dict[str, Any] = {}
            for k in self.order:
                try:
                    states[k] = call(self.participants[k], "GET", "/state", timeout=self.timeout * 4)
                except (Refused, Unreachable) as e:
                    states[k] = {"participant": k, "unreachable": str(e)}
            busy = any(s.get("locks") or "unreachable" in s for s in states.values()) or self.undone()
            if not busy or time.monotonic() >= end:
                break
            time.sleep(0.3)
        return 200, {"participants": states, "now": time.time(),
                     "coordinator": {"name": self.name, "crashes": self.crash.fired(), "undone": self.undone(),
                                     "trace": self.trace.read()}}


class SeedCoordinator(_Coordinator):
    """The guide's coordinator, line for line (see the module docstring)."""

    def _execute(self, txn: str, bodies: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        votes: list[str] = []
        reads: list[Any] = []
        for k, body in bodies.items():  # Phase 1: Prepare
            try:
                d = self._send(txn, "prepare", k, body)
                vote = d["vote"]
                votes.append(k)
                if vote != "YES":
                    log(self.name, f"{txn}: {k} voted NO")
                    self.trace.record(txn, "decision", detail="abort")
                    self._abort_all(txn, votes)
                    return {"status": "ABORTED", "reason": f"{k} voted NO"}, []
                reads += d.get("reads", [])
            except (Refused, Unreachable) as e:
                log(self.name, f"{txn}: {k} prepare failed: {e}")
                self.trace.record(txn, "decision", detail="abort")
                self._abort_all(txn, votes)
                return {"status": "ABORTED", "reason": f"{k} prepare failed: {e}"}, []
            self.crash.hit(f"after-prepare-{k}", txn)
        self.trace.record(txn, "decision", detail="commit")
        self.crash.hit("after-decision", txn)
        results = []
        for k in votes:  # Phase 2: Commit
            try:
                self._send(txn, "commit", k, {"txn": txn})
                results.append({"participant": k, "status": "COMMITTED"})
            except (Refused, Unreachable) as e:  # "here it gets hard - retry or a human"
                log(self.name, f"{txn}: {k} commit failed: {e}")
                results.append({"participant": k, "status": "FAILED", "error": str(e)})
            self.crash.hit(f"after-commit-{k}", txn)
        return {"status": "COMMITTED", "results": results}, reads

    def _abort_all(self, txn: str, votes: list[str]) -> None:
        """The guide's ``abortAll(votes)``; ``txn`` only names the trace record, it is not sent."""
        for k in votes:
            try:
                self._send(txn, "abort", k, None)  # participant.abort(): no transaction passed
            except (Refused, Unreachable) as e:
                log(self.name, f"{k} abort failed: {e}")


class DurableCoordinator(_Coordinator):
    """2PC with a decision log, presumed abort and commits retried until acknowledged."""

    def __init__(self, *, data_dir: str, budget: float = 2.0, **kw: Any) -> None:
        super().__init__(**kw)
        self.budget = budget
        self.mu = threading.Lock()
        self.active: set[str] = set()
        self.db = sqlite3.connect(f"{data_dir}/coordinator.db", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS decisions (txn TEXT PRIMARY KEY, body TEXT, "
                        "at REAL, done_at REAL)")
        self._stop = threading.Event()
        threading.Thread(target=self._driver, daemon=True).start()

    def undone(self) -> list[str]:
        with self.mu:
            return [t for (t,) in self.db.execute("SELECT txn FROM decisions WHERE done_at IS NULL")]

    def decision(self, b: Any) -> tuple[int, Any]:
        txn = str(b["txn"])
        with self.mu:
            if self.db.execute("SELECT 1 FROM decisions WHERE txn=?", (txn,)).fetchone():
                return 200, {"decision": "commit"}
            if txn in self.active:
                return 200, {"decision": "unknown"}
        return 200, {"decision": "abort"}  # presumed abort

    def _execute(self, txn: str, bodies: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        with self.mu:
            if self.db.execute("SELECT 1 FROM decisions WHERE txn=?", (txn,)).fetchone():
                return {"status": "COMMITTED", "reason": "already decided"}, []
            self.active.add(txn)
        parts = list(bodies)
        reads: list[Any] = []
        try:
            reason = None
            for k in parts:
                try:
                    d = self._send(txn, "prepare", k, bodies[k])
                    vote = d["vote"]
                except (Refused, Unreachable) as e:
                    reason = f"{k} prepare failed: {e}"
                    break
                if vote != "YES":
                    reason = f"{k} voted NO"
                    break
                reads += d.get("reads", [])
                self.crash.hit(f"after-prepare-{k}", txn)
            with self.mu:
                self.active.discard(txn)
                if reason is None:  # the decision, durable before anyone hears of it
                    self.db.execute("INSERT INTO decisions VALUES (?, ?, ?, NULL)",
                                    (txn, json.dumps({**bodies[parts[0]], "participants": parts}), time.time()))
            self.trace.record(txn, "decision", detail="commit" if reason is None else "abort")
        finally:
            with self.mu:
                self.active.discard(txn)
        if reason is not None:
            for k in parts:  # best effort: presumed abort answers whoever asks later
                try:
                    self._send(txn, "abort", k, {"txn": txn})
                except (Refused, Unreachable):
                    pass
            return {"status": "ABORTED", "reason": reason}, []
        self.crash.hit("after-decision", txn)
        acked = self._drive(txn, time.monotonic() + self.budget, parts)
        return {"status": "COMMITTED", "acked": acked}, reads

    def _participants_of(self, txn: str) -> list[str]:
        """The participants a logged decision involves (every one, for an order)."""
        with self.mu:
            row = self.db.execute("SELECT body FROM decisions WHERE txn=?", (txn,)).fetchone()
        parts = json.loads(row[0]).get("participants") if row else None
        return list(parts) if parts else list(self.order)

    def _drive(self, txn: str, until: float, parts: list[str] | None = None) -> list[str]:
        """Send commit to each of ``parts`` until each acknowledged or ``until``; mark done when all did."""
        parts = self._participants_of(txn) if parts is None else parts
        acked: list[str] = []
        while True:
            for k in parts:
                if k in acked:
                    continue
                try:
                    self._send(txn, "commit", k, {"txn": txn})
                    acked.append(k)
                except (Refused, Unreachable):
                    continue
                self.crash.hit(f"after-commit-{k}", txn)
            if len(acked) == len(parts):
                with self.mu:
                    self.db.execute("UPDATE decisions SET done_at=? WHERE txn=?", (time.time(), txn))
                return acked
            if time.monotonic() >= until:
                return acked
            time.sleep(0.1)

    def close(self) -> None:
        """Stop the driver (an in-process coordinator; a real one just dies)."""
        self._stop.set()

    def _driver(self) -> None:
        while not self._stop.wait(0.5):
            for txn in self.undone():
                self._drive(txn, time.monotonic())
