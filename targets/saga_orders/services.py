"""The order, inventory and payment services: each its own process and SQLite database.

Every service keeps its state in ``<data_dir>/<role>.db`` (WAL, synchronous
FULL: what a service acknowledged survives SIGKILL) and exposes ``GET
/state`` (its whole database, for the final reads) and ``GET /health``.

The services are the same in every variant except in what the variant claims:

* ``seed`` / ``choreography``: steps are not idempotent. Every ``/create``
  makes a new order, every ``/reserve`` a new reservation, every ``/charge``
  a new charge; compensations take the id the step returned (``/release``
  a reservation id, ``/refund`` a payment id), so a step whose answer was
  lost can never be compensated. Reservations never expire.
* ``durable``: every step and compensation is keyed by the order id. A
  repeated step returns the first one's result; a compensation leaves a
  tombstone, so a step that arrives after its compensation (a delayed
  packet, a retry) is refused instead of taking effect; ``/query`` answers
  "did this step happen?". Reservations not confirmed within
  ``--reservation-ttl`` seconds expire (the guide's 15 minutes, shortened).

Choreography handlers (``POST /event``) react to the bus's events as the
guide's ``InventoryService`` and ``PaymentService`` do, and publish the next
event to the bus; a handler's error is the bus's to log and drop.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any, Callable

from harness.node.crashpoints import CrashPoints
from harness.node.http import HttpError, call, log

__all__ = ["Db", "Inventory", "Orders", "Payments"]

Address = tuple[str, int]


class Db:
    """One SQLite file, one connection, one lock: each method body is a transaction."""

    def __init__(self, path: str, schema: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(schema)
        self.lock = threading.Lock()

    def tx(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self.conn)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return out

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with self.lock:
            cur = self.conn.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]


class _Service:
    def __init__(self, *, name: str, variant: str, db: Db, crash: CrashPoints, bus: Address | None,
                 timeout: float) -> None:
        self.name, self.variant, self.db, self.crash = name, variant, db, crash
        self.bus, self.timeout = bus, timeout
        self.durable = variant == "durable"

    def publish(self, type_: str, data: dict[str, Any]) -> None:
        """The guide's ``await eventBus.publish(...)``: an unreachable bus raises, and the event is lost."""
        assert self.bus is not None, "publish without a bus"
        call(self.bus, "POST", "/publish", {"type": type_, "data": data, "from": self.name}, timeout=self.timeout)

    def health(self, _: Any) -> tuple[int, Any]:
        return 200, {"status": "ok", "role": self.name}

    def routes(self) -> dict[tuple[str, str], Callable[[Any], tuple[int, Any]]]:
        r: dict[tuple[str, str], Callable[[Any], tuple[int, Any]]] = {
            ("GET", "/health"): self.health, ("GET", "/state"): self.state, ("POST", "/event"): self.event,
            ("POST", "/disarm"): lambda _: (self.crash.disarm(), (200, {"disarmed": True}))[1]}
        for name in dir(self):
            if name.startswith("op_"):
                r[("POST", "/" + name[3:])] = getattr(self, name)
        return r

    def state(self, _: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def event(self, ev: Any) -> tuple[int, Any]:
        raise HttpError(404, f"{self.name} subscribes to no event {ev.get('type')!r}")


class Orders(_Service):
    """Orders: ``id, key, user, items, total, status (PENDING|CONFIRMED|CANCELLED)``."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, key TEXT, user TEXT, items TEXT,
                total INTEGER, status TEXT, created REAL, updated REAL);"""

    def op_create(self, b: Any) -> tuple[int, Any]:
        now = time.time()

        def tx(c: sqlite3.Connection) -> str:
            if self.durable:  # the orchestrator names the order after the claimed key
                c.execute("INSERT OR IGNORE INTO orders VALUES (?,?,?,?,?,'PENDING',?,?)",
                          (b["order"], b["key"], b["user"], json.dumps(b["items"]), b["total"], now, now))
                return str(b["order"])
            n = c.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
            oid = f"o{n + 1}"
            c.execute("INSERT INTO orders VALUES (?,?,?,?,?,'PENDING',?,?)",
                      (oid, b["key"], b["user"], json.dumps(b["items"]), b["total"], now, now))
            return oid
        return 200, {"id": self.db.tx(tx)}

    def op_status(self, b: Any) -> tuple[int, Any]:
        """Set an order's status; in ``durable`` a terminal status never changes."""
        def tx(c: sqlite3.Connection) -> str | None:
            row = c.execute("SELECT status FROM orders WHERE id=?", (b["id"],)).fetchone()
            if row is None:
                return None
            if self.durable and row[0] != "PENDING" and row[0] != b["status"]:
                raise HttpError(409, f"order {b['id']} is already {row[0]}")
            c.execute("UPDATE orders SET status=?, updated=? WHERE id=?", (b["status"], time.time(), b["id"]))
            return str(row[0])
        if self.db.tx(tx) is None:
            raise HttpError(404, f"no order {b['id']}")
        return 200, {"id": b["id"], "status": b["status"]}

    def op_create_order(self, b: Any) -> tuple[int, Any]:
        """Choreography: the guide's ``OrderService.createOrder``: insert PENDING, publish ORDER_CREATED."""
        _, d = self.op_create(b)
        self.crash.hit("after-create", d["id"])
        self.publish("ORDER_CREATED", {"order": d["id"], "user": b["user"], "items": b["items"],
                                       "total": b["total"]})
        return 200, {"id": d["id"], "status": "PENDING"}

    def event(self, ev: Any) -> tuple[int, Any]:
        status = {"PAYMENT_COMPLETED": "CONFIRMED", "PAYMENT_FAILED": "CANCELLED",
                  "INVENTORY_DEDUCTION_FAILED": "CANCELLED"}.get(ev["type"])
        if status is None:
            return super().event(ev)
        return self.op_status({"id": ev["data"]["order"], "status": status})

    def op_get(self, b: Any) -> tuple[int, Any]:
        """The orders placed under one idempotency key: ``{"orders": [{id, status}]}``."""
        rows = self.db.rows("SELECT id, key, status FROM orders ORDER BY created")
        return 200, {"orders": [{"id": r["id"], "status": r["status"]} for r in rows if r["key"] == b["key"]]}

    def state(self, _: Any) -> tuple[int, Any]:
        rows = self.db.rows("SELECT * FROM orders ORDER BY created")
        for r in rows:
            r["items"] = json.loads(r["items"])
        return 200, {"orders": rows, "crashes": self.crash.fired()}


class Inventory(_Service):
    """Stock per product and reservations ``id, order, items, state (reserved|confirmed|released|expired)``."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS stock (product TEXT PRIMARY KEY, initial INTEGER, available INTEGER);
                CREATE TABLE IF NOT EXISTS reservations (id TEXT PRIMARY KEY, order_id TEXT, items TEXT,
                  state TEXT, created REAL, updated REAL);
                CREATE TABLE IF NOT EXISTS released_orders (order_id TEXT PRIMARY KEY);"""

    def __init__(self, *, stock: dict[str, int], ttl: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.ttl = ttl
        self.db.tx(lambda c: [c.execute("INSERT OR IGNORE INTO stock VALUES (?,?,?)", (p, n, n))
                              for p, n in stock.items()])
        if self.durable and ttl > 0:
            threading.Thread(target=self._expire_loop, daemon=True).start()

    def _take(self, c: sqlite3.Connection, order: str, items: list[list[Any]], state: str) -> str:
        for p, q in items:
            row = c.execute("SELECT available FROM stock WHERE product=?", (p,)).fetchone()
            if row is None or row[0] < q:
                raise HttpError(409, f"insufficient stock for {p}: {0 if row is None else row[0]} < {q}")
        for p, q in items:
            c.execute("UPDATE stock SET available=available-? WHERE product=?", (q, p))
        n = c.execute("SELECT COUNT(*) FROM reservations").fetchone()[0]
        rid = f"r{n + 1}"
        now = time.time()
        c.execute("INSERT INTO reservations VALUES (?,?,?,?,?,?)", (rid, order, json.dumps(items), state, now, now))
        return rid

    def _give_back(self, c: sqlite3.Connection, rid: str, new_state: str, from_states: tuple[str, ...]) -> bool:
        row = c.execute("SELECT items, state FROM reservations WHERE id=?", (rid,)).fetchone()
        if row is None or row[1] not in from_states:
            return False
        for p, q in json.loads(row[0]):
            c.execute("UPDATE stock SET available=available+? WHERE product=?", (q, p))
        c.execute("UPDATE reservations SET state=?, updated=? WHERE id=?", (new_state, time.time(), rid))
        return True

    def _of_order(self, c: sqlite3.Connection, order: str) -> tuple[str, str] | None:
        row = c.execute("SELECT id, state FROM reservations WHERE order_id=? ORDER BY created LIMIT 1",
                        (order,)).fetchone()
        return None if row is None else (row[0], row[1])

    def op_reserve(self, b: Any) -> tuple[int, Any]:
        def tx(c: sqlite3.Connection) -> str:
            if self.durable:
                if c.execute("SELECT 1 FROM released_orders WHERE order_id=?", (b["order"],)).fetchone():
                    raise HttpError(409, f"order {b['order']} was already released")
                have = self._of_order(c, b["order"])
                if have is not None:
                    return have[0]
            return self._take(c, b["order"], b["items"], "reserved")
        rid = self.db.tx(tx)
        self.crash.hit("after-reserve-commit", b["order"])
        return 200, {"id": rid}

    def op_confirm(self, b: Any) -> tuple[int, Any]:
        def tx(c: sqlite3.Connection) -> str:
            rid = b.get("reservation")
            if self.durable:
                have = self._of_order(c, b["order"])
                if have is None or have[1] not in ("reserved", "confirmed"):
                    raise HttpError(409, f"order {b['order']} holds no live reservation ({have})")
                rid = have[0]
            row = c.execute("SELECT state FROM reservations WHERE id=?", (rid,)).fetchone()
            if row is None:
                raise HttpError(404, f"no reservation {rid}")
            c.execute("UPDATE reservations SET state='confirmed', updated=? WHERE id=?", (time.time(), rid))
            return str(rid)
        return 200, {"id": self.db.tx(tx)}

    def op_release(self, b: Any) -> tuple[int, Any]:
        def tx(c: sqlite3.Connection) -> bool:
            if self.durable:
                c.execute("INSERT OR IGNORE INTO released_orders VALUES (?)", (b["order"],))
                have = self._of_order(c, b["order"])
                return have is not None and self._give_back(c, have[0], "released", ("reserved", "confirmed"))
            if not b.get("reservation"):
                raise HttpError(400, "release needs a reservation id")
            return self._give_back(c, b["reservation"], "released", ("reserved", "confirmed"))
        return 200, {"released": self.db.tx(tx)}

    def _expire_loop(self) -> None:
        while True:
            time.sleep(0.5)
            cutoff = time.time() - self.ttl

            def tx(c: sqlite3.Connection) -> list[str]:
                old = [r[0] for r in c.execute(
                    "SELECT id FROM reservations WHERE state='reserved' AND created < ?", (cutoff,))]
                return [rid for rid in old if self._give_back(c, rid, "expired", ("reserved",))]
            for rid in self.db.tx(tx):
                log(self.name, f"reservation {rid} expired")

    def event(self, ev: Any) -> tuple[int, Any]:
        """Choreography: ORDER_CREATED deducts stock, PAYMENT_FAILED restores it (the guide's handlers)."""
        d = ev["data"]
        if ev["type"] == "ORDER_CREATED":
            try:
                self.db.tx(lambda c: self._take(c, d["order"], d["items"], "confirmed"))
            except HttpError as e:
                self.publish("INVENTORY_DEDUCTION_FAILED", {"order": d["order"], "reason": str(e)})
                return 200, {"deducted": False}
            self.crash.hit("after-deduct", d["order"])
            self.publish("INVENTORY_DEDUCTED", d)
            return 200, {"deducted": True}
        if ev["type"] == "PAYMENT_FAILED":
            def tx(c: sqlite3.Connection) -> bool:
                have = self._of_order(c, d["order"])
                return have is not None and self._give_back(c, have[0], "released", ("confirmed", "reserved"))
            self.db.tx(tx)
            self.publish("INVENTORY_RESTORED", {"order": d["order"]})
            return 200, {"restored": True}
        return super().event(ev)

    def state(self, _: Any) -> tuple[int, Any]:
        res = self.db.rows("SELECT * FROM reservations ORDER BY created")
        for r in res:
            r["items"] = json.loads(r["items"])
        stock = {r["product"]: {"initial": r["initial"], "available": r["available"]}
                 for r in self.db.rows("SELECT * FROM stock")}
        return 200, {"stock": stock, "reservations": res, "crashes": self.crash.fired()}


class Payments(_Service):
    """Balances per user and charges ``id, order, user, amount, state (charged|refunded)``."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS balances (user TEXT PRIMARY KEY, initial INTEGER, balance INTEGER);
                CREATE TABLE IF NOT EXISTS charges (id TEXT PRIMARY KEY, order_id TEXT, user TEXT, amount INTEGER,
                  state TEXT, created REAL, updated REAL);
                CREATE TABLE IF NOT EXISTS refunded_orders (order_id TEXT PRIMARY KEY);"""

    def __init__(self, *, balances: dict[str, int], **kw: Any) -> None:
        super().__init__(**kw)
        self.db.tx(lambda c: [c.execute("INSERT OR IGNORE INTO balances VALUES (?,?,?)", (u, n, n))
                              for u, n in balances.items()])

    def _charge(self, c: sqlite3.Connection, order: str, user: str, amount: int) -> str:
        if self.durable:
            if c.execute("SELECT 1 FROM refunded_orders WHERE order_id=?", (order,)).fetchone():
                raise HttpError(409, f"order {order} was already refunded")
            row = c.execute("SELECT id FROM charges WHERE order_id=?", (order,)).fetchone()
            if row is not None:
                return str(row[0])
        bal = c.execute("SELECT balance FROM balances WHERE user=?", (user,)).fetchone()
        if bal is None or bal[0] < amount:
            raise HttpError(402, f"payment declined: {user} has {0 if bal is None else bal[0]} < {amount}")
        c.execute("UPDATE balances SET balance=balance-? WHERE user=?", (amount, user))
        n = c.execute("SELECT COUNT(*) FROM charges").fetchone()[0]
        pid = f"c{n + 1}"
        now = time.time()
        c.execute("INSERT INTO charges VALUES (?,?,?,?,'charged',?,?)", (pid, order, user, amount, now, now))
        return pid

    def op_charge(self, b: Any) -> tuple[int, Any]:
        pid = self.db.tx(lambda c: self._charge(c, b["order"], b["user"], int(b["amount"])))
        self.crash.hit("after-charge-commit", b["order"])
        return 200, {"id": pid}

    def op_refund(self, b: Any) -> tuple[int, Any]:
        def tx(c: sqlite3.Connection) -> int:
            if self.durable:
                c.execute("INSERT OR IGNORE INTO refunded_orders VALUES (?)", (b["order"],))
                rows = c.execute("SELECT id, user, amount FROM charges WHERE order_id=? AND state='charged'",
                                 (b["order"],)).fetchall()
            else:
                if not b.get("payment"):
                    raise HttpError(400, "refund needs a payment id")
                rows = c.execute("SELECT id, user, amount FROM charges WHERE id=? AND state='charged'",
                                 (b["payment"],)).fetchall()
            for pid, user, amount in rows:
                c.execute("UPDATE balances SET balance=balance+? WHERE user=?", (amount, user))
                c.execute("UPDATE charges SET state='refunded', updated=? WHERE id=?", (time.time(), pid))
            return len(rows)
        return 200, {"refunded": self.db.tx(tx)}

    def op_query(self, b: Any) -> tuple[int, Any]:
        rows = self.db.rows("SELECT * FROM charges")
        return 200, {"charges": [r for r in rows if r["order_id"] == b["order"]]}

    def event(self, ev: Any) -> tuple[int, Any]:
        """Choreography: INVENTORY_DEDUCTED charges the user; PAYMENT_COMPLETED or PAYMENT_FAILED follows."""
        if ev["type"] != "INVENTORY_DEDUCTED":
            return super().event(ev)
        d = ev["data"]
        try:
            pid = self.db.tx(lambda c: self._charge(c, d["order"], d["user"], int(d["total"])))
        except HttpError as e:
            self.publish("PAYMENT_FAILED", {**d, "reason": str(e)})
            return 200, {"charged": False}
        self.crash.hit("after-charge", d["order"])
        self.publish("PAYMENT_COMPLETED", {"order": d["order"], "payment": pid})
        return 200, {"charged": True}

    def state(self, _: Any) -> tuple[int, Any]:
        bal = {r["user"]: {"initial": r["initial"], "balance": r["balance"]}
               for r in self.db.rows("SELECT * FROM balances")}
        return 200, {"charges": self.db.rows("SELECT * FROM charges ORDER BY created"), "balances": bal,
                     "crashes": self.crash.fired()}
