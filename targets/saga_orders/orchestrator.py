"""The client-facing node: the saga orchestrator (``seed``, ``durable``) or the gateway (``choreography``).

``POST /place {key, user, items}`` places an order; ``POST /status {key}``
reads the order service's orders for a key; ``POST /final {wait}``
waits until no order is PENDING (or ``wait`` seconds passed) and returns
every service's own state (the final reads).

* :class:`SeedSaga` is the guide's ``SagaOrchestrator`` driven by §5's
  ``OrderService.createOrder``: steps createOrder, reserveInventory,
  processPayment, confirmInventory, confirmOrder; progress lives only in
  this process's memory; a step that times out counts as failed, and only
  steps that returned a result are compensated; a failed compensation is
  logged and dropped; the idempotency result is cached (in memory) only
  after success.
* :class:`DurableSaga` is the corrected flow: the key is claimed and the
  saga row written to SQLite before the first step; the step reached is
  persisted before each step; every call is keyed by the order id; a step
  with no answer is retried (idempotent, so a retry is the query) and never
  taken for a failure; a definite refusal starts compensation, which is
  retried until it succeeds; a background driver resumes every unfinished
  saga after a restart.
* :class:`Gateway` forwards to the order service's ``/create_order``
  (choreography): the order's fate is the bus's.
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

__all__ = ["DurableSaga", "Gateway", "SeedSaga", "final_state"]

Address = tuple[str, int]
SERVICES = ("order", "inventory", "payment")


def order_total(items: list[list[Any]], prices: Mapping[str, int]) -> int:
    return sum(prices[p] * q for p, q in items)


def final_state(services: Mapping[str, Address], wait: float, self_crashes: list[dict[str, Any]],
                timeout: float, trace: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Disarm every service's crash points, wait until no order is PENDING (at most ``wait`` s), read every database.

    ``trace`` is the orchestrator's step trace (:class:`StepTrace`), returned as ``"trace"``.
    """
    end = time.monotonic() + wait
    for s in services:
        try:
            call(services[s], "POST", "/disarm", {}, timeout=timeout)
        except (Refused, Unreachable) as e:
            log("orchestrator", f"could not disarm {s}: {e}")
    while True:
        try:
            orders = call(services["order"], "GET", "/state", timeout=timeout)["orders"]
            if not any(o["status"] == "PENDING" for o in orders) or time.monotonic() >= end:
                break
        except (Refused, Unreachable):
            if time.monotonic() >= end:
                break
        time.sleep(0.25)
    out: dict[str, Any] = {"crashes": list(self_crashes), "now": time.time(), "trace": list(trace or [])}
    for s in SERVICES:
        d = _state_of(services[s], timeout)
        out["crashes"] += d.pop("crashes", [])
        out.update(d)
    if "bus" in services:  # choreography's deliveries (the other variants leave the bus idle)
        try:
            out["bus_trace"] = call(services["bus"], "GET", "/trace", timeout=timeout)["trace"]
        except (Refused, Unreachable) as e:
            log("orchestrator", f"could not read the bus's trace: {e}")
    out["now"] = time.time()  # after the reads: the checker aligns clocks by it and the op's completion
    return out


def _state_of(address: Address, timeout: float, tries: int = 5) -> Any:
    for i in range(tries):
        try:
            return call(address, "GET", "/state", timeout=timeout)
        except Unreachable:
            if i == tries - 1:
                raise
            time.sleep(0.5)


class _Front:
    def __init__(self, *, name: str, services: Mapping[str, Address], prices: Mapping[str, int],
                 crash: CrashPoints, timeout: float) -> None:
        self.name, self.services, self.prices, self.crash, self.timeout = name, services, prices, crash, timeout
        self.trace = StepTrace(crash.file.parent, name)  # beside crashes.jsonl, in the node's data dir

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/health"): lambda _: (200, {"status": "ok", "role": "orchestrator"}),
                ("POST", "/place"): self.place,
                ("POST", "/status"): lambda b: (200, self._call("order", "/get", {"key": b["key"]})),
                ("POST", "/disarm"): lambda _: (self.crash.disarm(), (200, {"disarmed": True}))[1],
                ("POST", "/final"): self.final}

    def final(self, b: Any) -> tuple[int, Any]:
        self.crash.disarm()
        return 200, final_state(self.services, float((b or {}).get("wait", 10)), self.crash.fired(), self.timeout * 4,
                                self.trace.read())

    def _call(self, svc: str, path: str, body: Any) -> Any:
        return call(self.services[svc], "POST", path, body, timeout=self.timeout)

    def _step(self, order: Any, step: str, svc: str, path: str, body: Any) -> Any:
        """``_call``, recorded in the step trace under ``order``."""
        return self.trace.call(order, step, svc, lambda: self._call(svc, path, body),
                               detail=lambda d: d.get("id") if isinstance(d, dict) else None)

    def place(self, b: Any) -> tuple[int, Any]:
        raise NotImplementedError


class Gateway(_Front):
    def place(self, b: Any) -> tuple[int, Any]:
        total = order_total(b["items"], self.prices)
        d = self._step(b["key"], "createOrder", "order", "/create_order", {**b, "total": total})
        return 200, {"status": "PENDING", "order": d["id"]}


class SeedSaga(_Front):
    """The guide's saga, flaws and all (see the module docstring)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.cache: dict[str, Any] = {}  # cacheIdempotencyResult: in memory, after success only

    def place(self, b: Any) -> tuple[int, Any]:
        key = b["key"]
        if key in self.cache:
            return 200, self.cache[key]
        total = order_total(b["items"], self.prices)
        executed: list[tuple[str, Any]] = []
        oid = None
        try:
            oid = self._step(key, "createOrder", "order", "/create", {**b, "total": total})["id"]
            executed.append(("createOrder", oid))
            self.crash.hit("after-create", oid)
            rid = self._step(oid, "reserveInventory", "inventory", "/reserve",
                             {"order": oid, "items": b["items"]})["id"]
            executed.append(("reserveInventory", rid))
            self.crash.hit("after-reserve", oid)
            pid = self._step(oid, "processPayment", "payment", "/charge",
                             {"order": oid, "user": b["user"], "amount": total})["id"]
            executed.append(("processPayment", pid))
            self.crash.hit("after-charge", oid)
            self._step(oid, "confirmInventory", "inventory", "/confirm", {"order": oid, "reservation": rid})
            executed.append(("confirmInventory", None))
            self.crash.hit("after-confirm-inventory", oid)
            self._step(oid, "confirmOrder", "order", "/status", {"id": oid, "status": "CONFIRMED"})
        except (Refused, Unreachable) as e:  # a timeout is a failure, like any other error
            log(self.name, f"order {oid}: step failed: {e}; compensating {[s for s, _ in executed]}")
            self.crash.hit("before-compensate", oid)
            for step, result in reversed(executed):
                try:
                    if step == "createOrder":
                        self._step(oid, "cancelOrder", "order", "/status", {"id": result, "status": "CANCELLED"})
                    elif step == "reserveInventory":
                        self._step(oid, "releaseInventory", "inventory", "/release",
                                   {"order": oid, "reservation": result})
                    elif step == "processPayment":
                        self._step(oid, "refundPayment", "payment", "/refund", {"order": oid, "payment": result})
                except (Refused, Unreachable) as ce:  # "needs recording and maybe a human": dropped
                    log(self.name, f"order {oid}: compensation of {step} failed: {ce}")
            return 200, {"status": "FAILED", "order": oid, "error": str(e)}
        result_doc = {"status": "CONFIRMED", "order": oid}
        self.cache[key] = result_doc
        return 200, result_doc


class DurableSaga(_Front):
    """The corrected saga (see the module docstring)."""

    STEPS = ("create", "reserve", "charge", "confirm-inventory", "confirm-order")

    def __init__(self, *, data_dir: str, budget: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.budget = budget
        self.conn = sqlite3.connect(f"{data_dir}/saga.db", isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("""CREATE TABLE IF NOT EXISTS sagas (key TEXT PRIMARY KEY, order_id TEXT, body TEXT,
                             total INTEGER, step INTEGER, state TEXT, result TEXT)""")
        self.db_lock = threading.Lock()
        self.locks: dict[str, threading.Lock] = {}
        threading.Thread(target=self._driver, daemon=True).start()

    def _row(self, key: str) -> tuple[Any, ...] | None:
        with self.db_lock:
            return self.conn.execute("SELECT order_id, body, total, step, state, result FROM sagas WHERE key=?",
                                     (key,)).fetchone()

    def _set(self, key: str, **cols: Any) -> None:
        sets = ", ".join(f"{c}=?" for c in cols)
        with self.db_lock:
            self.conn.execute(f"UPDATE sagas SET {sets} WHERE key=?", (*cols.values(), key))

    def place(self, b: Any) -> tuple[int, Any]:
        key = b["key"]
        total = order_total(b["items"], self.prices)
        with self.db_lock:  # claim the key before any step
            self.conn.execute("INSERT OR IGNORE INTO sagas VALUES (?,?,?,?,0,'running',NULL)",
                              (key, f"o-{key}", json.dumps(b), total))
        out = self.drive(key, time.monotonic() + self.budget)
        return 200, out

    def _lock(self, key: str) -> threading.Lock:
        with self.db_lock:
            return self.locks.setdefault(key, threading.Lock())

    def drive(self, key: str, deadline: float) -> dict[str, Any]:
        """Run the saga of ``key`` forward or back as far as it goes before ``deadline``."""
        lock = self._lock(key)
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return {"status": "PENDING", "order": f"o-{key}"}
        try:
            return self._drive(key, deadline)
        finally:
            lock.release()

    _STEP_OF = {"/create": "createOrder", "/reserve": "reserveInventory", "/charge": "processPayment",
                "/confirm": "confirmInventory", "/refund": "refundPayment", "/release": "releaseInventory"}

    def _retry(self, svc: str, path: str, body: Any, deadline: float) -> Any:
        """Send until answered: a timeout is not a failure, and the step is idempotent.

        Recorded in the step trace once, from the first attempt to the answer (``detail``: attempts).
        """
        order = body.get("order", body.get("id"))
        step = self._STEP_OF.get(path) or ("cancelOrder" if body.get("status") == "CANCELLED" else "confirmOrder")
        start, attempts = time.time(), 0
        while True:
            attempts += 1
            try:
                out = self._call(svc, path, body)
            except Refused as e:
                self.trace.record(order, step, to=svc, start=start, outcome="refused", error=str(e),
                                  detail={"attempts": attempts})
                raise
            except Unreachable as e:
                if time.monotonic() >= deadline:
                    self.trace.record(order, step, to=svc, start=start, outcome="unreachable", error=str(e),
                                      detail={"attempts": attempts})
                    raise
                time.sleep(0.1)
                continue
            self.trace.record(order, step, to=svc, start=start, detail={"attempts": attempts})
            return out

    def _drive(self, key: str, deadline: float) -> dict[str, Any]:
        row = self._row(key)
        assert row is not None
        oid, body, total, step, state, result = row
        b = json.loads(body)
        if state in ("CONFIRMED", "CANCELLED"):
            return json.loads(result)
        try:
            while state == "running" and step < len(self.STEPS):
                name = self.STEPS[step]
                try:
                    if name == "create":
                        self._retry("order", "/create", {**b, "order": oid, "total": total}, deadline)
                    elif name == "reserve":
                        self._retry("inventory", "/reserve", {"order": oid, "items": b["items"]}, deadline)
                    elif name == "charge":
                        self._retry("payment", "/charge", {"order": oid, "user": b["user"], "amount": total},
                                    deadline)
                    elif name == "confirm-inventory":
                        self._retry("inventory", "/confirm", {"order": oid}, deadline)
                    else:
                        self._retry("order", "/status", {"id": oid, "status": "CONFIRMED"}, deadline)
                except Refused as e:
                    log(self.name, f"order {oid}: {name} refused ({e}); compensating")
                    state = "compensating"
                    self._set(key, state=state, result=json.dumps({"error": str(e)}))
                    break
                self.crash.hit(f"after-{name}", oid)
                step += 1
                self._set(key, step=step)
            if state == "running":
                doc = {"status": "CONFIRMED", "order": oid}
                self._set(key, state="CONFIRMED", result=json.dumps(doc))
                return doc
            self.crash.hit("before-compensate", oid)
            why = json.loads(result or self._row(key)[5] or "{}").get("error", "")  # type: ignore[index]
            self._retry("payment", "/refund", {"order": oid}, deadline)
            self._retry("inventory", "/release", {"order": oid}, deadline)
            try:
                self._retry("order", "/status", {"id": oid, "status": "CANCELLED"}, deadline)
            except Refused:  # no order row: the create step never ran
                pass
            doc = {"status": "FAILED", "order": oid, "error": why}
            self._set(key, state="CANCELLED", result=json.dumps(doc))
            return doc
        except Unreachable:
            return {"status": "PENDING", "order": oid}

    def _driver(self) -> None:
        """Resume every unfinished saga: after a restart, and sagas whose client gave up."""
        while True:
            time.sleep(0.5)
            with self.db_lock:
                keys = [r[0] for r in self.conn.execute(
                    "SELECT key FROM sagas WHERE state IN ('running', 'compensating')")]
            for key in keys:
                lock = self._lock(key)
                if lock.acquire(blocking=False):
                    try:
                        self._drive(key, time.monotonic() + 2.0)
                    except HttpError as e:
                        log(self.name, f"saga {key}: {e}")
                    finally:
                        lock.release()
