"""Aiming faults at roles: ``kill:coordinator``, ``pause:participant``, ``partition:orchestrator``.

A fault name from the CLI is a kind (``partition``, ``kill``, ``pause``, ...)
optionally followed by ``:ROLE``, a role the target declares
(:class:`harness.target.Role`). Unaimed, a fault picks among every node, as
Jepsen's plain replicas: one node or a minority, a grudge over all nodes. Aimed:

``kill:ROLE``, ``pause:ROLE``  one node of ROLE, or a minority of its nodes
                               (a role of one node: that node; of three: one).
``partition:ROLE``             every node of ROLE cut off from every node of
                               other roles (:func:`nemesis.grudge.isolate`):
                               "isolate the orchestrator from every service".
``crash:ROLE[:POINT]``          a crash point of one of ROLE's nodes
                               (:mod:`nemesis.crashpoints`).

The schedule resolves an aim to node names when it draws the episode, so the
history records exactly which nodes were hit; the nemeses only ever see node
names. This module is pure: names in, names out.
"""

from __future__ import annotations

from typing import Collection, Mapping

from harness.target import DEFAULT_ROLE

__all__ = ["check_aims", "default_roles", "kinds", "members", "split"]


def split(fault: str) -> tuple[str, str | None]:
    """``"kill:coordinator"`` -> ``("kill", "coordinator")``; ``"kill"`` -> ``("kill", None)``."""
    kind, sep, role = fault.partition(":")
    kind, role = kind.strip(), role.strip()
    if sep and not role:
        raise ValueError(f"fault {fault!r}: a role must follow ':' (e.g. kill:coordinator)")
    return kind, (role if sep else None)


def kinds(faults: Collection[str]) -> frozenset[str]:
    """The fault kinds of ``faults``, aims dropped: ``{"kill:coordinator", "pause"}`` -> ``{"kill", "pause"}``."""
    return frozenset(split(f)[0] for f in faults)


def members(roles: Mapping[str, str], role: str) -> tuple[str, ...]:
    """The nodes of ``role`` in cluster order; ``ValueError`` names the roles there are."""
    found = tuple(n for n, r in roles.items() if r == role)
    if not found:
        known = sorted(set(roles.values()))
        raise ValueError(f"no node has role {role!r}; the roles are {', '.join(known)} "
                         f"(aim a fault with KIND:ROLE, e.g. kill:{known[0] if known else 'ROLE'})")
    return found


def check_aims(faults: Collection[str], roles: Mapping[str, str]) -> None:
    """``ValueError`` for an aim at a role no node has, or a partition aimed at every node."""
    for f in faults:
        kind, role = split(f)
        if kind == "crash" and role is not None:  # crash:ROLE:POINT (nemesis.crashpoints checks the point)
            role = role.partition(":")[0].strip() or None
        if role is None:
            continue
        aimed = members(roles, role)
        if kind == "partition" and len(aimed) == len(roles):
            raise ValueError(f"--nemesis {f}: every node has role {role!r}, so isolating it cuts "
                             f"nothing; use plain 'partition' or aim at a role with fewer nodes")


def default_roles(nodes: Collection[str]) -> dict[str, str]:
    """Every node in :data:`~harness.target.DEFAULT_ROLE`: the roles of a single-role target."""
    return {n: DEFAULT_ROLE for n in nodes}
