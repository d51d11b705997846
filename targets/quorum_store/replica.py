"""One node's durable replica: key -> (value, version) in SQLite.

A version is a pair ``(counter, writer)`` compared as a tuple. The ``seed``
variant uses ``(wall-clock ms, "")``; the ``abd`` variant ``(counter,
"node/incarnation")``, unique per write. A key never written
reads as value ``None`` at version ``(0, "")``.

How a replica takes a store depends on the variant, fixed when the node starts:

* ``overwrite`` (``seed``): the guide's ``node.write`` stores what it is sent,
  unconditionally, even when it already holds a higher version. That is one
  of the flaws the harness must find (a late read repair or a slow write
  overwrites a newer value).
* ``max`` (``abd``): keep the higher version only, atomically with the
  comparison. Either way the replica acknowledges: an ack means "I now hold
  this version or a higher one".

Durability is the point of a kill -9: the database is in WAL mode with
``synchronous=FULL``, and :meth:`Replica.put` returns only after the commit,
so every acknowledged store is on disk. One connection serialised by a lock
keeps the compare-and-store of ``max`` atomic; at the op rates of a test run
the lock is not the bottleneck (the fsync is).

Standard library only: this module runs inside minimal containers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["MODES", "Replica", "Stored", "Version", "ZERO"]

Version = tuple[int, str]
ZERO: Version = (0, "")
MODES = ("overwrite", "max")


@dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    """What a replica holds for one key."""

    value: Any
    version: Version

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "version": list(self.version)}


class Replica:
    """The SQLite-backed store of one node (see the module docstring)."""

    def __init__(self, data_dir: str, *, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"replica mode must be one of {MODES} (not {mode!r})")
        self.mode = mode
        os.makedirs(data_dir, exist_ok=True)
        self.path = os.path.join(data_dir, "replica.sqlite3")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS kv ("
            " key TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " counter INTEGER NOT NULL, node TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")

    def next_incarnation(self) -> int:
        """Count this start of the node, durably: 1 on the first start, then 2, 3, ...

        ABD writers put it into their versions so that a restarted node never
        reissues a version it handed out before the crash.
        """
        with self._lock:
            self._db.execute("INSERT INTO meta (name, n) VALUES ('incarnation', 1)"
                             " ON CONFLICT(name) DO UPDATE SET n = n + 1")
            return int(self._db.execute("SELECT n FROM meta WHERE name = 'incarnation'").fetchone()[0])

    def get(self, key: str) -> Stored:
        with self._lock:
            row = self._db.execute(
                "SELECT value, counter, node FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            return Stored(value=None, version=ZERO)
        return Stored(value=json.loads(row[0]), version=(int(row[1]), str(row[2])))

    def put(self, key: str, value: Any, version: Version) -> bool:
        """Store ``value`` at ``version`` by the replica's mode; True if it was written.

        Returns after the commit reached the disk.
        """
        encoded = json.dumps(value)
        with self._lock:
            if self.mode == "max":
                row = self._db.execute(
                    "SELECT counter, node FROM kv WHERE key = ?", (key,)).fetchone()
                if row is not None and (int(row[0]), str(row[1])) >= tuple(version):
                    return False
            self._db.execute(
                "INSERT INTO kv (key, value, counter, node) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " counter = excluded.counter, node = excluded.node",
                (key, encoded, int(version[0]), str(version[1])))
            return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
