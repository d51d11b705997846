"""The packet nemesis: what it refuses, and how a measurement verifies a shape (real runs: tests/backends/test_netns.py)."""

from __future__ import annotations

import random

import pytest

from harness.cluster import PacketFault
from harness.cluster import EnvironmentError_
from nemesis.packet import BEHAVIOURS, PacketNemesis, _verify, draw_behaviour


def m(rtts, lost=0):  # type: ignore[no-untyped-def]
    return {"rtt_ms": rtts, "lost": lost, "sent": len(rtts) + lost}


def test_a_backend_that_cannot_shape_is_refused_with_a_sentence() -> None:
    class Plain:
        nodes = ("n1", "n2")

    with pytest.raises(EnvironmentError_, match="packet faults are unavailable on the Plain backend"):
        PacketNemesis().setup(Plain())  # type: ignore[arg-type]


def test_a_delay_must_show_in_the_connect_times() -> None:
    f = PacketFault(delay_ms=50)
    assert _verify(f, m([0.1] * 5), m([52.0] * 5), {"delay": 10}) == (True, "")
    ok, why = _verify(f, m([0.1] * 5), m([0.2] * 5), {"delay": 10})
    assert not ok and "median connect time" in why


def test_each_mechanism_must_have_hit_packets() -> None:
    ok, why = _verify(PacketFault(loss=0.2, duplicate=0.2), m([0.1]), m([0.1], lost=2), {"loss": 3})
    assert not ok and "duplication rule copied nothing" in why
    assert _verify(PacketFault(loss=0.2), m([0.1]), m([0.1]), {"loss": 1})[0]


def test_behaviours_are_drawn_from_the_seed() -> None:
    a = [draw_behaviour(random.Random(7)) for _ in range(3)]
    assert a == [draw_behaviour(random.Random(7)) for _ in range(3)]
    assert {b["name"] for b in (draw_behaviour(random.Random(s)) for s in range(40))} == set(BEHAVIOURS)
