"""Test kit for the nemesis: an in-memory cluster and a synchronous nemesis driver.

:class:`FakeCluster` implements every cluster ability in memory and records
each call. Its links are simulated: a probe of ``src -> dst`` passes unless the
link is cut and the cut "took effect", or either end is dead or paused. Knobs
make the faults the nemesis must notice: ``ineffective`` links ignore cuts,
``lag`` probes of a freshly cut link still pass (a backend slow to drop open
connections), ``fail_kill`` nodes raise on kill.

:func:`drive` interprets a nemesis generator against a real nemesis on a
virtual clock, recording the history the runner would record.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Collection

import pytest

from harness import generators as gen
from harness.cluster import Address, Link
from harness.history import NEMESIS, Op


class FakeCluster:
    def __init__(self, nodes: Collection[str] = ("n1", "n2", "n3", "n4", "n5"), *,
                 ineffective: Collection[Link] = (), lag: int = 0,
                 fail_kill: Collection[str] = ()):
        self.nodes = tuple(nodes)
        self.dead: set[str] = set()
        self.paused: set[str] = set()
        self.cut_links: set[Link] = set()
        self.ineffective = set(ineffective)
        self.lag = lag
        self.fail_kill = set(fail_kill)
        self.calls: list[tuple[str, Any]] = []
        self.probes: list[Link] = []
        self._lag_left: dict[Link, int] = {}
        self._lock = threading.Lock()

    def _log(self, name: str, arg: Any = None) -> None:
        with self._lock:
            self.calls.append((name, arg))

    # Cluster
    def start(self, node: str) -> None:
        self._log("start", node)
        self.dead.discard(node)

    def stop(self, node: str) -> None:
        self._log("stop", node)
        self.dead.add(node)

    def address(self, node: str) -> Address:
        return Address(host="127.0.0.1", port=1 + self.nodes.index(node))

    def alive(self, node: str) -> bool:
        return node not in self.dead

    # Killable
    def kill(self, node: str) -> None:
        self._log("kill", node)
        if node in self.fail_kill:
            raise OSError(f"cannot signal {node}")
        self.dead.add(node)
        self.paused.discard(node)

    # Pausable
    def pause(self, node: str) -> None:
        self._log("pause", node)
        self.paused.add(node)

    def resume(self, node: str) -> None:
        self._log("resume", node)
        self.paused.discard(node)

    # Partitionable
    def cut(self, links: Collection[Link]) -> None:
        self._log("cut", sorted(links))
        with self._lock:
            for link in links:
                self.cut_links.add(tuple(link))  # type: ignore[arg-type]
                self._lag_left[tuple(link)] = self.lag  # type: ignore[index]

    def heal(self) -> None:
        self._log("heal")
        with self._lock:
            self.cut_links.clear()
            self._lag_left.clear()

    def reachable(self, src: str, dst: str, timeout: float = 1.0) -> bool:
        link = (src, dst)
        with self._lock:
            self.probes.append(link)
            if {src, dst} & (self.dead | self.paused):
                return False
            if link not in self.cut_links or link in self.ineffective:
                return True
            if self._lag_left.get(link, 0) > 0:
                self._lag_left[link] -= 1
                return True
            return False

    def blocked(self) -> set[Link]:
        """Links that really drop traffic now."""
        return {l for l in self.cut_links if l not in self.ineffective}

    def called(self, name: str) -> list[Any]:
        return [a for n, a in self.calls if n == name]


class BareCluster:
    """A cluster with no fault abilities at all."""

    def __init__(self, nodes: Collection[str] = ("n1", "n2", "n3")):
        self.nodes = tuple(nodes)

    def start(self, node: str) -> None: ...
    def stop(self, node: str) -> None: ...
    def address(self, node: str) -> Address:
        return Address(host="127.0.0.1", port=1)
    def alive(self, node: str) -> bool:
        return True


@pytest.fixture
def make_cluster() -> Callable[..., FakeCluster]:
    return FakeCluster


@pytest.fixture
def bare_cluster() -> BareCluster:
    return BareCluster()


def nemesis_op(index: int, f: str, value: Any = None, time: int | None = None,
               error: Any = None) -> Op:
    return Op(index=index, type="info", process=NEMESIS, f=f, value=value, time=time, error=error)


@dataclass
class Driver:
    """Drive nemesis generators on a virtual clock; keep one history across calls."""

    nemesis: Any
    seed: int = 0
    history: list[Op] = field(default_factory=list)
    now: int = 0
    op_ns: int = 10_000_000  # each nemesis op takes 10 ms of virtual time
    tick_ns: int = 50_000_000

    def run(self, g: Any, *, until_ns: int | None = None) -> None:
        import random
        rng = random.Random(self.seed)
        g = gen.lift(g)

        def ctx() -> gen.Context:
            return gen.Context(time=self.now, free=frozenset((NEMESIS,)), clients=frozenset(),
                               nemesis=True, rng=rng)
        while g is not None and (until_ns is None or self.now < until_ns):
            spec, nxt = g.op(ctx())
            if spec is None:
                return
            if spec is gen.PENDING:
                g = nxt
                self.now += self.tick_ns
                continue
            self.now = max(self.now, spec.time)
            inv = nemesis_op(len(self.history), spec.f, spec.value, self.now)
            self.history.append(inv)
            g = nxt.update(ctx(), inv)
            c = self.nemesis.invoke(inv)
            self.now += self.op_ns
            done = nemesis_op(len(self.history), spec.f, c.value, self.now, c.error)
            self.history.append(done)
            g = g.update(ctx(), done)


@pytest.fixture
def driver_for() -> Callable[..., Driver]:
    return Driver
