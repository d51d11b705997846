"""The cluster protocol: what the runner and the nemesis may do to nodes.

A backend (local processes, Docker containers, SSH hosts) implements
:class:`Cluster`, and whichever optional abilities it has as separate small
protocols (Jepsen's DB with its Kill, Pause and LogFiles): :class:`Killable`,
:class:`Pausable`, :class:`Partitionable`, :class:`LogSource`. Callers test an
ability with ``isinstance(cluster, Killable)``.

Contract shared by all backends:

* A cluster is opened by :func:`harness.backends.open_cluster` as a context
  manager; leaving the ``with`` block, by return, exception or Ctrl-C, stops
  every node, heals every link and removes every process, port, container,
  network and temporary directory the cluster made.
* Node names are ``n1`` ... ``nN``, or named by role for a multi-role target
  (:func:`harness.nodes.node_names`); ``spec.nodes`` fixes them, and every backend
  builds each node's context with :func:`harness.nodes.node_context`.
* Every method is synchronous and safe to call from any thread; methods on the
  same node are serialised by the backend.
* A node's data directory survives ``kill``/``start`` (durability is the point
  of a kill) and is removed at close, after logs were collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Mapping, Protocol, runtime_checkable

if TYPE_CHECKING:
    from harness.target import Target

__all__ = [
    "Address", "ClockSkewable", "Cluster", "ClusterSpec", "EnvironmentError_", "Killable", "Link",
    "LogSource", "NodeFiles", "PacketFault", "PacketShapeable", "Partitionable", "Pausable", "TrafficCounters",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


Link = tuple[str, str]
"""A directed link ``(src, dst)``: traffic that ``src`` sends to ``dst``."""


class EnvironmentError_(RuntimeError):
    """The environment cannot host a run (no Docker engine, no free ports...).

    Its message is one or two sentences for a person: what is missing and what
    to do. The CLI prints it and exits 4.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSpec:
    """What a backend needs to bring a cluster up.

    ``run_id``   unique per run; every resource is labelled/named with it so that
                 ``splitbrain clean`` can find leftovers of a crashed harness.
    ``run_dir``  the run folder; node logs are collected into ``run_dir/logs``.
    ``options``  target-specific settings passed to every node (e.g. W and R).
    ``clock``    start every node with its own wall clock (libfaketime,
                 :mod:`harness.faketime`) that :class:`ClockSkewable` can skew;
                 only runs with the clock nemesis ask for it.
    """

    target: "Target"
    variant: str
    nodes: tuple[str, ...]
    run_id: str
    run_dir: Path
    options: Mapping[str, str] = field(default_factory=dict)
    clock: bool = False


@runtime_checkable
class Cluster(Protocol):
    """Start and stop nodes; tell clients where to find them."""

    nodes: tuple[str, ...]

    def start(self, node: str) -> None:
        """Start ``node``'s service (also: restart after a kill) and wait until it answers."""

    def stop(self, node: str) -> None:
        """Stop ``node`` gracefully (SIGTERM, then SIGKILL after a grace period)."""

    def address(self, node: str) -> Address:
        """Where the harness's clients reach ``node`` (never through the fault layer)."""

    def alive(self, node: str) -> bool:
        """Whether ``node``'s service process exists (paused counts as alive)."""


@runtime_checkable
class Killable(Protocol):
    def kill(self, node: str) -> None:
        """SIGKILL ``node``'s service; ``Cluster.start`` brings it back with its data."""


@runtime_checkable
class Pausable(Protocol):
    def pause(self, node: str) -> None:
        """SIGSTOP ``node``: it keeps its sockets but answers nothing."""

    def resume(self, node: str) -> None:
        """SIGCONT a paused node."""


@runtime_checkable
class Partitionable(Protocol):
    def cut(self, links: Collection[Link]) -> None:
        """Drop all traffic on ``links`` (added to what is already cut).

        Dropped, not refused: a connection attempt or a request in flight hangs
        as under packet loss.
        """

    def heal(self) -> None:
        """Restore every link."""

    def reachable(self, src: str, dst: str, timeout: float = 1.0) -> bool:
        """Probe the link ``src -> dst`` now: True when traffic gets through.

        The nemesis records a partition as in effect only after every cut link
        probes False.
        """


@runtime_checkable
class ClockSkewable(Protocol):
    def set_clock_offset(self, node: str, offset_ms: float) -> None:
        """Make ``node``'s wall clock read ``offset_ms`` ahead of the host's (negative: behind).

        Takes effect at once in the running node and survives its restarts.
        Only nodes started with ``ClusterSpec.clock`` see it; the clock
        nemesis verifies every offset by reading the node's clock, so an
        offset that changed nothing is reported, never assumed.
        """


@runtime_checkable
class LogSource(Protocol):
    def collect_logs(self, dest: Path) -> list[Path]:
        """Copy every node's log into ``dest`` (one file per node); return the paths."""


@runtime_checkable
class NodeFiles(Protocol):
    """Small files in a node's data directory, read and written from the harness's side.

    A control channel every backend has (the crash nemesis arms a node's crash
    points through it, :mod:`harness.node.crashpoints`): the local and netns
    backends reach the data directory on the host, Docker through ``docker exec``.
    ``name`` is a plain file name (no ``/``) in the node's ``data_dir``.
    """

    def read_node_file(self, node: str, name: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""

    def write_node_file(self, node: str, name: str, data: bytes) -> None:
        """Replace the file atomically (a reader sees the old bytes or the new, never a mix)."""


@runtime_checkable
class TrafficCounters(Protocol):
    """What each directed link carried, from the backend (iptables or proxy counters).

    ``traffic()`` maps each link ``(src, dst)`` to an object with ``packets``,
    ``bytes`` and ``dropped`` (what cuts dropped of the nodes' own traffic) and
    ``to_json()``; the harness's probes are never counted. Backends name their
    source in a ``traffic_source`` attribute (``"iptables"``, ``"proxy"``).
    """

    def traffic(self) -> Mapping[Link, object]:
        """Counters since the cluster was opened."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketFault:
    """How packets a node sends to its peers are mistreated (Jepsen's ``net/shape!`` behaviours).

    ``delay_ms`` (+ ``jitter_ms``, uniform) is added to every packet; ``loss``,
    ``duplicate`` and ``reorder`` are fractions in [0, 1] of packets dropped,
    sent twice, and sent at once ahead of delayed ones.
    """

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0


@runtime_checkable
class PacketShapeable(Protocol):
    def shape(self, nodes: Collection[str], fault: PacketFault) -> None:
        """Apply ``fault`` to the packets ``nodes`` send to other nodes (replacing any earlier shape)."""

    def unshape(self) -> None:
        """Remove every packet fault."""
