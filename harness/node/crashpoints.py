"""Crash points: named places in a node's code where the process may die, armed at start or by the nemesis.

A node calls ``crash.hit("after-charge", order_id)`` between two steps; if
that point is armed the process dies right there, so nothing after the point
runs (etcd's gofail failpoints, FoundationDB's ``BUGGIFY``). Two ways to arm:

At start (the node's command line, e.g. ``--crash-points after-charge,all
--crash-p 0.01 --crash-once``): :class:`CrashPoints` ``armed``; each hit of an
armed point fires with probability ``p``; with ``once`` each point fires at
most once per data dir, so a test can place a crash exactly.

At run time, by the harness (``--nemesis crash``, :mod:`nemesis.crashpoints`):
the nemesis writes the node's *control file* ``crash-control.json`` in the
node's data dir, atomically (a temporary file renamed over it), through the
backend (:class:`harness.cluster.NodeFiles`; on Docker by ``docker exec``)::

    {"armed": [{"point": "after-charge", "arm": "a3", "p": 1.0}]}

``hit`` looks at the file's stat at every call and rereads it when it
changed, so an arming takes effect at the next hit. An arming fires at most
once (its id ``arm`` is spent when it fires, across restarts); an empty list
disarms. No file: nothing armed at run time.

When a point fires the process appends one JSON line to ``crashes.jsonl`` in
its data dir (fsynced before it dies)::

    {"node": "orchestrator", "point": "after-charge", "order": 17, "at": 1764590000.123, "arm": "a3"}

``order`` is whatever the node passed to ``hit`` (an order or transaction
id), ``at`` the node's wall clock (s since the epoch), ``arm`` the arming's id
(null when armed at start). The final reads show these records, and the
nemesis reads the same file to record ``crash-fired`` in the history
(docs/DESIGN.md, "Nemesis events in the history"). Then the process dies:
with ``restart_after`` S it re-executes itself (every thread, socket and byte
of memory gone, the same pid so kill and pause still reach it) and, if the
node calls :func:`boot_delay` first thing, listens again after S seconds;
without it, ``os._exit(70)``, and the node stays down until something starts
it (the crash nemesis at the end of its window, the kill nemesis's start).

:meth:`CrashPoints.disarm` (a node's ``POST /disarm``, done by the final
reads) disarms for good, both kinds, in this process and after a restart
(``crash-points-disarmed`` in the data dir), so nothing fires while the
system recovers.

The pure helpers (:func:`encode_control`, :func:`decode_control`,
:func:`parse_crashes`) are the file protocol both sides use. Only the
standard library: a node runs in a container with bare python3.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from harness.node.http import log

__all__ = [
    "BOOT_DELAY_ENV", "CONTROL_FILE", "CRASHES_FILE", "DISARMED_FILE", "Arm", "CrashPoints", "boot_delay",
    "decode_control", "encode_control", "parse_crashes",
]

CONTROL_FILE = "crash-control.json"
"""The harness's arming of a node, in the node's data dir (written by the nemesis, read by the node)."""
CRASHES_FILE = "crashes.jsonl"
"""Every crash a node recorded, one JSON line each, in its data dir (written by the node)."""
DISARMED_FILE = "crash-points-disarmed"
"""Present: every crash point of the node is disarmed for good."""
BOOT_DELAY_ENV = "SPLITBRAIN_CRASH_BOOT_DELAY"
"""Set for a re-executed node: the seconds it stays down before it listens (see :func:`boot_delay`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Arm:
    """One run-time arming: ``point`` fires with probability ``p`` per hit, at most once (id ``arm``)."""

    point: str
    arm: str
    p: float = 1.0


def encode_control(arms: Iterable[Arm]) -> bytes:
    """The control file's bytes for ``arms`` (none: disarmed)."""
    return json.dumps({"armed": [{"point": a.point, "arm": a.arm, "p": a.p} for a in arms]}).encode()


def decode_control(data: bytes) -> tuple[Arm, ...]:
    """The armings of a control file; ``ValueError`` naming what is wrong."""
    try:
        doc = json.loads(data) if data.strip() else {"armed": []}
    except ValueError as e:
        raise ValueError(f"{CONTROL_FILE}: not JSON ({e})") from None
    rows = doc.get("armed") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f'{CONTROL_FILE}: expected {{"armed": [...]}} (not {str(doc)[:80]})')
    out = []
    for r in rows:
        if not isinstance(r, dict) or not isinstance(r.get("point"), str) or not isinstance(r.get("arm"), str):
            raise ValueError(f'{CONTROL_FILE}: each arming is {{"point": str, "arm": str, "p": float}} (not {r!r})')
        p = r.get("p", 1.0)
        if not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"{CONTROL_FILE}: p of {r['point']!r} must be in [0, 1] (not {p!r})")
        out.append(Arm(point=r["point"], arm=r["arm"], p=float(p)))
    return tuple(out)


def parse_crashes(data: bytes) -> list[dict[str, Any]]:
    """The records of a ``crashes.jsonl``, oldest first; a torn last line (a crash mid-write) is skipped."""
    out = []
    for line in data.decode(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def boot_delay() -> float:
    """Sleep as long as a crash point's re-execution asked (0 on a normal start); call it first in ``main``."""
    delay = float(os.environ.pop(BOOT_DELAY_ENV, "0") or 0)
    if delay > 0:
        time.sleep(delay)
    return delay


class CrashPoints:
    """Named points at which this process may die (see the module docstring).

    ``armed``: the points armed at start, comma-separated (``all``: every point);
    ``p``: their probability per hit; ``once``: each fires at most once per data
    dir; ``restart_after``: seconds until a re-executed node is back (None: exit).
    """

    def __init__(self, armed: str, p: float, data_dir: str, node: str, seed: int | None = None,
                 once: bool = False, restart_after: float | None = None) -> None:
        self.restart_after = restart_after
        self.static = frozenset(x for x in armed.split(",") if x)
        self.p = p
        self.dir = Path(data_dir)
        self.file = self.dir / CRASHES_FILE
        self.control_file = self.dir / CONTROL_FILE
        self.disarmed_file = self.dir / DISARMED_FILE
        self.node = node
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        fired = self.fired()
        self.spent = {c["point"] for c in fired} if once else set()  # once: each point fires once
        self.spent_arms = {c["arm"] for c in fired if c.get("arm")}   # a run-time arming fires once
        self._control_key: tuple[int, int, int] | None = None
        self._runtime: tuple[Arm, ...] = ()
        self._for_good = self.disarmed_file.exists()

    # -- what is armed -------------------------------------------------------------

    @property
    def armed(self) -> frozenset[str]:
        """Every point armed now (at start or by the harness); ``all`` stands for every point."""
        if self._disarmed():
            return frozenset()
        return self.static | {a.point for a in self._arms() if a.arm not in self.spent_arms}

    def is_armed(self, point: str) -> bool:
        """Whether a hit of ``point`` now could fire (e.g. to decide whether to schedule one)."""
        armed = self.armed
        return point in armed or "all" in armed

    def _disarmed(self) -> bool:
        if not self._for_good and self.disarmed_file.exists():
            self._for_good = True
        return self._for_good

    def _arms(self) -> tuple[Arm, ...]:
        """The run-time armings, reread when the control file changed (one stat per call otherwise)."""
        try:
            st = os.stat(self.control_file)
        except OSError:
            self._control_key, self._runtime = None, ()
            return ()
        key = (st.st_mtime_ns, st.st_ino, st.st_size)
        if key != self._control_key:
            try:
                self._runtime = decode_control(self.control_file.read_bytes())
            except (OSError, ValueError) as e:
                log(self.node, f"crash control ignored: {e}")
                self._runtime = ()
            self._control_key = key
        return self._runtime

    # -- the points ----------------------------------------------------------------

    def disarm(self) -> None:
        """Fire no more, in this process or after a restart (the final phase heals crash points too)."""
        self.disarmed_file.touch()
        self._for_good = True

    def hit(self, point: str, order: Any = None) -> None:
        """Die here if ``point`` is armed (at start: with probability ``p``; by the harness: its arming's)."""
        if self._disarmed():
            return
        arm = next((a for a in self._arms() if a.point in (point, "all") and a.arm not in self.spent_arms), None)
        static = (point in self.static or "all" in self.static) and point not in self.spent
        if arm is None and not static:
            return
        with self._lock:  # one thread fires; the others wait for the exit
            if arm is not None and arm.arm not in self.spent_arms and self._rng.random() < arm.p:
                self._fire(point, order, arm.arm)
            elif static and point not in self.spent and self._rng.random() < self.p:
                self._fire(point, order, None)

    def _fire(self, point: str, order: Any, arm: str | None) -> None:
        line = json.dumps({"node": self.node, "point": point, "order": order, "at": time.time(), "arm": arm})
        with open(self.file, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.restart_after is None:
            log(self.node, f"crash point {point} fired (order {order}); exiting")
            os._exit(70)
        log(self.node, f"crash point {point} fired (order {order}); back in {self.restart_after:g} s")
        # exec: every thread, socket and byte of memory gone at once (the sockets are close-on-exec),
        # the same pid, so the harness's kill and pause still reach it
        os.execve(sys.executable, sys.orig_argv, {**os.environ, BOOT_DELAY_ENV: str(self.restart_after)})

    def fired(self) -> list[dict[str, Any]]:
        """Every crash this node recorded, oldest first."""
        try:
            return parse_crashes(self.file.read_bytes())
        except FileNotFoundError:
            return []
