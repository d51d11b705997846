"""``harness.nodes``: node names by role, the layout a backend starts, and the one context builder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.cluster import Address, ClusterSpec
from harness.nodes import (
    client_nodes, command_of, layout, link_probe_of, node_context, node_names, ports_of, ready_of,
    role_map, role_of,
)
from harness.target import DEFAULT_ROLE, Role, Target
from tests.support.ping_target import TARGET as PING


def _probe(a: Address) -> bool:
    return True


def _cmd(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    return ["coordinator", ctx.name]


TWO_PHASE = replace(PING, name="two-phase", roles=(
    Role(name="coordinator", node_command=_cmd, link_probe=_probe, ports={"client": 0, "peer": 0}),
    Role(name="participant", count=3, clients=False)))


def test_a_single_role_target_keeps_n1_to_nN() -> None:
    assert node_names(PING) == ("n1", "n2", "n3")  # default_nodes
    assert node_names(PING, 5) == ("n1", "n2", "n3", "n4", "n5")
    assert role_map(PING, ("a", "b")) == {"a": DEFAULT_ROLE, "b": DEFAULT_ROLE}
    assert client_nodes(PING, ("a", "b")) == ("a", "b")
    with pytest.raises(ValueError, match="at least 1"):
        node_names(PING, 0)


def test_a_multi_role_target_names_nodes_by_role() -> None:
    assert node_names(TWO_PHASE) == ("coordinator", "participant1", "participant2", "participant3")
    assert node_names(TWO_PHASE, 4) == node_names(TWO_PHASE)
    with pytest.raises(ValueError, match="coordinator x1, participant x3: 4 nodes; leave out --nodes"):
        node_names(TWO_PHASE, 5)
    with pytest.raises(ValueError, match="so its nodes are coordinator, participant1"):
        layout(TWO_PHASE, ("n1", "n2", "n3", "n4"))
    specs = layout(TWO_PHASE, ("participant2", "coordinator", "participant1", "participant3"))
    assert [(s.name, s.index, s.role.name) for s in specs][:2] == [("participant2", 1, "participant"),
                                                                     ("coordinator", 2, "coordinator")]
    assert client_nodes(TWO_PHASE, node_names(TWO_PHASE)) == ("coordinator",)
    assert role_of(TWO_PHASE, node_names(TWO_PHASE), "participant3").name == "participant"


def test_a_roles_own_fields_win_and_the_targets_fill_the_rest() -> None:
    coord, part = TWO_PHASE.roles
    assert command_of(coord, TWO_PHASE) is _cmd and command_of(part, TWO_PHASE) is PING.node_command
    assert ready_of(coord, TWO_PHASE) is PING.ready
    assert link_probe_of(coord, TWO_PHASE) is _probe and link_probe_of(part, TWO_PHASE) is None
    assert ports_of(coord, TWO_PHASE) == {"client": 0, "peer": 0} and ports_of(part, TWO_PHASE) == PING.ports


def test_bad_roles_are_refused_when_the_target_is_written() -> None:
    with pytest.raises(ValueError, match="not ending in a digit"):
        Role(name="p1")
    with pytest.raises(ValueError, match="count must be at least 1"):
        Role(name="p", count=0)
    with pytest.raises(ValueError, match="role names must be distinct"):
        replace(PING, roles=(Role(name="a"), Role(name="a")))
    with pytest.raises(ValueError, match="no role takes clients"):
        client_nodes(replace(PING, roles=(Role(name="a", clients=False), Role(name="b", clients=False))),
                     ("a", "b"))


def test_the_context_tells_a_node_its_role_every_peers_role_and_the_right_peer_port() -> None:
    nodes = node_names(TWO_PHASE)
    spec = ClusterSpec(target=TWO_PHASE, variant="default", nodes=nodes, run_id="r", run_dir=Path("/tmp"),
                       options={"k": "v"})
    me = layout(TWO_PHASE, nodes)[1]  # participant1
    peer_ports = {"coordinator": {"client": Address(host="10.0.0.1", port=7000),
                                  "peer": Address(host="10.0.0.1", port=7001)},
                  "participant2": {"client": Address(host="10.0.0.3", port=7000)},
                  "participant3": {"client": Address(host="10.0.0.4", port=7000)}}
    ctx = node_context(spec, me, listen=Address(host="10.0.0.2", port=7000), data_dir="/d", python="py",
                       peer_ports=peer_ports)
    assert (ctx.name, ctx.index, ctx.role, ctx.variant, dict(ctx.options)) == (
        "participant1", 2, "participant", "default", {"k": "v"})
    assert ctx.roles == {"coordinator": "coordinator", "participant1": "participant",
                         "participant2": "participant", "participant3": "participant"}
    assert ctx.with_role("coordinator") == ("coordinator",)
    assert ctx.with_role("participant") == ("participant1", "participant2", "participant3")
    # the coordinator's role declares a peer port: peers use it; the participants' only have client
    assert ctx.peers["coordinator"].port == 7001 and ctx.peers["participant2"].port == 7000
    assert ctx.ports == {"client": 7000}
    given = node_context(spec, me, listen=Address(host="h", port=1), data_dir="/d", python="py",
                         peers={"coordinator": Address(host="x", port=2)})
    assert given.peers == {"coordinator": Address(host="x", port=2)}
