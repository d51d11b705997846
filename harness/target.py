"""A target: everything the harness needs to test one system.

A target declares how to start a node, its client, its workloads and checkers,
and its variants. The runner knows nothing else about a system, so adding a
user's own system means writing one :class:`Target` and registering it
(:mod:`harness.registry`): the runner is not touched.

Built-in targets live in ``targets/<name>/`` and expose ``TARGET``; third-party
ones register through the ``splitbrain.targets`` entry point group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from harness.cluster import Address

if TYPE_CHECKING:
    from checkers.api import Checker
    from harness.client import Client

__all__ = ["NodeContext", "Target", "Workload", "WorkloadContext"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeContext:
    """What a backend tells a target about the node it is starting.

    ``listen``   host and port the node's service must bind.
    ``peers``    how this node reaches each other node. On the local backend each
                 is the address of a fault-injecting proxy for the directed link
                 ``name -> peer``; in containers, the peer's own address.
    ``data_dir`` directory for durable state; survives kill and restart.
    ``python``   interpreter to run Python services with (``sys.executable``
                 locally, ``python3`` inside a container).
    ``options``  target-specific settings (from ``--option K=V``).
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
class Target:
    """A system under test.

    ``node_command``  argv that runs one node's service in the foreground, logging
                      to stdout/stderr (the backend captures it as the node log).
    ``ready``         probes a node's service once: True when it serves requests.
    ``client``        a fresh, unopened client (``Client.open`` binds it to a node).
    ``variants``      name -> one line on what the variant is.
    ``source_dir``    the target's folder; the Docker backend builds
                      ``source_dir/Dockerfile`` from the project root.
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
