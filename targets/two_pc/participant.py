"""A 2PC participant: the order, inventory or payment service of the guide (§3.2), over its own SQLite.

Each participant turns a transaction ``{txn, user, items, total}`` into its
own piece of work and *locks* what that work needs at prepare time:

``order``      creates the order row ``txn`` (lock: the order id)
``inventory``  deducts each item from stock (lock: the quantities, so
               ``available - locked`` is what a later prepare may take)
``payment``    charges the user ``total`` (lock: the amount, held against the balance)

Routes: ``POST /prepare {txn...}`` -> ``{"vote": "YES"|"NO"}``; ``POST
/commit {txn}``; ``POST /abort {txn?}``; ``GET /snapshot`` (read-only
figures for ``read-all``); ``GET /state`` (the final read: transaction log,
lock table, resources, crash records). A lock is taken at ``prepared_at`` and
released at ``decided_at`` (commit or abort), or, in ``seed``, lost when the
process restarts without it: ``lost_at``, the restart's time.

Variants, as :mod:`targets.two_pc` describes:

* ``seed`` is the guide's ``InventoryServiceParticipant``, and the order and
  payment participants written the same way: the prepared map and its locks
  live only in this process's memory (a restart forgets them), ``commit`` of
  a transaction not in that map throws "Transaction not prepared", and
  ``abort(transaction)`` reads the order id *from its argument*, so the
  coordinator's argument-less ``abort()`` releases nothing. The ``txlog``
  table is only an observation record for the final reads (what this node
  did and when); the protocol never reads it.
* ``durable`` writes the prepare record (and so its locks) to SQLite before
  voting YES, reloads it after a restart, commits and aborts idempotently,
  remembers an abort so that a late prepare votes NO, and asks the
  coordinator (``POST /decision``) about any transaction it has held prepared
  for longer than ``inquire_after`` seconds (presumed abort answers "abort"
  for a transaction the coordinator has no commit record of).

A prepare body with ``kv`` instead (``{txn, kv: [[i, f, key, value], ...]}``)
is a general multi-key transaction (:mod:`targets.two_pc.kv`): the same
protocol, variant for variant, over a key-value table. Prepare waits up to
``lock_wait`` s for the keys it needs (shared for reads, exclusive for
writes), answers the reads with its YES vote (``{"vote": "YES", "reads":
[[i, value], ...]}``) and stages the writes in the prepare record (seed:
memory only, as for an order); commit applies them; a conflict still there
after the wait votes NO.

Crash point ``after-vote-yes`` (``--crash-points``): the process dies just
after its YES vote has been sent (5 ms later, time for the answer to leave)
and before it does anything more for that transaction: a commit or abort of
it arriving sooner waits for the point, so a coordinator's quick commit
cannot slip in between. Only the standard library.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any, Mapping

from harness.node.crashpoints import CrashPoints
from harness.node.http import HttpError, Refused, Unreachable, call, log
from targets.two_pc import kv

__all__ = ["KINDS", "Participant"]

KINDS = ("order", "inventory", "payment")

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (key TEXT PRIMARY KEY, initial INTEGER NOT NULL, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, user TEXT, items TEXT, total INTEGER, at REAL);
CREATE TABLE IF NOT EXISTS txlog (txn TEXT PRIMARY KEY, state TEXT NOT NULL, work TEXT NOT NULL,
                                  prepared_at REAL, decided_at REAL, note TEXT);
CREATE TABLE IF NOT EXISTS lost (txn TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def work_of(kind: str, t: Mapping[str, Any]) -> dict[str, Any]:
    """This participant's share of transaction ``t``: what it locks at prepare and applies at commit."""
    if "kv" in t:  # a general transaction: its micro-ops here (reads filled in at prepare)
        return {"kv": [list(m) for m in t["kv"]]}
    if kind == "order":
        return {"order": t["txn"], "user": t["user"], "items": t["items"], "total": t["total"]}
    if kind == "inventory":
        return {"items": [[p, int(q)] for p, q in t["items"]]}
    return {"user": t["user"], "amount": int(t["total"])}


def _need(kind: str, work: Mapping[str, Any]) -> dict[str, int]:
    """Resource key -> amount the work takes (nothing for an order: its lock is its id, nor a kv work)."""
    if "kv" in work:
        return {}
    if kind == "inventory":
        need: dict[str, int] = {}
        for p, q in work["items"]:
            need[p] = need.get(p, 0) + int(q)
        return need
    if kind == "payment":
        return {work["user"]: int(work["amount"])}
    return {}


class Participant:
    """One participant node (see the module docstring)."""

    def __init__(self, *, kind: str, name: str, variant: str, db_path: str, initial: Mapping[str, int],
                 crash: CrashPoints, coordinator: tuple[str, int] | None, timeout: float,
                 inquire_after: float = 1.0, lock_wait: float | None = None) -> None:
        self.kind, self.name, self.variant, self.crash = kind, name, variant, crash
        self.coordinator, self.timeout, self.inquire_after = coordinator, timeout, inquire_after
        self.lock_wait = min(0.2, timeout / 3) if lock_wait is None else lock_wait  # well inside a call's timeout
        self.mu = threading.Lock()
        self.released = threading.Condition(self.mu)  # notified whenever a prepared transaction goes
        self._voting: dict[str, threading.Event] = {}  # txn -> set once its after-vote-yes point has passed
        self.db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        with self.db:
            for k, v in initial.items():
                self.db.execute("INSERT OR IGNORE INTO resources VALUES (?, ?, ?)", (k, v, v))
        # txn -> (work, since): the lock table. seed: memory only; durable: rebuilt from txlog.
        self.prepared: dict[str, tuple[dict[str, Any], float]] = {}
        self._stop = threading.Event()
        if variant != "durable":  # a previous incarnation's locks are gone: when, for the checker's lock bound
            self.db.execute("INSERT OR REPLACE INTO lost SELECT txn, ? FROM txlog t WHERE state='prepared' AND NOT "
                            "EXISTS (SELECT 1 FROM lost l WHERE l.txn=t.txn AND l.at >= t.prepared_at)", (time.time(),))
        if variant == "durable":
            for txn, work, at in self.db.execute("SELECT txn, work, prepared_at FROM txlog WHERE state='prepared'"):
                self.prepared[txn] = (json.loads(work), at)
            threading.Thread(target=self._resolver, daemon=True).start()

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/health"): lambda _: (200, {"status": "ok", "role": self.kind}),
                ("POST", "/prepare"): self.prepare, ("POST", "/commit"): self.commit,
                ("POST", "/abort"): self.abort, ("GET", "/snapshot"): lambda _: (200, self.snapshot()),
                ("GET", "/state"): lambda _: (200, self.state()),
                ("POST", "/disarm"): lambda _: (self.crash.disarm(), (200, {"disarmed": True}))[1]}

    # -- the protocol ----------------------------------------------------------------------------------

    def _locked(self) -> dict[str, int]:
        held: dict[str, int] = {}
        for work, _ in self.prepared.values():
            for k, n in _need(self.kind, work).items():
                held[k] = held.get(k, 0) + n
        return held

    def _feasible(self, txn: str, work: Mapping[str, Any]) -> str | None:
        """Why this participant must vote NO, or None."""
        if self.kind == "order":
            if self.db.execute("SELECT 1 FROM orders WHERE id=?", (txn,)).fetchone():
                return f"order {txn} exists"
            return None
        held = self._locked()
        for k, n in _need(self.kind, work).items():
            row = self.db.execute("SELECT value FROM resources WHERE key=?", (k,)).fetchone()
            if row is None:
                return f"unknown {k}"
            if row[0] - held.get(k, 0) < n:
                return f"{k}: {row[0] - held.get(k, 0)} free, {n} needed"
        return None

    def prepare(self, t: Any) -> tuple[int, Any]:
        if "kv" in t:
            return self._prepare_kv(t)
        txn = str(t["txn"])
        work = work_of(self.kind, t)
        now = time.time()
        with self.mu:
            if txn in self.prepared:
                return 200, {"vote": "YES"}
            row = self.db.execute("SELECT state FROM txlog WHERE txn=?", (txn,)).fetchone()
            if row is not None and self.variant == "durable" and row[0] != "prepared":
                return 200, {"vote": "YES" if row[0] == "committed" else "NO"}
            why = self._feasible(txn, work)
            if why is not None:
                self.db.execute("INSERT OR REPLACE INTO txlog VALUES (?, 'aborted', ?, NULL, ?, ?)",
                                (txn, json.dumps(work), now, f"voted NO: {why}"))
                return 200, {"vote": "NO", "reason": why}
            # seed: an observation row; durable: the prepare record, written before the vote
            self.db.execute("INSERT OR REPLACE INTO txlog VALUES (?, 'prepared', ?, ?, NULL, NULL)",
                            (txn, json.dumps(work), now))
            self.prepared[txn] = (work, now)
        self._after_vote_yes(txn)
        return 200, {"vote": "YES"}

    # -- general transactions (see targets.two_pc.kv) -------------------------------------------------

    def _value(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _kv_conflict(self, txn: str, want: Mapping[str, str]) -> tuple[str, str] | None:
        held = ((t, kv.modes(w["kv"])) for t, (w, _) in self.prepared.items() if t != txn and "kv" in w)
        return kv.conflict(want, held)

    @staticmethod
    def _reads(work: Mapping[str, Any]) -> list[list[Any]]:
        return [[i, v] for i, f, _, v in work["kv"] if f == "r"]

    def _prepare_kv(self, t: Any) -> tuple[int, Any]:
        txn = str(t["txn"])
        mops = [list(m) for m in t["kv"]]
        want = kv.modes(mops)
        with self.mu:
            end = time.monotonic() + self.lock_wait
            clash = self._kv_conflict(txn, want)
            while clash is not None and (left := end - time.monotonic()) > 0:
                self.released.wait(left)
                clash = self._kv_conflict(txn, want)
            now = time.time()
            held = self.prepared.get(txn)
            if held is not None:
                return 200, {"vote": "YES", "reads": self._reads(held[0])}
            row = self.db.execute("SELECT state, work FROM txlog WHERE txn=?", (txn,)).fetchone()
            if row is not None and self.variant == "durable" and row[0] != "prepared":
                if row[0] == "committed":
                    return 200, {"vote": "YES", "reads": self._reads(json.loads(row[1]))}
                return 200, {"vote": "NO", "reason": "aborted before"}
            why = None if clash is None else f"key {clash[0]} locked by {clash[1]}"
            if why is None:
                try:
                    reads, _ = kv.stage(mops, self._value)
                except ValueError as e:
                    why = str(e)
            if why is not None:
                self.db.execute("INSERT OR REPLACE INTO txlog VALUES (?, 'aborted', ?, NULL, ?, ?)",
                                (txn, json.dumps({"kv": mops}), now, f"voted NO: {why}"))
                return 200, {"vote": "NO", "reason": why}
            for i, v in reads:
                next(m for m in mops if m[0] == i)[3] = v
            work = {"kv": mops}
            # seed: an observation row; durable: the prepare record (locks and staged writes), before the vote
            self.db.execute("INSERT OR REPLACE INTO txlog VALUES (?, 'prepared', ?, ?, NULL, NULL)",
                            (txn, json.dumps(work), now))
            self.prepared[txn] = (work, now)
        self._after_vote_yes(txn)
        return 200, {"vote": "YES", "reads": reads}

    def _after_vote_yes(self, txn: str) -> None:
        """Schedule crash point ``after-vote-yes`` for ``txn`` if armed (see the module docstring)."""
        if not self.crash.is_armed("after-vote-yes"):
            return
        done = threading.Event()
        self._voting[txn] = done

        def point() -> None:
            try:
                self.crash.hit("after-vote-yes", txn)
            finally:
                self._voting.pop(txn, None)
                done.set()
        threading.Timer(0.005, point).start()

    def _past_vote(self, txn: str) -> None:
        """Wait (at most 1 s) for ``txn``'s pending after-vote-yes point: the process may die there."""
        pending = self._voting.get(txn)
        if pending is not None:
            pending.wait(1.0)

    def _apply(self, txn: str, work: Mapping[str, Any], now: float) -> None:
        if "kv" in work:
            with self.db:
                for key, value in kv.apply_writes(work["kv"], self._value).items():
                    self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, json.dumps(value)))
                self.db.execute("UPDATE txlog SET state='committed', decided_at=? WHERE txn=?", (now, txn))
            return
        with self.db:
            for k, n in _need(self.kind, work).items():
                self.db.execute("UPDATE resources SET value = value - ? WHERE key=?", (n, k))
            if self.kind == "order":
                self.db.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                                (txn, work["user"], json.dumps(work["items"]), work["total"], now))
            self.db.execute("UPDATE txlog SET state='committed', decided_at=? WHERE txn=?", (now, txn))

    def commit(self, b: Any) -> tuple[int, Any]:
        txn = str(b["txn"])
        self._past_vote(txn)
        now = time.time()
        with self.mu:
            held = self.prepared.get(txn)
            if held is None:
                row = self.db.execute("SELECT state FROM txlog WHERE txn=?", (txn,)).fetchone()
                if self.variant == "durable" and row is not None and row[0] == "committed":
                    return 200, {"ack": True}
                raise HttpError(409, "Transaction not prepared")
            self._apply(txn, held[0], now)
            del self.prepared[txn]
            self.released.notify_all()
        return 200, {"ack": True}

    def abort(self, b: Any) -> tuple[int, Any]:
        txn = (b or {}).get("txn")
        if txn is None:  # the guide's `const { orderId } = transaction` with no transaction
            raise HttpError(400, "abort without a transaction: nothing to release")
        txn = str(txn)
        self._past_vote(txn)
        now = time.time()
        with self.mu:
            if txn in self.prepared:
                self.db.execute("UPDATE txlog SET state='aborted', decided_at=?, note='aborted' WHERE txn=?",
                                (now, txn))
                del self.prepared[txn]
                self.released.notify_all()
            elif self.variant == "durable":
                row = self.db.execute("SELECT state FROM txlog WHERE txn=?", (txn,)).fetchone()
                if row is not None and row[0] == "committed":
                    raise HttpError(409, f"{txn} is committed")
                if row is None:  # remember it: a prepare arriving late votes NO
                    self.db.execute("INSERT INTO txlog VALUES (?, 'aborted', '{}', NULL, ?, 'abort before prepare')",
                                    (txn, now))
        return 200, {"ack": True}

    def _resolver(self) -> None:
        """durable: ask the coordinator about every transaction held prepared for too long."""
        while not self._stop.wait(0.3):
            with self.mu:
                old = [t for t, (_, at) in self.prepared.items() if time.time() - at > self.inquire_after]
            for txn in old:
                if self.coordinator is None:
                    break
                try:
                    d = call(self.coordinator, "POST", "/decision", {"txn": txn}, timeout=self.timeout)
                except (Refused, Unreachable):
                    break  # the coordinator is down or cut off: stay blocked, ask again later
                if d.get("decision") == "commit":
                    self.commit({"txn": txn})
                    log(self.name, f"{txn}: in doubt, coordinator says commit")
                elif d.get("decision") == "abort":
                    self.abort({"txn": txn})
                    log(self.name, f"{txn}: in doubt, coordinator says abort")

    def close(self) -> None:
        """Stop the resolver (an in-process node; a real one just dies)."""
        self._stop.set()

    # -- reads -----------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Read-only figures: resources and what this participant's committed work took from them."""
        with self.mu:
            res = {k: v for k, v in self.db.execute("SELECT key, value FROM resources")}
            initial = {k: v for k, v in self.db.execute("SELECT key, initial FROM resources")}
            taken: dict[str, int] = {}
            for (work,) in self.db.execute("SELECT work FROM txlog WHERE state='committed'"):
                for k, n in _need(self.kind, json.loads(work)).items():
                    taken[k] = taken.get(k, 0) + n
            orders = self.db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        return {"participant": self.kind, "resources": res, "initial": initial, "taken": taken, "orders": orders}

    def state(self) -> dict[str, Any]:
        """The final read: transaction log, lock table, resources, crash records, wall clock."""
        with self.mu:
            lost = dict(self.db.execute("SELECT txn, at FROM lost"))
            logrows = {t: {"state": s, "work": json.loads(w), "prepared_at": p, "decided_at": d, "note": n,
                           "lost_at": lost.get(t)}
                       for t, s, w, p, d, n in self.db.execute("SELECT txn, state, work, prepared_at, decided_at, "
                                                                "note FROM txlog")}
            locks = [{"txn": t, "since": at,
                      "holds": kv.modes(w["kv"]) if "kv" in w else _need(self.kind, w) or {"order": t}}
                     for t, (w, at) in sorted(self.prepared.items())]
        snap = self.snapshot()
        return {"participant": self.kind, "name": self.name, "log": logrows, "locks": locks,
                "resources": snap["resources"], "initial": snap["initial"], "orders": snap["orders"],
                "crashes": self.crash.fired(), "now": time.time()}
