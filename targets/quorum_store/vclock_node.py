"""The ``vclock`` variant's node: a durable vector-clock replica and its coordinator.

The guide's §4.3 ``DistributedKVStore`` on the quorum store's transport
(:mod:`targets.quorum_store.replicas`), with W/R quorums and read repair:

* **write** (``PUT /kv/<k>`` ``{"value": v}``, or ``POST /kv/<k>`` ``{"op":
  "add"|"append", "arg": x}``): the coordinator applies it to its own replica
  (clock entry incremented, :func:`~targets.quorum_store.vclock.apply`),
  then sends the new version to every other replica, which merges it
  (:func:`~targets.quorum_store.vclock.receive`: ``BEFORE`` take it,
  ``AFTER``/``EQUAL`` keep theirs, ``CONCURRENT`` union and increment).
  ``ok`` after W replicas (the coordinator's own included) hold it; otherwise
  ``unknown``: the coordinator's replica keeps it and read repair spreads it,
  so a "failed" write is not certainly undone and is never reported ``fail``.
* **read** (``GET /kv/<k>``): ask every replica, wait for R answers, merge
  each into the coordinator's replica (the same ``receive``), answer its
  merged version, and repair, asynchronously, every answering replica whose
  version is not already at or after it. The answer is ``{"status": "ok",
  "siblings": [...], "version": {node: n}, "value": v}`` where ``value`` is
  the one sibling, or the list of siblings when concurrent register writes
  were kept (returned to the reader, as the guide's "keep both versions").

Replica protocol: ``GET /replica/<k>`` -> ``{"siblings", "clock"}`` (empty
for a key never written); ``PUT /replica/<k>`` with a version ->
``{"stored": bool, "branch": "BEFORE"|...}``.

Durability as in :mod:`targets.quorum_store.replica`: SQLite in WAL mode with
``synchronous=FULL``; one lock makes each compare-and-store atomic, which is
also what makes a node issue each of its clock counters once.

Standard library only: this module runs inside minimal containers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from targets.quorum_store.replicas import PeerError, Replicas, key_path
from targets.quorum_store.vclock import AFTER, EQUAL, OPS, VVersion, apply, compare, receive

__all__ = ["VclockCoordinator", "VclockOutcome", "VclockReplica", "VclockReplicas", "replica_op"]

Log = Callable[..., None]


class VclockReplica:
    """One node's durable key -> :class:`VVersion` store; every change is one locked read-compare-write."""

    def __init__(self, data_dir: str, *, node: str) -> None:
        self.node = node
        os.makedirs(data_dir, exist_ok=True)
        self.path = os.path.join(data_dir, "vclock.sqlite3")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vkv (key TEXT PRIMARY KEY, siblings TEXT NOT NULL,"
                         " clock TEXT NOT NULL)")

    def _get(self, key: str) -> VVersion | None:
        row = self._db.execute("SELECT siblings, clock FROM vkv WHERE key = ?", (key,)).fetchone()
        return None if row is None else VVersion(siblings=tuple(json.loads(row[0])), clock=json.loads(row[1]))

    def _put(self, key: str, v: VVersion) -> None:
        self._db.execute("INSERT INTO vkv (key, siblings, clock) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE"
                         " SET siblings = excluded.siblings, clock = excluded.clock",
                         (key, json.dumps(list(v.siblings)), json.dumps(dict(v.clock), sort_keys=True)))

    def get(self, key: str) -> VVersion:
        with self._lock:
            return self._get(key) or VVersion()

    def receive(self, key: str, remote: VVersion) -> tuple[VVersion, str]:
        """Merge ``remote`` in (the guide's ``handleReplication``): the version now held, and the branch."""
        if remote.empty:
            return self.get(key), AFTER
        with self._lock:
            existing = self._get(key)
            kept, branch = receive(existing, remote, self.node)
            if kept is not existing:
                self._put(key, kept)
            return kept, branch

    def apply(self, key: str, op: str, arg: Any) -> VVersion:
        """A write this node coordinates: the new version, stored before it is returned."""
        with self._lock:
            v = apply(self._get(key), op, arg, self.node)
            self._put(key, v)
            return v

    def close(self) -> None:
        with self._lock:
            self._db.close()


class VclockReplicas(Replicas):
    """The quorum store's transport carrying :class:`VVersion` values (``local`` is a :class:`VclockReplica`)."""

    local: VclockReplica  # type: ignore[assignment]

    def get_one(self, name: str, key: str) -> VVersion:  # type: ignore[override]
        if name == self.me:
            return self.local.get(key)
        try:
            return VVersion.from_json(self._pools[name].request("GET", key_path(key), None))
        except ValueError as e:
            raise PeerError(f"bad replica answer: {e}") from None

    def put_one(self, name: str, key: str, value: Any, version: Any = None) -> bool:
        """Send version ``value`` to replica ``name`` (``version`` is unused: the clock travels in ``value``)."""
        if name == self.me:
            return self.local.receive(key, value)[1] not in (AFTER, EQUAL)
        d = self._pools[name].request("PUT", key_path(key), value.to_json())
        return bool(d.get("stored")) if isinstance(d, dict) else False


@dataclass(frozen=True, slots=True, kw_only=True)
class VclockOutcome:
    status: str  # "ok" | "unknown" | "fail"
    version: VVersion | None = None
    acks: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status}
        if self.version is not None:
            s = self.version.siblings
            d["siblings"] = list(s)
            d["value"] = None if not s else s[0] if len(s) == 1 else list(s)
            d["version"] = dict(self.version.clock)
        if self.error is not None:
            d["error"] = self.error
        return d


@dataclass(slots=True, kw_only=True)
class VclockCoordinator:
    """Writes and reads of the ``vclock`` variant (see the module docstring)."""

    node: str
    replicas: VclockReplicas
    w: int
    r: int
    log: Log
    others: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.others = tuple(n for n in self.replicas.names if n != self.node)

    def write(self, key: str, value: Any) -> VclockOutcome:
        return self.update(key, "put", value)

    def update(self, key: str, op: str, arg: Any) -> VclockOutcome:
        if op not in OPS:
            raise ValueError(f"op must be one of {OPS} (not {op!r})")
        v = self.replicas.local.apply(key, op, arg)
        g = self.replicas.store(key, v, None, need=self.w - 1, only=self.others)
        acks = (self.node, *sorted(g.answers))
        ok = len(acks) >= self.w
        self.log("write", key=key, op=op, arg=arg, clock=dict(v.clock), acks=list(acks),
                 result="ok" if ok else "unknown", errors=None if ok else g.why())
        if ok:
            return VclockOutcome(status="ok", version=v, acks=acks)
        return VclockOutcome(status="unknown", version=None, acks=acks,
                             error=f"only {len(acks)}/{self.w} replicas hold it; {self.node} keeps it and "
                                   f"read repair spreads it ({g.why()})")

    def read(self, key: str) -> VclockOutcome:
        g = self.replicas.fetch(key, need=self.r)
        if g.count < self.r:
            self.log("read", key=key, answers=sorted(g.answers), result="fail", errors=g.why())
            return VclockOutcome(status="fail", error=f"read reached only {g.count}/{self.r} replicas "
                                                      f"({g.why()})")
        branches: dict[str, str] = {}
        merged = self.replicas.local.get(key)
        for name, answer in g.answers.items():
            if name != self.node:
                merged, branches[name] = self.replicas.local.receive(key, answer)
        stale = [n for n, a in g.answers.items() if n != self.node and compare(a.clock, merged.clock) not in (AFTER, EQUAL)]
        self.log("read", key=key, clock=dict(merged.clock), siblings=len(merged.siblings), branches=branches,
                 repair=stale, result="ok")
        if stale:
            self.replicas.store_async(
                key, merged, None, stale,  # type: ignore[arg-type]
                lambda n, err: self.log("repair", key=key, replica=n, clock=dict(merged.clock),
                                        result="ok" if err is None else "fail", error=err))
        return VclockOutcome(status="ok", version=merged)


def replica_op(replica: VclockReplica, method: str, key: str, body: Any, log: Log) -> dict[str, Any]:
    """``/replica/<key>`` on a vclock node: the reply; ValueError for a malformed store."""
    if method == "GET":
        v = replica.get(key)
        log("replica-get", key=key, clock=dict(v.clock))
        return v.to_json()
    remote = VVersion.from_json(body)
    kept, branch = replica.receive(key, remote)
    log("replica-put", key=key, clock=dict(remote.clock), branch=branch, kept=dict(kept.clock))
    return {"stored": branch not in (AFTER, EQUAL), "branch": branch}


def parse_update(body: Any) -> tuple[str, Any]:
    """``{"op": "add"|"append"|"put", "arg": x}`` of ``POST /kv/<key>``; ValueError naming what is wrong."""
    if not isinstance(body, Mapping) or body.get("op") not in OPS or "arg" not in body:
        raise ValueError(f'a vclock update is {{"op": one of {list(OPS)}, "arg": x}} (not {body!r:.200})')
    return str(body["op"]), body["arg"]
