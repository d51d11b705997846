"""The minimal witness and its named cause (checkers.linear.witness, checkers.linear.causes).

On histories whose cause is known by construction, the witness is exactly the
operations that make it, and removing any one of them (with the reads only
it could explain) leaves a linearizable rest. A hypothesis property checks on
random small histories that every witness is itself not linearizable and
1-minimal, for models where writes may be dropped and for one where only
reads may.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.api import Verdict
from checkers.linear.models import make_model
from checkers.linear.partition import Entry, partition
from checkers.linear.scheduler import check_partitions
from checkers.linear.witness import _fixed, closure, is_linearizable, minimal_witness
from checkers.linearizability import Linearizability
from harness.history import History, Op

MS = 1_000_000


def timed(events: list[tuple[int, Any, str, str, Any]], *, nodes: bool = True) -> History:
    """(time ms, process, type, f, value) -> a History with times and a node per process."""
    return History.of(Op(index=i, time=t * MS, process=p, type=ty, f=f, value=v,  # type: ignore[arg-type]
                         node=f"n{p % 5 + 1}" if nodes else None, error="timed out" if ty == "fail" else None)
                      for i, (t, p, ty, f, v) in enumerate(events))


NOISE = [  # a linearizable start: write 0, read 0, write 9, read 9 (all before the cause)
    (0, 9, "invoke", "write", 0), (1, 9, "ok", "write", 0),
    (2, 8, "invoke", "read", None), (3, 8, "ok", "read", 0),
    (4, 9, "invoke", "write", 9), (5, 9, "ok", "write", 9),
    (6, 8, "invoke", "read", None), (7, 8, "ok", "read", 9),
]


def stale_read() -> History:
    return timed(NOISE + [
        (10, 1, "invoke", "write", 877), (12, 1, "ok", "write", 877),
        (20, 2, "invoke", "write", 878), (25, 2, "ok", "write", 878),
        (30, 3, "invoke", "read", None), (33, 3, "ok", "read", 877),   # the stale read
        (40, 4, "invoke", "write", 879), (41, 4, "ok", "write", 879),
        (50, 5, "invoke", "read", None), (51, 5, "ok", "read", 879),   # later writes are seen: not lost
    ])


def lost_write() -> History:
    return timed(NOISE + [
        (10, 1, "invoke", "write", 877), (12, 1, "ok", "write", 877),
        (20, 2, "invoke", "write", 878), (25, 2, "ok", "write", 878),
        (30, 3, "invoke", "read", None), (33, 3, "ok", "read", 877),   # 878 is never seen by anyone
    ])


def failed_write_read() -> History:
    return timed(NOISE + [
        (10, 1, "invoke", "write", 877), (12, 1, "ok", "write", 877),
        (20, 2, "invoke", "write", 878), (25, 2, "fail", "write", 878),
        (30, 3, "invoke", "read", None), (33, 3, "ok", "read", 878),
    ])


def never_written() -> History:
    return timed(NOISE + [
        (10, 1, "invoke", "write", 877), (12, 1, "ok", "write", 877),
        (30, 3, "invoke", "read", None), (33, 3, "ok", "read", 5),
    ])


def flip_flop() -> History:
    return timed(NOISE + [
        (10, 1, "invoke", "write", 877), (10, 2, "invoke", "write", 878),   # concurrent writes
        (12, 2, "ok", "write", 878), (14, 1, "ok", "write", 877),
        (20, 3, "invoke", "read", None), (21, 3, "ok", "read", 877),
        (30, 4, "invoke", "read", None), (31, 4, "ok", "read", 878),        # back to the other one
    ])


def anomaly_of(h: History, model: str = "register") -> Any:
    r = Linearizability(model=model).check(h)
    assert r.verdict is Verdict.INVALID
    (a,) = r.anomalies
    return a


def witness_ops(a: Any) -> list[tuple[Any, str, Any, str]]:
    return [(o["process"], o["f"], o["value"], o["type"]) for o in a.data["witness"]]


def entries_of(h: History, model: str = "register") -> tuple[list[Entry], Any, Any]:
    m = make_model(model)
    (part,) = partition(h, m)
    return list(part.entries), m, m.init(part.key)


def assert_each_removal_linearizes(witness: list[Entry], model: Any, init: Any) -> None:
    fixed = _fixed(witness)
    for e in witness if fixed else [e for e in witness if e.call.read_only]:
        gone = {id(x) for x in closure([e], witness, fixed=fixed)}
        rest = [x for x in witness if id(x) not in gone]
        assert is_linearizable(rest, model, init), f"still invalid without {e.op}"
    assert is_linearizable(witness, model, init) is False


def test_a_stale_read_is_the_two_writes_and_the_read_with_the_real_time_argument() -> None:
    a = anomaly_of(stale_read())
    assert witness_ops(a) == [(1, "write", 877, "ok"), (2, "write", 878, "ok"), (3, "read", 877, "ok")]
    assert a.data["cause"]["pattern"] == "stale-read" and a.data["witness_minimal"] is True
    assert a.summary.startswith("stale read: write 878 (p2 via n3) completed at 0.025 s, before the read "
                                "(p3 via n4) began at 0.030 s, so the read cannot return the older 877")
    assert [o["role"] for o in a.data["witness"]] == ["wrote the value read", "overwrote it", "stale read"]
    w = a.data["witness"][2]
    assert (w["node"], w["invoke_s"], w["complete_s"]) == ("n4", 0.03, 0.033)


def test_a_lost_write_is_named_when_no_read_ever_sees_it_or_anything_newer() -> None:
    a = anomaly_of(lost_write())
    assert witness_ops(a) == [(1, "write", 877, "ok"), (2, "write", 878, "ok"), (3, "read", 877, "ok")]
    assert a.data["cause"]["pattern"] == "lost-write"
    assert "was acknowledged at 0.025 s" in a.summary and "the acknowledged write was lost" in a.summary


def test_a_read_of_a_failed_write_is_the_read_and_the_failed_write_with_its_error() -> None:
    a = anomaly_of(failed_write_read())
    assert witness_ops(a) == [(2, "write", 878, "fail"), (3, "read", 878, "ok")]
    assert a.data["cause"]["pattern"] == "failed-write-read"
    assert a.data["witness"][0]["error"] == "timed out"
    assert "written only by write 878 (p2 via n3), which reported fail at 0.025 s (timed out)" in a.summary


def test_a_value_never_written_is_the_read_alone() -> None:
    a = anomaly_of(never_written())
    assert witness_ops(a) == [(3, "read", 5, "ok")]
    assert a.data["cause"]["pattern"] == "never-written"
    assert "no operation in the history wrote 5, and the register starts as nil" in a.summary


def test_flip_flopping_reads_are_two_concurrent_writes_and_two_reads() -> None:
    a = anomaly_of(flip_flop())
    assert sorted(witness_ops(a)) == sorted([(1, "write", 877, "ok"), (2, "write", 878, "ok"),
                                             (3, "read", 877, "ok"), (4, "read", 878, "ok")])
    assert a.data["cause"]["pattern"] == "flip-flop"
    assert "a later one cannot go back to 878" in a.summary


def test_each_known_witness_is_one_minimal_and_sound_under_removal() -> None:
    for make in (stale_read, lost_write, failed_write_read, never_written, flip_flop):
        entries, m, init = entries_of(make())
        w = minimal_witness(entries, m, init)
        assert w is not None and w.minimal
        assert_each_removal_linearizes(list(w.entries), m, init)


def test_treating_the_failed_write_as_indeterminate_makes_the_witness_linearizable() -> None:
    # the cause is exactly that write: had it possibly happened, nothing would be wrong
    h = failed_write_read()
    ops = [Op(index=o.index, time=o.time, process=o.process, type="info" if o.type == "fail" else o.type,
              f=o.f, value=o.value) for o in h.ops]
    assert Linearizability(model="register").check(History.of(ops)).verdict is Verdict.VALID


def test_independent_keys_name_the_key_and_unwrap_the_values() -> None:
    ops = [Op(index=o.index, time=o.time, process=o.process, type=o.type, f=o.f, node=o.node,
              value=[0, o.value] if o.f == "write" or o.type == "ok" else [0, None]) for o in stale_read().ops]
    (a,) = Linearizability(model="register", independent=True).check(History.of(ops)).anomalies
    assert a.summary.startswith("key 0: stale read: write 878 (p2 via n3)")
    assert [o["value"] for o in a.data["witness"]] == [[0, 877], [0, 878], [0, 877]]


def test_a_big_key_gets_a_small_witness_from_the_ops_near_the_failing_one() -> None:
    ev: list[tuple[int, Any, str, str, Any]] = []
    t = 0
    for i in range(3000):  # a long linearizable run of writes and reads, then one stale read
        ev += [(t, 0, "invoke", "write", i), (t + 1, 0, "ok", "write", i),
               (t + 2, 1, "invoke", "read", None), (t + 3, 1, "ok", "read", i)]
        t += 4
    ev += [(t, 1, "invoke", "read", None), (t + 1, 1, "ok", "read", 2998)]
    entries, m, init = entries_of(timed(ev))
    w = minimal_witness(entries, m, init, stuck=len(entries) - 1, budget_s=10)
    assert w is not None and w.minimal and w.searches < 60
    assert [(e.op.f, e.op.value) for e in w.entries] == [("write", 2998), ("write", 2999), ("read", 2998)]


def test_out_of_time_gives_up_gracefully_with_the_prefix_explanation() -> None:
    ticks = itertools.count(0, 100.0)  # every clock read is 100 s later: the budget is gone at once
    a = Linearizability(model="register").check(stale_read()).anomalies[0]
    from checkers.linear.explain import explain
    m = make_model("register")
    (part,) = [p for p in partition(stale_read(), m)]
    out = check_partitions([part], m)
    assert out.invalid is not None
    b = explain(part, out.invalid[1], m, history=stale_read(), clock=lambda: next(ticks))
    assert "witness" not in b.data and "witness_note" in b.data
    assert b.summary == b.data["search"] and "cannot be linearized after" in b.summary
    assert a.data["search"] == b.data["search"]


# --- the property: every witness is not linearizable and 1-minimal ----------------


@st.composite
def small_history(draw: Any, model: str) -> History:
    """Up to 9 ops by 4 processes on one object: random intervals (one op open per process) and outcomes."""
    events: list[tuple[int, int, str, str, Any]] = []
    for p in range(draw(st.integers(1, 4))):
        t = draw(st.integers(0, 10))
        for _ in range(draw(st.integers(0, 3))):
            if model == "mutex":
                f, v, out = draw(st.sampled_from(["acquire", "release"])), None, None
            elif model == "counter":
                f = draw(st.sampled_from(["add", "read"]))
                v = draw(st.integers(1, 2)) if f == "add" else None
                out = v if f == "add" else draw(st.integers(0, 4))
            else:
                f = draw(st.sampled_from(["read", "write", "cas"] if model == "cas-register" else ["read", "write"]))
                v = None if f == "read" else draw(st.integers(0, 2)) if f == "write" else \
                    [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
                out = draw(st.sampled_from([None, 0, 1, 2])) if f == "read" else v
            end = t + draw(st.integers(1, 15))
            outcome = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
            events.append((t, p, "invoke", f, v))
            if outcome == "info":
                break  # never completed: the process is done
            events.append((end, p, outcome, f, out if outcome == "ok" else v))
            t = end + draw(st.integers(1, 10))
    events.sort(key=lambda e: e[0])  # stable: a process's invoke stays before its completion
    return History.of(Op(index=i, time=t * MS, process=p, type=ty, f=f, value=v)  # type: ignore[arg-type]
                      for i, (t, p, ty, f, v) in enumerate(events))


def _check_property(h: History, model: str) -> None:
    m = make_model(model)
    parts = partition(h, m)
    out = check_partitions(parts, m)
    if out.verdict != "invalid":
        return
    part, res = out.invalid  # type: ignore[misc]
    init = m.init(part.key)
    w = minimal_witness(part.entries, m, init, stuck=res.stuck, budget_s=30)
    assert w is not None and w.minimal
    assert set(map(id, w.entries)) <= set(map(id, part.entries))
    assert_each_removal_linearizes(list(w.entries), m, init)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["register", "cas-register", "mutex", "counter"]).flatmap(
    lambda model: st.tuples(st.just(model), small_history(model))))
def test_every_witness_is_not_linearizable_and_one_minimal(case: tuple[str, History]) -> None:
    model, h = case
    _check_property(h, model)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["register", "cas-register", "mutex"]).flatmap(
    lambda model: st.tuples(st.just(model), small_history(model), st.randoms(use_true_random=False))))
def test_removal_with_closure_never_makes_a_linearizable_key_invalid(case: tuple[str, History, Any]) -> None:
    # the soundness the prose relies on: a witness's illegality is the whole key's, not removal's doing
    model, h, rnd = case
    m = make_model(model)
    for part in partition(h, m):
        init = m.init(part.key)
        if not is_linearizable(part.entries, m, init):
            continue
        entries = list(part.entries)
        drop = [e for e in entries if rnd.random() < 0.4]
        gone = {id(x) for x in closure(drop, entries)}
        rest = [e for e in entries if id(e) not in gone]
        assert is_linearizable(rest, m, init), [e.op for e in rest]


def test_a_cas_that_replaced_the_only_write_of_the_value_makes_a_later_read_of_it_stale() -> None:
    # Porcupine etcd_072's shape: the cas overlaps the write, but needs its value, so it came after it
    a = anomaly_of(timed([
        (0, 1, "invoke", "write", 1), (1, 2, "invoke", "cas", [1, 4]), (2, 1, "ok", "write", 1),
        (5, 2, "ok", "cas", [1, 4]),
        (10, 3, "invoke", "read", None), (11, 3, "ok", "read", 1),
        (20, 4, "invoke", "read", None), (21, 4, "ok", "read", 4),  # the cas was seen: not lost
    ]), model="cas-register")
    assert witness_ops(a) == [(1, "write", 1, "ok"), (2, "cas", [1, 4], "ok"), (3, "read", 1, "ok")]
    assert a.data["cause"]["pattern"] == "stale-read"
    assert "cas [1 4] (p2 via n3) completed at 0.005 s, before the read (p3 via n4) began at 0.010 s, " \
           "and it had replaced the 1 that only write 1 (p1 via n2) wrote" in a.summary


def test_a_stale_read_proved_through_an_overlapping_read_of_the_newer_value() -> None:
    # the hot key of a real seed-variant run: the two writes overlap, so real time alone does not order
    # them; a read that began after write 269 completed returned 268, so 268 came later
    a = anomaly_of(timed([
        (0, 3, "invoke", "write", 268), (1, 9, "invoke", "write", 269), (4, 9, "ok", "write", 269),
        (20, 7, "invoke", "read", None), (22, 3, "ok", "write", 268),
        (35, 4, "invoke", "read", None), (36, 7, "ok", "read", 268), (46, 4, "ok", "read", 269),
    ]))
    assert sorted(witness_ops(a)) == sorted([(3, "write", 268, "ok"), (9, "write", 269, "ok"),
                                             (7, "read", 268, "ok"), (4, "read", 269, "ok")])
    assert a.data["cause"]["pattern"] == "stale-read"
    assert a.summary == ("stale read: write 268 (p3 via n4) completed at 0.022 s, before the read (p4 via n5) began "
                         "at 0.035 s; it came after write 269 (p9 via n5), since the read (p7 via n3), begun at "
                         "0.020 s after that write had completed at 0.004 s, returned 268, so the read cannot "
                         "return the older 269.")


def test_witness_s_zero_leaves_the_prefix_explanation_alone() -> None:
    (a,) = Linearizability(model="register", witness_s=0).check(stale_read()).anomalies
    assert "witness" not in a.data and "witness_s=0" in a.data["witness_note"]
    assert a.summary == a.data["search"]
