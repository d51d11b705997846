"""The witness reduction's parts held to a brute-force oracle on small random histories.

The oracle tries every order real time allows (``info`` and never-completed
ops may also never happen), with no cache and no cuts. Against it:

* :func:`checkers.linear.small.linearizable`, the plain search the reduction
  tries each candidate set with, on every model and on random subsets (the
  reduction only ever asks about subsets);
* every witness, on every model: not linearizable, and each removal (with
  its closure) linearizable, so 1-minimal;
* the monotonicity the reduction's cut relies on: a linearizable set closed
  under makers stays linearizable when closed removals are taken from it;
* the bit-set closure (:class:`checkers.linear.witness._Closure`) equals
  :func:`checkers.linear.witness.closure`.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.linear.models import Model, make_model
from checkers.linear.partition import Entry, partition
from checkers.linear.scheduler import check_partitions
from checkers.linear.small import linearizable
from checkers.linear.witness import _by_value, _Closure, _fixed, _upward, closure, is_linearizable, minimal_witness
from harness.history import History, Op
from tests.checkers.test_linear_properties import MODELS, some_order_is_legal
from tests.checkers.test_linear_properties import small_history as any_model_history
from tests.checkers.test_witness import MS, small_history, stale_read

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def brute(entries: Sequence[Entry], model: Model, init: Any) -> bool:
    """Some order of ``entries`` that real time allows is legal (open ops may be left out)."""
    items = [(e.call, e.call_pos, math.inf if e.ret_pos is None else e.ret_pos) for e in entries]
    return some_order_is_legal(model, init, items)


@SETTINGS
@given(data=st.data(), model_name=st.sampled_from(MODELS), nil_read_unknown=st.booleans())
def test_the_small_search_agrees_with_brute_force_on_every_model_and_subset(data: Any, model_name: str,
                                                                          nil_read_unknown: bool) -> None:
    h = data.draw(any_model_history(model_name))
    model = make_model(model_name, nil_read_unknown=nil_read_unknown)
    for part in partition(h, model):
        entries = list(part.entries)
        init = model.init(part.key)
        keep = data.draw(st.lists(st.booleans(), min_size=len(entries), max_size=len(entries)))
        for sub in (entries, [e for e, k in zip(entries, keep) if k]):
            got = linearizable(sub, model, init, limit=10**6)
            assert got == brute(sub, model, init), [e.op for e in sub]


def test_the_small_search_gives_up_rather_than_guess() -> None:
    model = make_model("register")
    (part,) = partition(stale_read(), model)
    assert not brute(part.entries, model, None)
    assert linearizable(part.entries, model, None) is False
    assert linearizable(part.entries, model, None, max_ops=3) is None  # too big: the general search's
    assert linearizable(part.entries, model, None, limit=0) is None  # out of configurations: not "valid"


@SETTINGS
@given(st.sampled_from(["register", "cas-register", "mutex", "counter"]).flatmap(
    lambda model: st.tuples(st.just(model), small_history(model))))
def test_every_witness_is_not_linearizable_and_each_removal_is_by_brute_force(case: tuple[str, Any]) -> None:
    model_name, h = case
    model = make_model(model_name)
    out = check_partitions(partition(h, model), model)
    if out.verdict != "invalid":
        return
    part, res = out.invalid  # type: ignore[misc]
    init = model.init(part.key)
    assert not brute(part.entries, model, init)
    w = minimal_witness(part.entries, model, init, stuck=res.stuck, budget_s=30)
    assert w is not None and w.minimal
    witness = list(w.entries)
    assert not brute(witness, model, init), "the witness is linearizable"
    fixed = _fixed(witness)
    for e in witness if fixed else [e for e in witness if e.call.read_only]:
        gone = {id(x) for x in closure([e], witness, fixed=fixed)}
        rest = [x for x in witness if id(x) not in gone]
        assert brute(rest, model, init), f"the witness is not minimal: still invalid without {e.op}"


@SETTINGS
@given(st.sampled_from(["register", "cas-register", "mutex"]).flatmap(
    lambda model: st.tuples(st.just(model), small_history(model), st.randoms(use_true_random=False))))
def test_closed_removals_from_a_linearizable_closed_set_stay_linearizable(case: tuple[str, Any, Any]) -> None:
    model_name, h, rnd = case
    model = make_model(model_name)
    for part in partition(h, model):
        entries = list(part.entries)
        if not _fixed(entries):
            continue
        init = model.init(part.key)
        # a closed set, as the reduction starts from: some ops and their possible makers
        chosen = _upward([e for e in entries if rnd.random() < 0.5], entries, _by_value(entries))
        if not brute(chosen, model, init):
            continue
        for _ in range(3):
            gone = {id(x) for x in closure([e for e in chosen if rnd.random() < 0.3], chosen)}
            rest = [e for e in chosen if id(e) not in gone]
            assert brute(rest, model, init), [e.op for e in rest]
            chosen = rest


@SETTINGS
@given(st.sampled_from(["register", "cas-register", "mutex"]).flatmap(
    lambda model: st.tuples(st.just(model), small_history(model), st.randoms(use_true_random=False))))
def test_the_bit_set_closure_is_the_closure(case: tuple[str, Any, Any]) -> None:
    model_name, h, rnd = case
    model = make_model(model_name)
    for part in partition(h, model):
        entries = list(part.entries)
        close = _Closure(entries)
        alive = (1 << len(entries)) - 1
        for _ in range(4):
            drop = [i for i in range(len(entries)) if alive >> i & 1 and rnd.random() < 0.3]
            keep = [e for i, e in enumerate(entries) if alive >> i & 1]
            want = {id(x) for x in closure([entries[i] for i in drop], keep)}
            gone = close(sum(1 << i for i in drop), alive)
            assert {id(entries[i]) for i in range(len(entries)) if gone >> i & 1} == want
            alive &= ~gone


def open_acquires_mutex(n: int) -> History:
    """Three acquires that never return, ``n`` acquire/release pairs in turn, then two acquires in a row."""
    events: list[Op] = []

    def add(p: int, ty: str, f: str) -> None:
        events.append(Op(index=len(events), time=len(events) * MS, process=p, type=ty, f=f))  # type: ignore[arg-type]

    for p in (100, 101, 102):
        add(p, "invoke", "acquire")
    for i in range(n):
        for ty, f in (("invoke", "acquire"), ("ok", "acquire"), ("invoke", "release"), ("ok", "release")):
            add(i % 5, ty, f)
    for p in (7, 8):
        add(p, "invoke", "acquire")
        add(p, "ok", "acquire")
    return History.of(events)


def test_a_shrink_cut_short_by_its_budget_is_sound_and_says_it_is_not_minimal() -> None:
    # open acquires chain every op to every other: most removals need no search, so the budget must be
    # asked before each removal, not only before each search
    model = make_model("mutex")
    (part,) = partition(open_acquires_mutex(150), model)
    out = check_partitions([part], model)
    assert out.verdict == "invalid" and out.invalid is not None
    reads = itertools.count()
    w = minimal_witness(part.entries, model, model.init(None), stuck=out.invalid[1].stuck, budget_s=1.0,
                        clock=lambda: next(reads) * 0.05)  # every read of the clock: 50 ms later
    assert w is not None and not w.minimal and w.note and "budget ran out" in w.note
    assert next(reads) < 40  # it stopped when the 20 reads were spent, not after the shrink
    assert is_linearizable(w.entries, model, None) is False  # cut short, still a witness
    whole = minimal_witness(part.entries, model, model.init(None), stuck=out.invalid[1].stuck, budget_s=60)
    assert whole is not None and whole.minimal and is_linearizable(whole.entries, model, None) is False


@SETTINGS
@given(data=st.data(), model_name=st.sampled_from(MODELS), nil_read_unknown=st.booleans())
def test_every_model_gets_a_sound_one_minimal_witness_by_brute_force(data: Any, model_name: str,
                                                                    nil_read_unknown: bool) -> None:
    # the other models (kv, sets, queues, multi-registers...) remove reads only; nil reads are free
    model = make_model(model_name, nil_read_unknown=nil_read_unknown)
    out = check_partitions(partition(data.draw(any_model_history(model_name)), model), model)
    if out.verdict != "invalid":
        return
    part, res = out.invalid  # type: ignore[misc]
    init = model.init(part.key)
    w = minimal_witness(part.entries, model, init, stuck=res.stuck, budget_s=30)
    assert w is not None and w.minimal
    witness = list(w.entries)
    assert not brute(witness, model, init)
    fixed = _fixed(witness)
    for e in witness if fixed else [e for e in witness if e.call.read_only]:
        gone = {id(x) for x in closure([e], witness, fixed=fixed)}
        assert brute([x for x in witness if id(x) not in gone], model, init), f"not minimal without {e.op}"
