"""Properties of the Elle checkers against executions whose isolation is known.

1. A store that applies each transaction atomically at one instant inside its
   interval (so one at a time, in real-time order), with ``fail`` transactions
   and ``info`` ones (applied or not) mixed in, is strict serializable: both
   checkers must say valid under ``strict-serializable``.
2. A small multi-version store with snapshot isolation (snapshot at the first
   micro-op, first committer wins, micro-ops of concurrent transactions
   interleaved) never shows an anomaly that (strong) snapshot isolation
   proscribes; and it does produce write skew, so the property is not vacuous.
3. The same holds for real SQLite in WAL mode, one connection per process,
   ``BEGIN .. COMMIT`` per transaction, busy errors turning into failed
   transactions.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.api import Verdict
from checkers.elle import ListAppend, RWRegister
from harness.history import History
from tests.support.txn_histories import TxnLog

KEYS = ("x", "y", "z")


def assert_valid(res: Any, why: Any) -> None:
    """Valid; or unknown only because nothing committed (every transaction failed or crashed)."""
    assert res.verdict is Verdict.VALID or (res.verdict is Verdict.UNKNOWN and res.stats["ok"] == 0), why


def _plan(rng: random.Random, workload: str, counters: dict[str, int]) -> list[list[Any]]:
    mops = []
    for _ in range(rng.randint(1, 4)):
        k = rng.choice(KEYS)
        if rng.random() < 0.5:
            mops.append(["r", k, None])
        else:
            counters[k] = counters.get(k, 0) + 1
            mops.append(["append" if workload == "list-append" else "w", k, counters[k]])
    return mops


def _apply(state: dict[str, Any], mops: list[list[Any]], workload: str) -> list[list[Any]]:
    out = []
    for f, k, v in mops:
        if f == "r":
            cur = state.get(k)
            out.append([f, k, list(cur) if isinstance(cur, list) else cur])
        else:
            state[k] = state.get(k, []) + [v] if workload == "list-append" else v
            out.append([f, k, v])
    return out


def serial_history(rng: random.Random, workload: str, n: int, procs: int) -> History:
    """Each transaction takes effect atomically at an instant between its invocation and completion."""
    log = TxnLog()
    state: dict[str, Any] = {}
    counters: dict[str, int] = {}
    phase: dict[int, str] = {}          # process -> "invoked" | "applied"
    result: dict[int, list[list[Any]]] = {}
    started = 0
    while started < n or phase:
        p = rng.randrange(procs)
        ph = phase.get(p)
        if ph is None:
            if started < n:
                log.invoke(p, _plan(rng, workload, counters))
                phase[p] = "invoked"
                started += 1
            continue
        roll = rng.random()
        if ph == "invoked":
            if roll < 0.1:
                log.complete(p, "fail")
                del phase[p]
            elif roll < 0.15:
                log.complete(p, "info")        # never applied
                del phase[p]
            else:
                result[p] = _apply(state, log.planned(p), workload)
                phase[p] = "applied"
        else:
            log.complete(p, "info" if roll < 0.1 else "ok", result.pop(p))
            del phase[p]
    return log.history()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), n=st.integers(1, 14), procs=st.integers(1, 4),
       workload=st.sampled_from(["list-append", "rw-register"]), keys_linearizable=st.booleans())
def test_one_at_a_time_executions_are_strict_serializable(rng: random.Random, n: int, procs: int,
                                                          workload: str, keys_linearizable: bool) -> None:
    h = serial_history(rng, workload, n, procs)
    checker = ListAppend() if workload == "list-append" else \
        RWRegister(linearizable_keys=keys_linearizable, sequential_keys=not keys_linearizable)
    res = checker.check(h)
    assert_valid(res, [a.summary for a in res.anomalies])


# --- a small MVCC store with snapshot isolation -------------------------------------------------


class MVCC:
    """Committed versions per key with commit timestamps; snapshots; first committer wins."""

    def __init__(self, workload: str):
        self.workload = workload
        self.versions: dict[str, list[tuple[int, Any]]] = {}
        self.clock = 0

    def begin(self) -> dict[str, Any]:
        return {"ts": self.clock, "writes": {}}

    def read(self, tx: dict[str, Any], k: str) -> Any:
        if k in tx["writes"]:
            return tx["writes"][k]
        vis = [v for ts, v in self.versions.get(k, []) if ts <= tx["ts"]]
        return vis[-1] if vis else None

    def write(self, tx: dict[str, Any], k: str, v: Any) -> None:
        if self.workload == "list-append":
            tx["writes"][k] = list(self.read(tx, k) or []) + [v]
        else:
            tx["writes"][k] = v

    def commit(self, tx: dict[str, Any]) -> bool:
        for k in tx["writes"]:
            if any(ts > tx["ts"] for ts, _ in self.versions.get(k, [])):
                return False
        self.clock += 1
        for k, v in tx["writes"].items():
            self.versions.setdefault(k, []).append((self.clock, v))
        return True


def interleaved_history(rng: random.Random, workload: str, n: int, procs: int,
                        store_factory: Callable[[], Any]) -> History:
    """Transactions of ``procs`` processes, their micro-ops interleaved step by step on ``store``."""
    store = store_factory()
    log = TxnLog()
    counters: dict[str, int] = {}
    running: dict[int, dict[str, Any]] = {}
    started = 0
    while started < n or running:
        p = rng.randrange(procs)
        run = running.get(p)
        if run is None:
            if started < n:
                mops = _plan(rng, workload, counters)
                log.invoke(p, mops)
                running[p] = {"mops": mops, "i": 0, "out": [], "tx": None}
                started += 1
            continue
        if run["tx"] is None:
            run["tx"] = store.begin(p)
        if run["i"] < len(run["mops"]):
            f, k, v = run["mops"][run["i"]]
            run["i"] += 1
            try:
                if f == "r":
                    got = store.read(run["tx"], k)
                    run["out"].append([f, k, list(got) if isinstance(got, list) else got])
                else:
                    store.write(run["tx"], k, v)
                    run["out"].append([f, k, v])
            except Busy:
                store.abort(run["tx"])
                log.complete(p, "fail")
                del running[p]
            continue
        committed = store.commit(run["tx"])
        if not committed:
            log.complete(p, "fail")
        else:
            log.complete(p, "info" if rng.random() < 0.05 else "ok", run["out"])
        del running[p]
    return log.history()


class Busy(Exception):
    """The store refused a step (a lock held by another transaction)."""


class _MVCCAdapter:
    def __init__(self, workload: str):
        self.m = MVCC(workload)

    def begin(self, p: int) -> dict[str, Any]:
        return self.m.begin()

    def read(self, tx: dict[str, Any], k: str) -> Any:
        return self.m.read(tx, k)

    def write(self, tx: dict[str, Any], k: str, v: Any) -> None:
        self.m.write(tx, k, v)

    def commit(self, tx: dict[str, Any]) -> bool:
        return self.m.commit(tx)

    def abort(self, tx: dict[str, Any]) -> None:
        pass


SI = ["strong-snapshot-isolation"]   # snapshots are taken after invocation, so SI holds in real time too


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), n=st.integers(1, 14), procs=st.integers(1, 4),
       workload=st.sampled_from(["list-append", "rw-register"]))
def test_mvcc_snapshot_isolation_never_shows_what_si_proscribes(rng: random.Random, n: int, procs: int,
                                                                workload: str) -> None:
    h = interleaved_history(rng, workload, n, procs, lambda: _MVCCAdapter(workload))
    checker = ListAppend(models=SI) if workload == "list-append" else RWRegister(models=SI)
    res = checker.check(h)
    assert_valid(res, [a.data.get("text", a.summary) for a in res.anomalies])


def test_mvcc_store_does_produce_write_skew() -> None:
    """Not vacuous: some MVCC histories are not serializable (G2-item), and the checker says so."""
    seen: set[str] = set()
    for seed in range(300):
        h = interleaved_history(random.Random(seed), "list-append", 8, 3, lambda: _MVCCAdapter("list-append"))
        res = ListAppend(models=["serializable"]).check(h)
        seen.update(res.stats["anomaly_types"])
    assert "G2-item" in seen
    assert not seen & {"G0", "G1a", "G1b", "G1c", "G-single", "internal", "incompatible-order"}


# --- real SQLite in WAL mode ---------------------------------------------------------------------


class _SQLite:
    """One connection per process to a WAL database; a list is a comma-separated text column."""

    def __init__(self, path: Path, workload: str):
        self.path = path
        self.workload = workload
        setup = sqlite3.connect(path, isolation_level=None)
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)")
        setup.close()
        self.conns: dict[int, sqlite3.Connection] = {}

    def close(self) -> None:
        for c in self.conns.values():
            c.close()

    def begin(self, p: int) -> sqlite3.Connection:
        c = self.conns.get(p)
        if c is None:
            c = self.conns[p] = sqlite3.connect(self.path, isolation_level=None, timeout=0)
        c.execute("BEGIN")
        return c

    def _get(self, c: sqlite3.Connection, k: str) -> Any:
        row = c.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
        if row is None:
            return None
        if self.workload == "list-append":
            return [int(x) for x in row[0].split(",") if x]
        return int(row[0])

    def read(self, c: sqlite3.Connection, k: str) -> Any:
        try:
            return self._get(c, k)
        except sqlite3.OperationalError as e:
            raise Busy(str(e)) from None

    def write(self, c: sqlite3.Connection, k: str, v: Any) -> None:
        try:
            if self.workload == "list-append":
                cur = self._get(c, k) or []
                text = ",".join(str(x) for x in cur + [v])
            else:
                text = str(v)
            c.execute("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", (k, text))
        except sqlite3.OperationalError as e:
            raise Busy(str(e)) from None

    def commit(self, c: sqlite3.Connection) -> bool:
        try:
            c.execute("COMMIT")
            return True
        except sqlite3.OperationalError:
            self.abort(c)
            return False

    def abort(self, c: sqlite3.Connection) -> None:
        if c.in_transaction:
            c.execute("ROLLBACK")


_DB_NUMBER = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False), n=st.integers(1, 12), procs=st.integers(1, 4),
       workload=st.sampled_from(["list-append", "rw-register"]))
def test_sqlite_wal_never_shows_what_si_proscribes(tmp_path: Path, rng: random.Random, n: int, procs: int,
                                                   workload: str) -> None:
    db = tmp_path / f"si-{next(_DB_NUMBER)}.db"     # tmp_path is shared by every example
    holder: list[_SQLite] = []

    def factory() -> _SQLite:
        holder.append(_SQLite(db, workload))
        return holder[-1]

    try:
        h = interleaved_history(rng, workload, n, procs, factory)
    finally:
        for s in holder:
            s.close()
    checker = ListAppend(models=["snapshot-isolation"]) if workload == "list-append" else \
        RWRegister(models=["snapshot-isolation"])
    res = checker.check(h)
    assert_valid(res, [a.data.get("text", a.summary) for a in res.anomalies])
