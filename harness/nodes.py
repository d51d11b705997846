"""Nodes of a target: their names, their roles, and the context each one is started with.

One place for what every backend (local, namespace, Docker, SSH) must agree on,
so that a node sees the same :class:`~harness.target.NodeContext` whichever
backend starts it, and a role-aware fault means the same nodes everywhere.

Names. A target with one role (declared or the implicit
:data:`~harness.target.DEFAULT_ROLE`) has nodes ``n1`` ... ``nN`` (``N`` =
``--nodes``, else the role's count or ``default_nodes``). A target with several
roles has, in declaration order, a node named after each role of count 1
(``coordinator``, ``orchestrator``) and ``<role>1`` ... ``<role>k`` for a role
of count ``k > 1`` (``participant1`` ... ``participant3``); ``--nodes`` must
then be left out or equal the total. :func:`layout` gives each node its
:class:`NodeSpec` (name, 1-based index, role) and refuses node lists that do
not match the target's roles.

Per node, the role's own ``node_command``, ``ready``, ``link_probe`` and
``ports`` apply where it sets them, the target's otherwise
(:func:`command_of`, :func:`ready_of`, :func:`link_probe_of`, :func:`ports_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from harness.cluster import Address
from harness.ports import CLIENT, peer_port_name
from harness.target import DEFAULT_ROLE, NodeContext, Role, Target

if TYPE_CHECKING:
    from harness.cluster import ClusterSpec

__all__ = [
    "NodeSpec", "client_nodes", "command_of", "layout", "link_probe_of", "node_context",
    "node_names", "node_names_of_role", "ports_of", "ready_of", "role_map", "role_of", "roles_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """One node of a cluster: ``name``, ``index`` (1-based, cluster order) and ``role``."""

    name: str
    index: int
    role: Role


def roles_of(target: Target) -> tuple[Role, ...]:
    """The target's roles; one implicit :data:`DEFAULT_ROLE` of ``default_nodes`` if it declares none."""
    return target.roles or (Role(name=DEFAULT_ROLE, count=target.default_nodes),)


def node_names(target: Target, n: int | None = None) -> tuple[str, ...]:
    """The node names of a run of ``target`` with ``n`` nodes (None: the target's count).

    ``ValueError`` when ``n`` is given for a multi-role target and is not its total.
    """
    roles = roles_of(target)
    if len(roles) == 1:
        count = roles[0].count if n is None else n
        if count < 1:
            raise ValueError(f"--nodes must be at least 1 (not {count})")
        return tuple(f"n{i}" for i in range(1, count + 1))
    total = sum(r.count for r in roles)
    if n is not None and n != total:
        raise ValueError(f"target {target.name!r} has roles {_describe(roles)}: {total} nodes; "
                         f"leave out --nodes (not {n}) or change the roles' counts")
    return tuple(name for r in roles for name in node_names_of_role(r))


def layout(target: Target, nodes: Sequence[str]) -> tuple[NodeSpec, ...]:
    """Each of ``nodes`` with its index and role; ``ValueError`` if they do not fit the roles.

    A single-role target takes any distinct names (tests name their own); a
    multi-role one needs exactly :func:`node_names` (in any order).
    """
    nodes = tuple(nodes)
    if not nodes or len(set(nodes)) != len(nodes):
        raise ValueError(f"node names must be distinct and non-empty (not {nodes!r})")
    roles = roles_of(target)
    if len(roles) == 1:
        return tuple(NodeSpec(name=n, index=i, role=roles[0]) for i, n in enumerate(nodes, start=1))
    expected = node_names(target)
    role_by_name: dict[str, Role] = {}
    for r in roles:
        for name in node_names_of_role(r):
            role_by_name[name] = r
    if set(nodes) != set(expected):
        raise ValueError(f"target {target.name!r} has roles {_describe(roles)}, so its nodes are "
                         f"{', '.join(expected)} (not {', '.join(nodes)})")
    return tuple(NodeSpec(name=n, index=i, role=role_by_name[n]) for i, n in enumerate(nodes, start=1))


def node_names_of_role(role: Role) -> tuple[str, ...]:
    """The names of a role's nodes in a multi-role target."""
    return (role.name,) if role.count == 1 else tuple(f"{role.name}{i}" for i in range(1, role.count + 1))


def role_map(target: Target, nodes: Sequence[str]) -> dict[str, str]:
    """Node -> role name, in cluster order."""
    return {s.name: s.role.name for s in layout(target, nodes)}


def role_of(target: Target, nodes: Sequence[str], node: str) -> Role:
    """The role of ``node`` among ``nodes``; ``ValueError`` for a node not among them."""
    for s in layout(target, nodes):
        if s.name == node:
            return s.role
    raise ValueError(f"unknown node {node!r}; expected one of {', '.join(nodes)}")


def client_nodes(target: Target, nodes: Sequence[str]) -> tuple[str, ...]:
    """The nodes the harness's client workers are bound to (roles with ``clients=True``)."""
    picked = tuple(s.name for s in layout(target, nodes) if s.role.clients)
    if not picked:
        raise ValueError(f"target {target.name!r}: no role takes clients (every role has "
                         f"clients=False); let at least one role serve the harness's clients")
    return picked


def command_of(role: Role, target: Target) -> Callable[[NodeContext], list[str]]:
    return role.node_command or target.node_command


def ready_of(role: Role, target: Target) -> Callable[[Address], bool]:
    return role.ready or target.ready


def link_probe_of(role: Role, target: Target) -> Callable[[Address], bool] | None:
    """The declared link probe for links to a node of ``role``; None: the backend decides."""
    return role.link_probe or target.link_probe


def ports_of(role: Role, target: Target) -> Mapping[str, int]:
    return role.ports if role.ports is not None else target.ports


def node_context(spec: "ClusterSpec", node: NodeSpec, *, listen: Address, data_dir: str, python: str,
                 peer_ports: Mapping[str, Mapping[str, Address]] | None = None,
                 ports: Mapping[str, int] | None = None,
                 peers: Mapping[str, Address] | None = None) -> NodeContext:
    """The context ``node`` is started with; every backend builds it here.

    The backend says what only it knows: where the node listens (``listen``,
    ``ports``), how it reaches each port of each peer (``peer_ports``), its data
    directory and interpreter; the rest (roles, variant, options) comes from the
    spec. ``peers`` None: each peer's ``peer`` port where the peer's role
    declares one, else its ``client`` port (:func:`harness.ports.peer_port_name`).
    """
    specs = {s.name: s for s in layout(spec.target, spec.nodes)}
    peer_ports = {p: dict(by_name) for p, by_name in (peer_ports or {}).items()}
    if peers is None:
        peers = {p: by_name[peer_port_name(ports_of(specs[p].role, spec.target))]
                 for p, by_name in peer_ports.items()}
    return NodeContext(
        name=node.name, index=node.index, nodes=tuple(spec.nodes), variant=spec.variant,
        listen=listen, peers=dict(peers), data_dir=data_dir, python=python,
        options=dict(spec.options), ports=dict(ports or {CLIENT: listen.port}),
        peer_ports=peer_ports, role=node.role.name,
        roles={name: s.role.name for name, s in specs.items()})


def _describe(roles: Sequence[Role]) -> str:
    return ", ".join(f"{r.name} x{r.count}" for r in roles)
