"""The partition nemesis claims a partition only after probes show the cut links drop traffic."""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator

import pytest

from harness.history import NEMESIS, Op
from nemesis.core import NemesisError
from nemesis.grudge import halves, majorities_ring, one
from nemesis.partition import PartitionNemesis
from nemesis.windows import fault_windows

FIVE = ("n1", "n2", "n3", "n4", "n5")


def _ev(i: int, f: str, value: Any = None, error: Any = None) -> Op:
    return Op(index=i, type="info", process=NEMESIS, f=f, value=value, error=error, time=i * 1000)


@pytest.fixture
def nem() -> Iterator[Callable[[Any], PartitionNemesis]]:
    made: list[PartitionNemesis] = []

    def make(cluster: Any, **kw: Any) -> PartitionNemesis:
        kw = {"probe_timeout_s": 0.01, "verify_s": 0.3, "seed": 1} | kw
        n = PartitionNemesis(**kw).setup(cluster)
        made.append(n)
        return n
    yield make
    for n in made:
        n.teardown()


def _start(n: PartitionNemesis, grudge: Any) -> Any:
    return n.invoke(_ev(0, "start-partition", {"kind": grudge.kind, "grudge": grudge.to_json()}))


def test_start_cuts_the_grudges_links_and_claims_it_after_probing(make_cluster: Any, nem: Any) -> None:
    c = make_cluster(FIVE)
    g = majorities_ring(FIVE, random.Random(3))
    done = _start(nem(c), g)
    assert done.type == "info" and done.error is None
    assert done.value["verified"] is True
    assert done.value["kind"] == "majorities-ring" and done.value["summary"] == g.summary
    assert done.value["links"] == [list(l) for l in g.links()]
    assert c.called("cut") == [g.links()]
    assert c.blocked() == set(g.links())
    assert set(g.links()) <= set(c.probes)              # every cut link was probed
    sampled = [tuple(l) for l in done.value["probe"]["uncut_sampled"]]
    assert len(sampled) == 3 and not set(sampled) & set(g.links())


def test_a_cut_that_does_not_take_effect_is_not_claimed_and_is_undone(make_cluster: Any, nem: Any) -> None:
    g = halves(FIVE, random.Random(0))
    leaky = g.links()[:2]
    c = make_cluster(FIVE, ineffective=leaky)
    done = _start(nem(c), g)
    assert done.value["verified"] is False
    assert "partition not in effect: 2 of 12 cut links still pass" in done.error
    assert [tuple(l) for l in done.value["probe"]["cut_passing"]] == leaky
    assert c.called("heal") == [None] and not c.cut_links  # undone
    history = [_ev(0, "start-partition", {"kind": "halves"}), _ev(1, "start-partition", done.value, done.error)]
    assert fault_windows(history) == []


def test_a_cut_that_takes_a_moment_is_retried_until_it_holds(make_cluster: Any, nem: Any) -> None:
    c = make_cluster(FIVE, lag=2)  # each cut link passes its first two probes
    g = one(FIVE, random.Random(0))
    done = _start(nem(c), g)
    assert done.error is None and done.value["verified"] is True
    assert c.probes.count(g.links()[0]) == 3


def test_uncut_links_that_drop_traffic_are_reported(make_cluster: Any, nem: Any) -> None:
    c = make_cluster(FIVE)
    g = one(FIVE, random.Random(0))
    lone = next(n for n in FIVE if g.sees(n) == {n})
    c.paused.add(next(n for n in FIVE if n != lone))  # a paused node: its links drop too
    done = nem(c, sample=100).invoke(_ev(0, "start-partition", {"grudge": g.to_json()}))
    assert done.value["verified"] is True  # the partition itself is in effect
    assert done.value["probe"]["uncut_blocked"] and "not cut drop traffic too" in done.error


def test_stop_heals_and_verifies_the_links_pass_again(make_cluster: Any, nem: Any) -> None:
    c = make_cluster(FIVE)
    n = nem(c)
    g = halves(FIVE, random.Random(5))
    _start(n, g)
    done = n.invoke(_ev(2, "stop-partition"))
    assert done.error is None and done.value["verified"] is True
    assert done.value["links"] == [list(l) for l in g.links()]
    assert not c.cut_links and c.called("heal") == [None]


def test_stop_with_nothing_cut_still_heals(make_cluster: Any, nem: Any) -> None:
    c = make_cluster(FIVE)
    done = nem(c).invoke(_ev(0, "stop-partition"))
    assert done.error is None and done.value == {"links": [], "verified": True, "probe": {"still_blocked": []}}
    assert c.called("heal") == [None]


def test_a_kind_alone_is_drawn_by_the_nemesis(make_cluster: Any, nem: Any) -> None:
    c = make_cluster(FIVE)
    done = nem(c).invoke(_ev(0, "start-partition", "bridge"))
    assert done.error is None and done.value["kind"] == "bridge" and len(c.blocked()) == 8


def test_bad_values_become_errors_not_exceptions(make_cluster: Any, nem: Any) -> None:
    c = make_cluster(FIVE)
    done = nem(c).invoke(_ev(0, "start-partition", {"kind": "triangle"}))
    assert done.value == {"verified": False} and "unknown partition kind 'triangle'" in done.error
    assert c.called("cut") == []


def test_setup_refuses_a_cluster_that_cannot_cut(bare_cluster: Any) -> None:
    with pytest.raises(NemesisError, match="cannot cut links"):
        PartitionNemesis().setup(bare_cluster)
