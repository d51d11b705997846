"""The two coordination algorithms: the guide's quorum store (``seed``) and ABD (``abd``).

Any node coordinates a client's read or write against all replicas (itself
included) through :class:`~targets.quorum_store.replicas.Replicas`. Each
returns an :class:`Outcome` whose ``status`` is the client's contract:

* ``ok``       the operation took effect (a read's value and version attached);
* ``fail``     it certainly did not take effect;
* ``unknown``  it may or may not have taken effect.

``seed`` is the design guide's ``QuorumStore`` (§4.4) as written, flaws
included, because finding them is the harness's job:

* version = the coordinator's wall clock in ms (``Date.now()``): clocks of
  different coordinators, and two writes in the same millisecond, order writes
  arbitrarily;
* a write goes to all replicas and succeeds after W acks; otherwise it reports
  ``fail`` although the replicas that acked (and the slow ones) kept the
  value, so a "failed" write can later be read;
* replicas store what they are sent unconditionally (``overwrite`` mode);
* a read returns the highest version among the first R answers and repairs
  the stale ones afterwards, asynchronously; nothing is written back before
  the read returns, so a later read from another quorum may go back in time,
  and a late repair may overwrite a newer write.

``abd`` is multi-writer ABD (Attiya, Bar-Noy, Dolev; Lynch and Shvartsman's
multi-writer form), a linearizable register when W + R > N:

* write: ask R replicas for their version, then store ``(max counter + 1,
  writer)`` on W replicas (replicas keep the higher version only). Versions
  must be unique per write, or two replicas could hold different values under
  one version: the writer id is ``node/incarnation`` (the incarnation counts
  the node's starts, durably), and a node never issues the same counter for a
  key twice in one incarnation (two concurrent writes it coordinates that
  saw the same maximum get successive counters);
* read: ask R replicas, take the highest, and unless all R already hold it,
  store it on W replicas before returning (the write-back makes a returned
  value visible to every later read);
* when the query phase misses its quorum nothing was written: ``fail``; when
  the store phase misses its quorum some replicas may hold the value:
  ``unknown``.

Standard library only: this module runs inside minimal containers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from targets.quorum_store.replica import Stored, Version
from targets.quorum_store.replicas import Gathered, Replicas

__all__ = ["AbdCoordinator", "Coordinator", "Log", "Outcome", "SeedCoordinator", "make_coordinator"]

Log = Callable[..., None]
"""``log(event, **fields)``: one line in the node log."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    status: str  # "ok" | "fail" | "unknown"
    value: Any = None
    version: Version | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status}
        if self.status == "ok":
            d["value"] = self.value
            d["version"] = None if self.version is None else list(self.version)
        elif self.version is not None:  # the version a failed or unknown write stored where it landed
            d["version"] = list(self.version)
        if self.error is not None:
            d["error"] = self.error
        return d


class Coordinator(Protocol):
    def read(self, key: str) -> Outcome: ...

    def write(self, key: str, value: Any) -> Outcome: ...


def _highest(g: Gathered) -> tuple[str, Stored]:
    """The answer with the highest version; the first one seen wins ties (the guide's reduce)."""
    best: tuple[str, Stored] | None = None
    for name, s in g.answers.items():
        if best is None or s.version > best[1].version:
            best = (name, s)
    assert best is not None
    return best


class SeedCoordinator:
    """The guide's QuorumStore, as written (see the module docstring)."""

    def __init__(self, *, node: str, replicas: Replicas, w: int, r: int, log: Log) -> None:
        self.node, self.replicas, self.w, self.r, self.log = node, replicas, w, r, log
        self.n = len(replicas.names)

    def write(self, key: str, value: Any) -> Outcome:
        version: Version = (int(time.time() * 1000), "")
        g = self.replicas.store(key, value, version, need=self.w)
        acks = sorted(g.answers)
        if g.count >= self.w:
            self.log("write", key=key, value=value, version=version, acks=acks, result="ok")
            return Outcome(status="ok", value=value, version=version)
        self.log("write", key=key, value=value, version=version, acks=acks, result="fail",
                 errors=g.why())
        return Outcome(status="fail", version=version,
                       error=f"Write failed: only {g.count}/{self.w} nodes confirmed "
                                            f"({g.why()})")

    def read(self, key: str) -> Outcome:
        g = self.replicas.fetch(key, need=self.r)
        if g.count < self.r:
            self.log("read", key=key, answers=sorted(g.answers), result="fail", errors=g.why())
            return Outcome(status="fail", error=f"Read failed: only {g.count}/{self.r} nodes responded "
                                                f"({g.why()})")
        src, latest = _highest(g)
        stale = [n for n, s in g.answers.items() if s.version < latest.version]
        self.log("read", key=key, value=latest.value, version=latest.version, source=src,
                 answers={n: list(s.version) for n, s in g.answers.items()}, repair=stale, result="ok")
        if stale:
            self.replicas.store_async(
                key, latest.value, latest.version, stale,
                lambda n, err: self.log("repair", key=key, replica=n, version=latest.version,
                                        result="ok" if err is None else "fail", error=err))
        return Outcome(status="ok", value=latest.value, version=latest.version)


class AbdCoordinator:
    """Multi-writer ABD (see the module docstring); ``writer`` is unique to this node's incarnation."""

    def __init__(self, *, node: str, replicas: Replicas, w: int, r: int, log: Log, writer: str) -> None:
        self.node, self.replicas, self.w, self.r, self.log = node, replicas, w, r, log
        self.writer = writer
        self.n = len(replicas.names)
        self._issued: dict[str, int] = {}  # key -> last counter this incarnation issued
        self._issued_lock = threading.Lock()

    def _next_version(self, key: str, seen: int) -> Version:
        with self._issued_lock:
            counter = max(seen, self._issued.get(key, 0)) + 1
            self._issued[key] = counter
        return (counter, self.writer)

    def write(self, key: str, value: Any) -> Outcome:
        q = self.replicas.fetch(key, need=self.r)
        if q.count < self.r:
            self.log("write", key=key, value=value, phase="query", answers=sorted(q.answers),
                     result="fail", errors=q.why())
            return Outcome(status="fail", error=f"version query reached only {q.count}/{self.r} replicas; "
                                                f"nothing was written ({q.why()})")
        _, top = _highest(q)
        version = self._next_version(key, top.version[0])
        g = self.replicas.store(key, value, version, need=self.w)
        if g.count >= self.w:
            self.log("write", key=key, value=value, version=version, acks=sorted(g.answers), result="ok")
            return Outcome(status="ok", value=value, version=version)
        self.log("write", key=key, value=value, version=version, acks=sorted(g.answers),
                 result="unknown", errors=g.why())
        return Outcome(status="unknown", version=version,
                       error=f"store reached only {g.count}/{self.w} replicas; "
                                               f"the write may or may not take effect ({g.why()})")

    def read(self, key: str) -> Outcome:
        q = self.replicas.fetch(key, need=self.r)
        if q.count < self.r:
            self.log("read", key=key, answers=sorted(q.answers), result="fail", errors=q.why())
            return Outcome(status="fail", error=f"read reached only {q.count}/{self.r} replicas "
                                                f"({q.why()})")
        src, latest = _highest(q)
        behind = [n for n, s in q.answers.items() if s.version < latest.version]
        if behind:
            g = self.replicas.store(key, latest.value, latest.version, need=self.w)
            if g.count < self.w:
                self.log("read", key=key, version=latest.version, write_back=sorted(g.answers),
                         result="unknown", errors=g.why())
                return Outcome(status="unknown", error=f"write-back reached only {g.count}/{self.w} "
                                                       f"replicas ({g.why()})")
        self.log("read", key=key, value=latest.value, version=latest.version, source=src,
                 write_back=bool(behind), result="ok")
        return Outcome(status="ok", value=latest.value, version=latest.version)


def make_coordinator(variant: str, *, node: str, replicas: Replicas, w: int, r: int, log: Log,
                     incarnation: int = 1) -> Coordinator:
    if variant == "seed":
        return SeedCoordinator(node=node, replicas=replicas, w=w, r=r, log=log)
    if variant == "abd":
        return AbdCoordinator(node=node, replicas=replicas, w=w, r=r, log=log,
                              writer=f"{node}/{incarnation}")
    raise ValueError(f'variant must be "seed" or "abd" (not {variant!r})')
