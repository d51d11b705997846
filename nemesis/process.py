"""Process faults: kill and restart nodes, pause and resume them.

:class:`KillNemesis` handles ``kill`` (SIGKILL the nodes named in the value,
then wait until the backend says they are dead) and ``start`` (bring nodes back
with their data; :meth:`~harness.cluster.Cluster.start` returns once the node
answers). :class:`PauseNemesis` handles ``pause`` (SIGSTOP) and ``resume``
(SIGCONT).

Values: ``{"nodes": ["n2", "n4"]}`` names the nodes; the schedule draws them
with the run's rng (one node or a minority). ``{"role": "coordinator"}`` (for
a nemesis given the cluster's ``roles``) lets the nemesis draw them itself
among that role's nodes (:mod:`nemesis.aim`); the completion names the nodes. A ``start`` or ``resume`` without
nodes (value ``None`` or ``"all"``) undoes everything this nemesis did and, for
``start``, also restarts any node the backend reports dead: that is what the
final generator sends. The completion value names the nodes acted on, and
``error`` names those where the backend failed; a node that failed is not
claimed.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Mapping, Sequence

from harness.client import Completion
from harness.cluster import Cluster, Killable, Pausable
from harness.history import Op
from nemesis import aim
from nemesis.core import NemesisError, info

__all__ = ["KillNemesis", "PauseNemesis", "minority", "pick_targets"]


def minority(n: int) -> int:
    """The largest minority of ``n`` nodes (5 -> 2, 4 -> 1, 1 -> 0)."""
    return (n - 1) // 2


def pick_targets(nodes: Sequence[str], rng: random.Random) -> list[str]:
    """One node or a random minority (half the time each), sorted; at least one node."""
    if not nodes:
        raise ValueError("cannot pick targets among no nodes")
    k = 1 if rng.random() < 0.5 else max(1, minority(len(nodes)))
    return sorted(rng.sample(list(nodes), k))


def _nodes_of(value: Any, known: Sequence[str], roles: Mapping[str, str] | None = None,
              rng: random.Random | None = None) -> list[str] | None:
    """The nodes a value names; ``None`` for "all I did"; ``ValueError`` if malformed.

    ``{"role": R}``: one node or a minority of role R drawn with ``rng`` (kill,
    pause), or every node of R without one (start, resume).
    """
    if isinstance(value, dict) and value.get("role") is not None:
        members = aim.members(roles or aim.default_roles(known), str(value["role"]))
        return pick_targets(members, rng) if rng is not None else list(members)
    if value is None or value == "all" or (isinstance(value, dict) and value.get("nodes") in (None, "all")):
        return None
    raw = value.get("nodes") if isinstance(value, dict) else value
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not all(isinstance(n, str) for n in raw):
        raise ValueError(f'expected {{"nodes": [names]}} as value (not {value!r})')
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValueError(f"unknown node(s) {unknown}; the cluster has {list(known)}")
    return list(dict.fromkeys(raw))


def _each(nodes: Sequence[str], act: Callable[[str], None]) -> tuple[list[str], dict[str, str]]:
    done: list[str] = []
    failed: dict[str, str] = {}
    for n in nodes:
        try:
            act(n)
            done.append(n)
        except Exception as e:  # one node's failure must not stop the others
            failed[n] = repr(e)
    return done, failed


def _completion(key: str, done: list[str], failed: dict[str, str]) -> Completion:
    value: dict[str, Any] = {"nodes": sorted(done)}
    if failed:
        value["failed"] = failed
        return info(value, error=f"{key} failed on " + ", ".join(f"{n}: {e}" for n, e in failed.items()))
    return info(value)


class KillNemesis:
    """``kill`` and ``start``: crash nodes with SIGKILL and bring them back.

    ``dead_wait_s``: how long to wait for the backend to report a killed node dead.
    """

    fs = frozenset({"kill", "start"})

    def __init__(self, *, dead_wait_s: float = 5.0, seed: int = 0, roles: Mapping[str, str] | None = None):
        self.dead_wait_s = dead_wait_s
        self.roles = dict(roles) if roles is not None else None
        self._rng = random.Random(seed)
        self._cluster: Cluster | None = None
        self._killed: set[str] = set()

    def setup(self, cluster: Cluster) -> "KillNemesis":
        if not isinstance(cluster, Killable):
            raise NemesisError(f"the {type(cluster).__name__} backend cannot kill nodes; "
                               f"drop 'kill' from --nemesis or use a backend that can")
        self._cluster = cluster
        return self

    def teardown(self) -> None:
        return None

    def invoke(self, op: Op) -> Completion:
        c = self._cluster
        if c is None:
            raise NemesisError("KillNemesis.invoke before setup; call setup(cluster) first")
        try:
            nodes = _nodes_of(op.value, c.nodes, self.roles, self._rng if op.f in ("kill", "pause") else None)
        except ValueError as e:
            return info(op.value, error=f"{op.f}: {e}")
        if op.f == "kill":
            if nodes is None:
                nodes = pick_targets(c.nodes, self._rng)
            assert isinstance(c, Killable)
            done, failed = _each(nodes, c.kill)
            self._killed |= set(done)
            alive = self._wait_dead(done)
            if alive:
                failed.update({n: "still alive after SIGKILL" for n in alive})
                done = [n for n in done if n not in alive]
            return _completion("kill", done, failed)
        if op.f == "start":
            if nodes is None:
                nodes = sorted(self._killed | {n for n in c.nodes if not c.alive(n)})
            done, failed = _each(nodes, c.start)
            self._killed -= set(done)
            return _completion("start", done, failed)
        raise NemesisError(f"KillNemesis does not handle {op.f!r}; it handles {sorted(self.fs)}")

    def _wait_dead(self, nodes: Sequence[str]) -> list[str]:
        assert self._cluster is not None
        deadline = time.monotonic() + self.dead_wait_s
        alive = [n for n in nodes if self._cluster.alive(n)]
        while alive and time.monotonic() < deadline:
            time.sleep(0.02)
            alive = [n for n in alive if self._cluster.alive(n)]
        return alive


class PauseNemesis:
    """``pause`` and ``resume``: freeze nodes with SIGSTOP and thaw them with SIGCONT."""

    fs = frozenset({"pause", "resume"})

    def __init__(self, *, seed: int = 0, roles: Mapping[str, str] | None = None):
        self.roles = dict(roles) if roles is not None else None
        self._rng = random.Random(seed)
        self._cluster: Cluster | None = None
        self._paused: set[str] = set()

    def setup(self, cluster: Cluster) -> "PauseNemesis":
        if not isinstance(cluster, Pausable):
            raise NemesisError(f"the {type(cluster).__name__} backend cannot pause nodes; "
                               f"drop 'pause' from --nemesis or use a backend that can")
        self._cluster = cluster
        return self

    def teardown(self) -> None:
        return None

    def invoke(self, op: Op) -> Completion:
        c = self._cluster
        if c is None:
            raise NemesisError("PauseNemesis.invoke before setup; call setup(cluster) first")
        assert isinstance(c, Pausable)
        try:
            nodes = _nodes_of(op.value, c.nodes, self.roles, self._rng if op.f in ("kill", "pause") else None)
        except ValueError as e:
            return info(op.value, error=f"{op.f}: {e}")
        if op.f == "pause":
            if nodes is None:
                nodes = pick_targets(c.nodes, self._rng)
            done, failed = _each(nodes, c.pause)
            self._paused |= set(done)
            return _completion("pause", done, failed)
        if op.f == "resume":
            if nodes is None:
                nodes = sorted(self._paused)
            done, failed = _each(nodes, c.resume)
            self._paused -= set(done)
            return _completion("resume", done, failed)
        raise NemesisError(f"PauseNemesis does not handle {op.f!r}; it handles {sorted(self.fs)}")
