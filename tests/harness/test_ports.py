"""Named ports: numbering where nodes have their own IP, and which port peers use."""

from __future__ import annotations

import pytest

from harness.cluster import Address
from harness.ports import declared, fixed_ports, peer_port_name, peers_of


def test_numbers_follow_the_declaration_and_keep_explicit_ones() -> None:
    assert fixed_ports({"client": 0}) == {"client": 7000}
    assert fixed_ports({"peer": 0, "client": 0, "admin": 0}) == {"client": 7000, "peer": 7001, "admin": 7002}
    assert fixed_ports({"client": 6379, "peer": 0}) == {"client": 6379, "peer": 7001}


def test_client_is_required_and_numbers_must_differ() -> None:
    with pytest.raises(ValueError, match="must include 'client'"):
        declared({"peer": 0})
    with pytest.raises(ValueError, match="share a number"):
        fixed_ports({"client": 7001, "peer": 0})


def test_peers_use_the_peer_port_when_there_is_one() -> None:
    pp = {"n2": {"client": Address(host="h", port=1), "peer": Address(host="h", port=2)}}
    assert peer_port_name({"client": 0}) == "client" and peer_port_name({"client": 0, "peer": 0}) == "peer"
    assert peers_of(pp, {"client": 0, "peer": 0}) == {"n2": Address(host="h", port=2)}
    assert peers_of(pp, {"client": 0}) == {"n2": Address(host="h", port=1)}
