"""A target: everything the harness needs to test one system.

A target declares how to start a node, its client, its workloads and checkers,
and its variants. The runner knows nothing else about a system, so adding a
user's own system means writing one :class:`Target` and registering it
(:mod:`harness.registry`): the runner is not touched.

Built-in targets live in ``targets/<name>/`` and expose ``TARGET``; third-party
ones register through the ``splitbrain.targets`` entry point group.

Roles (Jepsen's ``role`` namespace). A target whose nodes are not all alike (a
coordinator and participants; an orchestrator and services) declares
``roles``: each :class:`Role` has a count and, where it differs from the
target's, its own node command, readiness probe, link probe and ports. A target
that declares none has one implicit role, :data:`DEFAULT_ROLE`, made of its own
fields, so every single-role target works unchanged. Node names and the
per-node context every backend gives a node come from :mod:`harness.nodes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from harness.cluster import Address

if TYPE_CHECKING:
    from checkers.api import Checker
    from harness.client import Client

__all__ = ["DEFAULT_ROLE", "NodeContext", "Role", "Target", "Workload", "WorkloadContext"]

DEFAULT_ROLE = "node"
"""The role name of every node of a target that declares no roles."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeContext:
    """What a backend tells a target about the node it is starting.

    ``listen``   host and port the node's service must bind.
    ``peers``    how this node reaches each other node. On the local backend each
                 is the address of a fault-injecting proxy for the directed link
                 ``name -> peer``; in containers, the peer's own address.
    ``ports``    this node's named ports (``Target.ports``' names), all bound on
                 ``listen.host``; ``listen.port`` is ``ports["client"]``.
    ``peer_ports`` peer name -> port name -> the address this node must use for
                 that peer's port so that cuts apply (local: a proxy per link and
                 port; netns and Docker: the peer's own IP and port).
                 ``peers[p]`` is ``peer_ports[p]["peer"]`` when the target
                 declares a ``peer`` port, else ``peer_ports[p]["client"]``.
    ``data_dir`` directory for durable state; survives kill and restart.
    ``python``   interpreter to run Python services with (``sys.executable``
                 locally, ``python3`` inside a container).
    ``options``  target-specific settings (from ``--option K=V``).
    ``role``     this node's role (:data:`DEFAULT_ROLE` for a single-role target).
    ``roles``    every node (this one included) -> its role; :meth:`with_role`
                 lists a role's nodes, e.g. a participant finding its coordinator.
    """

    name: str
    index: int
    nodes: tuple[str, ...]
    variant: str
    listen: Address
    peers: Mapping[str, Address]
    data_dir: str
    python: str
    options: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    peer_ports: Mapping[str, Mapping[str, Address]] = field(default_factory=dict)
    role: str = DEFAULT_ROLE
    roles: Mapping[str, str] = field(default_factory=dict)

    def with_role(self, role: str) -> tuple[str, ...]:
        """The nodes of ``role``, in cluster order (``()`` for a role nobody has)."""
        return tuple(n for n in self.nodes if self.roles.get(n, DEFAULT_ROLE) == role)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadContext:
    """What a workload may depend on when building its generator and checker."""

    nodes: tuple[str, ...]
    variant: str
    concurrency: int
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """Operations to send and the checker that judges them (Jepsen's workload map).

    ``generator`` builds the client generator (see :mod:`harness.generators`);
    ``final``, if given, builds the generator run after every fault is healed
    (final reads); ``checker`` builds the checker for the whole history.
    """

    name: str
    description: str
    generator: Callable[[WorkloadContext], Any]
    checker: Callable[[WorkloadContext], "Checker"]
    final: Callable[[WorkloadContext], Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """One kind of node of a target: how many, and what differs from the target's defaults.

    ``name``          the role's name, also the fault selector (``--nemesis kill:NAME``)
                      and the node names (:func:`harness.nodes.node_names`).
    ``count``         how many nodes have this role (at least 1).
    ``node_command``  argv for a node of this role; None: the target's ``node_command``.
    ``ready``         readiness probe of this role's nodes; None: the target's ``ready``.
    ``link_probe``    probe of a link to a node of this role; None: the target's.
    ``ports``         named ports of this role's nodes; None: the target's ``ports``.
    ``clients``       whether the harness's client workers are bound to this role's
                      nodes (False for, e.g., participants only a coordinator talks to).
    ``crash_points``  the named crash points this role's nodes declare (``after-charge``,
                      ...), which ``--nemesis crash`` arms at run time
                      (:mod:`harness.node.crashpoints`, :mod:`nemesis.crashpoints`).
    """

    name: str
    count: int = 1
    node_command: Callable[[NodeContext], list[str]] | None = None
    ready: Callable[[Address], bool] | None = None
    link_probe: Callable[[Address], bool] | None = None
    ports: Mapping[str, int] | None = None
    clients: bool = True
    crash_points: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name) or self.name[-1].isdigit():
            raise ValueError(f"role name {self.name!r}: use letters, digits, '-' or '_', not ending "
                             f"in a digit (node names are the role name plus a number)")
        if self.count < 1:
            raise ValueError(f"role {self.name!r}: count must be at least 1 (not {self.count})")
        bad = [p for p in self.crash_points if not p or p == "all" or "," in p or ":" in p]
        if bad or len(set(self.crash_points)) != len(self.crash_points):
            raise ValueError(f"role {self.name!r}: crash points must be distinct names without ',' or ':' "
                             f"and not 'all' (got {list(self.crash_points)})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A system under test.

    ``node_command``  argv that runs one node's service in the foreground, logging
                      to stdout/stderr (the backend captures it as the node log).
    ``ready``         probes a node's service once: True when it serves requests
                      (used at start and after the heal; never as the link probe).
    ``link_probe``    probes a link once, sent to the address a peer uses: True when
                      the request got through and was answered, whatever the
                      cluster's health (etcd's ``/health`` needs a quorum, so it
                      cannot tell a cut link from a minority node). None: the
                      backend's IP-level probe where it has one (namespace,
                      Docker), else ``ready`` (local proxies).
    ``client``        a fresh, unopened client (``Client.open`` binds it to a node).
    ``variants``      name -> one line on what the variant is.
    ``ports``         named ports of a node -> preferred number (0: the backend picks);
                      ``client`` is where the harness's clients and ``ready`` go,
                      ``peer`` (if declared) what other nodes use. See
                      :mod:`harness.ports`.
    ``source_dir``    the target's folder; the Docker backend builds
                      ``source_dir/Dockerfile``.
    ``build_context`` the folder the Docker build context is taken from (the
                      Dockerfile's ``COPY`` paths are relative to it). None: the
                      splitbrain project root, which built-in targets need (they
                      copy ``harness/``); an outside target sets its own folder.
    ``roles``         the node roles; empty: one implicit role :data:`DEFAULT_ROLE`
                      of ``default_nodes`` nodes made of the fields above.
    ``options``       option name -> one line on what it sets: every ``--option K=V``
                      the target, its client and workloads read. ``splitbrain run``
                      refuses any other K (a typo must not pass silently).
    ``check_options`` optional: called before any node starts with the run's
                      :class:`WorkloadContext`; raises ``ValueError`` saying what is
                      wrong with an option's value (``w=0`` for 5 nodes), so a bad
                      value is a usage error (exit 3), not nodes that die at start.
    ``clock``         optional: reads a node's wall clock once through the target's
                      API (seconds since the epoch, as the node's ``time.time()``);
                      the clock nemesis verifies each skew with it. None: the
                      clock nemesis refuses the target.
    """

    name: str
    description: str
    variants: Mapping[str, str]
    default_variant: str
    node_command: Callable[[NodeContext], list[str]]
    ready: Callable[[Address], bool]
    client: Callable[[], "Client"]
    workloads: Mapping[str, Workload]
    default_workload: str
    default_nodes: int = 5
    source_dir: Path | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=lambda: {"client": 0})
    link_probe: Callable[[Address], bool] | None = None
    build_context: Path | None = None
    roles: tuple[Role, ...] = ()
    check_options: Callable[[WorkloadContext], None] | None = None
    clock: Callable[[Address], float] | None = None

    def __post_init__(self) -> None:
        names = [r.name for r in self.roles]
        if len(set(names)) != len(names):
            raise ValueError(f"target {self.name!r}: role names must be distinct (got {names})")

    def workload(self, name: str | None) -> Workload:
        name = name or self.default_workload
        try:
            return self.workloads[name]
        except KeyError:
            raise ValueError(f"target {self.name!r} has no workload {name!r}; "
                             f"expected one of {sorted(self.workloads)}") from None

    def check_variant(self, variant: str | None) -> str:
        variant = variant or self.default_variant
        if variant not in self.variants:
            raise ValueError(f"target {self.name!r} has no variant {variant!r}; "
                             f"expected one of {sorted(self.variants)}")
        return variant
