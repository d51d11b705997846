"""Generators, interpreted by ``simulate`` on a virtual clock (no threads, no sleeps)."""

from __future__ import annotations

import collections

import pytest

from harness.generators import (
    NS, PENDING, Context, OpSpec, any_of, clients, cycle, each_process, fn, independent, limit,
    map_ops, mix, nemesis, phases, rate, repeat, seq, simulate, sleep, stagger, time_limit,
)
from harness.history import NEMESIS, History

READ = OpSpec(f="read")


def write_or_read(rng):
    return OpSpec(f="write", value=rng.randrange(100)) if rng.random() < 0.5 else OpSpec(f="read")


def invokes(h, f=None):
    return [o for o in h if o.type == "invoke" and (f is None or o.f == f)]


def test_same_seed_same_history_other_seed_differs():
    g = clients(limit(200, fn(write_or_read)))
    a = simulate(g, seed=7, concurrency=4)
    b = simulate(g, seed=7, concurrency=4)
    c = simulate(g, seed=8, concurrency=4)
    assert a == b
    assert [o.value for o in a] != [o.value for o in c]


def test_limit_counts_invocations_and_history_pairs():
    h = simulate(clients(limit(17, fn(write_or_read))), seed=1, concurrency=3)
    assert len(invokes(h)) == 17
    hist = History.of(h)
    assert len(hist.operations) == 17 and all(op.status == "ok" for op in hist.operations)
    assert [o.index for o in h] == list(range(len(h)))
    assert all(a.time <= b.time for a, b in zip(h, h[1:]))


def test_time_limit_stops_issuing_at_the_cutoff():
    h = simulate(clients(time_limit(0.5, repeat(READ))), seed=1, concurrency=2, latency_ns=10_000_000)
    inv = invokes(h)
    assert inv and max(o.time for o in inv) < NS // 2
    # 2 workers, 10 ms per op, 500 ms: 50 rounds of 2
    assert len(inv) == 100


def test_seq_runs_items_in_order_and_lifts_opspecs():
    h = simulate(clients(seq([OpSpec(f="a"), OpSpec(f="b"), limit(2, repeat(OpSpec(f="c")))])),
                 seed=1, concurrency=1)
    assert [o.f for o in invokes(h)] == ["a", "b", "c", "c"]


def test_phases_complete_each_phase_before_the_next():
    g = phases(clients(limit(10, repeat(OpSpec(f="one")))), clients(limit(5, repeat(OpSpec(f="two")))))
    h = simulate(g, seed=3, concurrency=4, latency_ns=lambda rng: rng.randrange(1, 10_000_000))
    last_one = max(o.index for o in h if o.f == "one")
    first_two = min(o.index for o in h if o.f == "two")
    assert last_one < first_two
    assert len(invokes(h, "one")) == 10 and len(invokes(h, "two")) == 5


def test_mix_draws_from_every_generator_and_drops_exhausted_ones():
    g = clients(limit(300, mix([repeat(OpSpec(f="a")), repeat(OpSpec(f="b")), limit(3, repeat(OpSpec(f="c")))])))
    counts = collections.Counter(o.f for o in invokes(simulate(g, seed=5, concurrency=2)))
    assert counts["c"] == 3
    assert counts["a"] > 100 and counts["b"] > 100
    assert sum(counts.values()) == 300


def test_any_of_runs_clients_and_nemesis_concurrently_and_routes_them():
    schedule = cycle([sleep(0.1), OpSpec(f="start-partition"), sleep(0.1), OpSpec(f="stop-partition")])
    g = any_of(clients(time_limit(1, repeat(READ))), nemesis(time_limit(1, schedule)))
    h = simulate(g, seed=1, concurrency=3)
    nem = [o for o in h if o.process == NEMESIS]
    assert all(o.type == "info" for o in nem)
    fs = [o.f for o in nem[::2]]
    assert fs[:4] == ["start-partition", "stop-partition", "start-partition", "stop-partition"]
    assert len(fs) == 9  # one fault every ~0.101 s (sleep + 1 ms latency) within 1 s
    assert all(o.f == "read" for o in h if o.process != NEMESIS)
    # clients kept working while the nemesis slept
    assert len(invokes(h)) > 2000


def test_plain_opspec_outside_nemesis_never_goes_to_the_nemesis():
    h = simulate(limit(50, repeat(READ)), seed=1, concurrency=2)
    assert all(o.process in (0, 1) for o in h)


def test_info_moves_the_worker_to_a_fresh_process_and_leaves_the_op_open():
    def complete(op, rng):
        return ("info", None) if op.process % 2 == 0 else ("ok", op.value)
    h = simulate(clients(limit(6, repeat(READ))), seed=1, concurrency=2, complete=complete)
    procs = [o.process for o in invokes(h)]
    assert 2 in procs and 4 in procs  # 0 -> 2 -> 4: each info gives worker 0 a new process
    hist = History.of(h)
    infos = [op for op in hist.operations if op.status == "info"]
    assert {op.process for op in infos} >= {0, 2}


def test_stagger_spaces_ops_at_about_the_rate():
    h = simulate(clients(time_limit(10, rate(100, repeat(READ)))), seed=4, concurrency=5, latency_ns=1000)
    n = len(invokes(h))
    assert 800 < n < 1200  # 100 ops/s for 10 s


def test_stagger_gaps_are_random():
    h = simulate(clients(limit(50, stagger(0.01, repeat(READ)))), seed=4, concurrency=5, latency_ns=1000)
    t = [o.time for o in invokes(h)]
    gaps = {b - a for a, b in zip(t, t[1:])}
    assert len(gaps) > 40 and max(gaps) < 20_000_000


def test_independent_wraps_values_with_keys_and_runs_each_key_generator():
    g = clients(independent(["x", "y", "z"], lambda k: [OpSpec(f="write", value=k + "1"), OpSpec(f="read")]))
    h = simulate(g, seed=9, concurrency=2)
    inv = invokes(h)
    assert len(inv) == 6
    for k in "xyz":
        mine = [o for o in inv if o.value[0] == k]
        assert [o.f for o in mine] == ["write", "read"]
        assert mine[0].value == [k, k + "1"]


def test_independent_picks_keys_by_the_rng():
    order_a = [o.value[0] for o in invokes(simulate(clients(independent(5, lambda k: limit(3, repeat(READ)))),
                                                    seed=1, concurrency=1))]
    order_b = [o.value[0] for o in invokes(simulate(clients(independent(5, lambda k: limit(3, repeat(READ)))),
                                                    seed=2, concurrency=1))]
    assert sorted(order_a) == sorted(order_b) == sorted(list(range(5)) * 3)
    assert order_a != order_b


def test_each_process_gives_every_worker_its_own_copy():
    h = simulate(clients(each_process(seq([OpSpec(f="a"), OpSpec(f="b")]))), seed=1, concurrency=3)
    by_p = collections.defaultdict(list)
    for o in invokes(h):
        by_p[o.process].append(o.f)
    assert dict(by_p) == {0: ["a", "b"], 1: ["a", "b"], 2: ["a", "b"]}


def test_cycle_times_and_map_ops():
    g = clients(cycle(map_ops(lambda s: OpSpec(f=s.f.upper(), process=s.process, time=s.time),
                              [OpSpec(f="a"), OpSpec(f="b")]), times=3))
    assert [o.f for o in invokes(simulate(g, seed=1, concurrency=1))] == ["A", "B"] * 3


def test_sleep_delays_the_next_item():
    h = simulate(clients(seq([OpSpec(f="a"), sleep(2), OpSpec(f="b")])), seed=1, concurrency=1)
    a, b = invokes(h)
    assert b.time - a.time >= 2 * NS


def test_explicit_process_waits_for_that_process():
    g = clients(seq([OpSpec(f="a", process=1), OpSpec(f="b", process=1)]))
    h = simulate(g, seed=1, concurrency=2)
    assert [o.process for o in invokes(h)] == [1, 1]


def test_op_does_not_consume_and_pending_when_nobody_is_free():
    import random
    g = limit(1, repeat(READ))
    busy = Context(time=0, free=frozenset(), clients=frozenset({0}), nemesis=False, rng=random.Random(1))
    spec, nxt = g.op(busy)
    assert spec is PENDING
    idle = Context(time=5, free=frozenset({0}), clients=frozenset({0}), nemesis=False, rng=random.Random(1))
    s1, _ = g.op(idle)
    s2, after = g.op(idle)
    assert s1 == s2 == OpSpec(f="read", process=0, time=5)
    assert after.op(idle) == (None, None)


def test_lift_rejects_non_generators_with_a_clear_message():
    with pytest.raises(TypeError, match="expected a generator"):
        seq([{"f": "read"}]).op(Context(time=0, free=frozenset({0}), clients=frozenset({0}), nemesis=False,
                                         rng=__import__("random").Random(0)))


def test_rate_rejects_non_positive():
    with pytest.raises(ValueError, match="rate must be > 0"):
        rate(0, repeat(READ))
