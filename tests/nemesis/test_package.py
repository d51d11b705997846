"""Nemesis packages: fault names, a seeded schedule alternating fault and quiet, a final heal."""

from __future__ import annotations

import random
from typing import Any

import pytest

from harness import generators as gen
from harness.history import NEMESIS, Op
from nemesis.core import Noop
from nemesis.package import package, parse_faults
from nemesis.windows import fault_windows

FIVE = ("n1", "n2", "n3", "n4", "n5")
NS = 1_000_000_000
HEAL = {"start-partition": "stop-partition", "kill": "start", "pause": "resume"}


def _sim(g: Any, *, seed: int, seconds: float = 300, concurrency: int = 0) -> list[Op]:
    return gen.simulate(gen.time_limit(seconds, g), seed=seed, concurrency=concurrency,
                        tick_ns=50_000_000, latency_ns=20_000_000)


def _nem(history: list[Op]) -> list[tuple[str, Any]]:
    return [(op.f, op.value) for op in history if op.process == NEMESIS]


def test_parse_faults() -> None:
    assert parse_faults("kill,partition") == ("kill", "partition")
    assert parse_faults(["pause", "pause"]) == ("pause",)
    assert parse_faults("none") == () and parse_faults("") == ()
    assert parse_faults("partition,clock") == ("clock", "partition")
    with pytest.raises(ValueError, match="unknown fault\\(s\\) \\['drift'\\]"):
        parse_faults("partition,drift")
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_faults("none,kill")


def test_none_is_an_empty_package_with_a_noop_nemesis() -> None:
    p = package("none", nodes=FIVE)
    assert isinstance(p.nemesis, Noop) and p.faults == ()
    assert _sim(p.generator, seed=1) == [] and _sim(p.final_generator, seed=1) == []


def test_the_same_seed_gives_the_same_schedule_whatever_the_clients_draw() -> None:
    mk = lambda: package("partition,kill,pause", nodes=FIVE, interval_s=5, seed=42).generator
    alone = _nem(_sim(mk(), seed=1))
    assert len(alone) >= 20
    assert _nem(_sim(mk(), seed=1)) == alone
    # other interpreter seeds and clients drawing from ctx.rng do not change the faults
    busy = gen.any_of(gen.clients(gen.fn(lambda rng: gen.OpSpec(f="read", value=rng.random()))), mk())
    with_clients = _nem(_sim(busy, seed=7, concurrency=3, seconds=60))
    assert len(with_clients) >= 4 and with_clients == alone[:len(with_clients)]
    other = _nem(_sim(package("partition,kill,pause", nodes=FIVE, interval_s=5, seed=43).generator, seed=1))
    assert other != alone


def test_without_a_seed_the_schedule_follows_the_interpreters_rng() -> None:
    mk = lambda: package("partition,kill", nodes=FIVE, interval_s=5).generator
    assert _nem(_sim(mk(), seed=3)) == _nem(_sim(mk(), seed=3))
    assert _nem(_sim(mk(), seed=3)) != _nem(_sim(mk(), seed=4))


def test_faults_alternate_with_quiet_periods_of_about_the_interval() -> None:
    h = _sim(package("partition,kill,pause", nodes=FIVE, interval_s=10, seed=5).generator, seed=0, seconds=600)
    ev = [op for op in h if op.process == NEMESIS]
    # pairs of events (invocation, completion) with the same f
    pairs = [(ev[i], ev[i + 1]) for i in range(0, len(ev) - 1, 2)]
    assert all(a.f == b.f for a, b in pairs)
    fs = [a.f for a, _ in pairs]
    starts, stops = fs[0::2], fs[1::2]
    assert set(starts) == {"start-partition", "kill", "pause"}  # every kind shows up
    assert all(HEAL[s] == t for s, t in zip(starts, stops))    # each fault is healed by its own heal
    for k, (a, b) in enumerate(pairs[1:], start=1):
        gap = a.time - pairs[k - 1][1].time                     # from previous completion to this op
        assert 5 * NS <= gap <= 15 * NS + 100_000_000
    first_quiet = pairs[0][0].time
    assert 5 * NS <= first_quiet <= 15 * NS + 100_000_000
    # kill and pause name their nodes: one or a minority, healed by the same nodes
    for (a, _), (b, _) in zip(pairs[0::2], pairs[1::2]):
        if a.f in ("kill", "pause"):
            assert 1 <= len(a.value["nodes"]) <= 2 and b.value == a.value
        else:
            assert a.value["grudge"]["kind"] == a.value["kind"]


def test_partition_kinds_can_be_restricted_and_too_few_nodes_are_refused() -> None:
    h = _sim(package("partition", nodes=FIVE, interval_s=2, seed=1, partitions=["bridge"]).generator, seed=0)
    kinds = {v["kind"] for f, v in _nem(h) if f == "start-partition"}
    assert kinds == {"bridge"}
    with pytest.raises(ValueError, match="no partition .* is possible with 1 node"):
        package("partition", nodes=["n1"])
    h = _sim(package("partition", nodes=["n1", "n2"], interval_s=2, seed=1).generator, seed=0)
    assert {v["kind"] for f, v in _nem(h) if f == "start-partition"} <= {"halves", "one"}


def _run(make_cluster: Any, driver_for: Any, stop_after_s: float) -> tuple[Any, Any, Any]:
    """Run the full package's schedule for ``stop_after_s`` (virtual) on a fake cluster."""
    c = make_cluster(FIVE)
    p = package("partition,kill,pause", nodes=FIVE, interval_s=3, seed=11,
                probe_timeout_s=0.001, verify_s=0.05)
    n = p.nemesis.setup(c)
    d = driver_for(n)
    try:
        d.run(gen.time_limit(stop_after_s, p.generator))
    except BaseException:
        n.teardown()
        raise
    return c, p, d


def test_final_generator_heals_everything_wherever_the_schedule_stopped(
        make_cluster: Any, driver_for: Any) -> None:
    _, p, d = _run(make_cluster, driver_for, 120)
    p.nemesis.teardown()
    ws = fault_windows(d.history)
    # stop in the middle of the first window of each kind, and once in a quiet period
    stops = {w.kind: (w.start_ns + w.end_ns) / 2 / NS for w in reversed(ws) if w.end_ns is not None}
    assert set(stops) == {"partition", "kill", "pause"}
    for kind, stop in [*stops.items(), ("quiet", ws[0].start_ns / 2 / NS)]:
        c, p, d = _run(make_cluster, driver_for, stop)
        try:
            open_ = [w.kind for w in fault_windows(d.history) if w.end_ns is None]
            assert open_ == ([] if kind == "quiet" else [kind])
            assert bool(c.cut_links or c.dead or c.paused) == (kind != "quiet")
            d.run(p.final_generator)
        finally:
            p.nemesis.teardown()
        assert not c.cut_links and not c.dead and not c.paused
        assert all(op.error is None for op in d.history)
        assert all(w.end_ns is not None for w in fault_windows(d.history))
        assert [op.f for op in d.history[-6:]][::2] == ["resume", "start", "stop-partition"]


def test_with_the_time_limit_no_fault_starts_late_and_every_hold_ends_by_the_limit() -> None:
    """A fault near the end would start (be confirmed) after the limit and last milliseconds."""
    limit, late = 10.0, 0
    for seed in range(30):
        mk = lambda lim: package("partition,kill,pause", nodes=FIVE, interval_s=3, seed=seed,
                                 time_limit_s=lim).generator
        h = _sim(mk(limit), seed=seed, seconds=limit)
        starts = [op.time for op in h if op.process == NEMESIS and op.f in HEAL]
        assert all(t <= (limit - 1.5) * NS + 20_000_000 for t in starts), seed  # + one event's latency
        for w in fault_windows(h):
            assert w.end_ns is None or w.end_ns <= limit * NS, (seed, w)
        # the same seed without the limit: the same faults as far as both go, and some start late
        free = _sim(mk(None), seed=seed, seconds=limit)
        assert _nem(h) == _nem(free)[:len(_nem(h))]
        late += any(op.time > (limit - 1.5) * NS + 20_000_000 for op in free
                    if op.process == NEMESIS and op.f in HEAL)
    assert late > 0  # the case the limit is there for does occur
