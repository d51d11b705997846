"""Named ports: which port numbers a node binds, and which address a peer must use for each.

A target declares its ports by name (``Target.ports``, e.g. ``{"client": 0,
"peer": 0, "admin": 0}``). ``client`` is mandatory: the harness's clients and
the ``ready`` probe use it. ``peer`` is what other nodes use when the target
declares it (else they use ``client``): that is the port the partition probe
checks on the IP path.

Where each node has its own IP (netns, Docker), every node binds the same
numbers: the declared one, or ``7000 + i`` for the i-th name declared with 0.
On the local backend all nodes share 127.0.0.1, so every (node, name) gets a
free port of its own, and the address a peer must use is the fault proxy of
that directed link and port.
"""

from __future__ import annotations

from typing import Mapping

from harness.cluster import Address

__all__ = ["BASE_PORT", "CLIENT", "PEER", "declared", "fixed_ports", "peer_port_name", "peers_of"]

CLIENT = "client"
PEER = "peer"
BASE_PORT = 7000


def declared(ports: Mapping[str, int] | None) -> dict[str, int]:
    """The target's ports, with ``client`` first; ``ValueError`` when ``client`` is missing."""
    ports = dict(ports or {CLIENT: 0})
    if CLIENT not in ports:
        raise ValueError(f"a target's ports must include {CLIENT!r} (the port clients use); got {sorted(ports)}")
    return {CLIENT: ports[CLIENT], **{k: v for k, v in ports.items() if k != CLIENT}}


def fixed_ports(ports: Mapping[str, int] | None, *, base: int = BASE_PORT) -> dict[str, int]:
    """Numbers for backends where every node has its own IP (see the module docstring)."""
    out: dict[str, int] = {}
    for i, (name, number) in enumerate(declared(ports).items()):
        out[name] = number or base + i
    if len(set(out.values())) != len(out):
        raise ValueError(f"two named ports share a number: {out}")
    return out


def peer_port_name(ports: Mapping[str, int] | None) -> str:
    """The port other nodes reach a node on: ``peer`` when declared, else ``client``."""
    return PEER if PEER in declared(ports) else CLIENT


def peers_of(peer_ports: Mapping[str, Mapping[str, Address]], ports: Mapping[str, int] | None,
             ) -> dict[str, Address]:
    """``NodeContext.peers`` from ``peer_ports``: each peer's peer port (see :func:`peer_port_name`)."""
    name = peer_port_name(ports)
    return {peer: by_name[name] for peer, by_name in peer_ports.items()}
