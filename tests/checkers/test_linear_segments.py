"""The search split at quiescent points decides as the unsplit search, and its budgets hold.

Random histories with pauses (so that keys have quiescent points, with
``info`` ops open across them) are checked five ways: the search as used
(lazy driver, exact driver when it cannot decide), the exact driver alone,
the lazy driver forced to drop every segment behind it, the lazy driver
without its lean first-end search (:mod:`checkers.linear.lean`), and the
unsplit search (the whole key as one segment, which is Wing-Gong-Lowe over
the whole key). Every verdict must agree, and with the brute-force oracle
of ``test_linear_properties`` on the small ones. The lean search is also
held to the general segment search segment by segment.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.api import Verdict
from checkers.linear import search as S
from checkers.linear.lean import NO_END, first_end
from checkers.linear.models import Illegal, make_model
from checkers.linear.partition import partition
from checkers.linearizability import Linearizability
from harness.cli import main
from harness.formats import write_history
from harness.history import History, Op
from tests.checkers.test_linear_properties import MODELS, oracle, random_call


@st.composite
def paused_history(draw: Any, model: str, max_ops: int = 14) -> History:
    """Ops invoked and completed in random order, with now and then a pause: every open ok op completes."""
    n = draw(st.integers(1, max_ops))
    events: list[tuple[Any, str, str, Any]] = []
    open_: dict[int, tuple[str, Any, Any, str]] = {}
    started = 0
    while started < n or any(fate == "ok" for *_, fate in open_.values()):
        if started < n and draw(st.integers(0, 4)) == 0:  # a pause: finish every op that will be ok
            for p in sorted(open_):
                f, inv, out, fate = open_[p]
                if fate == "ok":
                    events.append((p, "ok", f, out))
                    del open_[p]
        if started < n and (not open_ or draw(st.booleans())):
            f, inv, out = random_call(draw, model)
            fate = draw(st.sampled_from(["ok", "ok", "ok", "ok", "fail", "info", "open"]))
            open_[started] = (f, inv, out, fate)
            events.append((started, "invoke", f, inv))
            started += 1
            continue
        if not open_:
            continue
        p = draw(st.sampled_from(sorted(open_)))
        f, inv, out, fate = open_.pop(p)
        if fate == "ok":
            events.append((p, "ok", f, out))
        elif fate != "open":
            events.append((p, fate, f, inv))
    return History.of([Op(index=i, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
                       for i, (p, t, f, v) in enumerate(events)])


def _drive(run: Any) -> Any:
    try:
        while True:
            next(run)
    except StopIteration as stop:
        return stop.value


def _cols(entries: Any) -> S._Cols:
    return S._Cols([e.call for e in entries], [e.call_pos for e in entries], [e.ret_pos for e in entries])


WAYS = ("as used", "exact", "lazy, depth 1", "lazy, general only", "unsplit")


def five_ways(h: History, model_name: str, **opts: Any) -> list[str]:
    """Per way, the conjunction over keys: 'valid' or 'invalid'."""
    model = make_model(model_name, **opts)
    out = []
    for way in WAYS:
        verdict = "valid"
        for part in partition(h, model):
            init = model.init(part.key)
            cols = _cols(part.entries)
            segs = S._segments(cols.cp, cols.rp)
            if way == "as used":
                res = S.search(part.entries, model, init)
            elif way == "exact":
                res = _drive(S._exact(cols, model, init, segs, [0, 1 << 60, 1 << 60], 1 << 60))
            elif way == "lazy, general only":
                S.LEAN = False
                try:
                    res = _drive(S._lazy(cols, model, init, segs, [0, 1 << 60, 1 << 60], 1 << 60))
                finally:
                    S.LEAN = True
                if res is None:
                    res = _drive(S._exact(cols, model, init, segs, [0, 1 << 60, 1 << 60], 1 << 60))
            elif way == "lazy, depth 1":
                depth, S.LAZY_DEPTH = S.LAZY_DEPTH, 1
                try:
                    res = _drive(S._lazy(cols, model, init, segs, [0, 1 << 60, 1 << 60], 1 << 60))
                finally:
                    S.LAZY_DEPTH = depth
                if res is None:  # the lazy driver could not decide: the exact one must say invalid
                    res = _drive(S._exact(cols, model, init, segs, [0, 1 << 60, 1 << 60], 1 << 60))
            else:
                oks = sorted((i for i, r in enumerate(cols.rp) if r is not None), key=cols.rp.__getitem__)
                infos = [i for i, r in enumerate(cols.rp) if r is None]
                whole = [(oks, infos)] if oks else []
                res = _drive(S._exact(cols, model, init, whole, [0, 1 << 60, 1 << 60], 1 << 60))
            assert res.outcome in ("valid", "invalid")
            if res.outcome == "invalid":
                verdict = "invalid"
                _assert_legal_prefix(part.entries, model, init, res)
        out.append(verdict)
    return out


def _assert_legal_prefix(entries: Any, model: Any, init: Any, res: S.SearchResult) -> None:
    """The reported prefix replays legally, respects real time and does not hold the stuck op."""
    s = init
    seen = set()
    for i, state in res.prefix:
        s = model.step(s, entries[i].call)
        assert not isinstance(s, Illegal) and s == state
        seen.add(i)
    assert res.stuck is not None and res.stuck not in seen and entries[res.stuck].ret_pos is not None
    order = [i for i, _ in res.prefix]
    for a, i in enumerate(order):
        for j in order[a + 1:]:  # j linearized after i: j must not have returned before i was invoked
            rj = entries[j].ret_pos
            assert rj is None or rj > entries[i].call_pos


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(MODELS), nil_read_unknown=st.booleans())
def test_split_search_agrees_with_unsplit_and_brute_force(data: Any, model: str, nil_read_unknown: bool) -> None:
    h = data.draw(paused_history(model, max_ops=9))
    init = data.draw(st.sampled_from([None, 0])) if model in ("register", "cas-register") else None
    ways = five_ways(h, model, init=init, nil_read_unknown=nil_read_unknown)
    expected = "valid" if oracle(h, model, init=init, nil_read_unknown=nil_read_unknown) else "invalid"
    assert ways == [expected] * len(WAYS), (ways, h.ops)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(["register", "cas-register", "kv", "set", "fifo-queue", "mutex"]))
def test_split_search_agrees_with_unsplit_on_longer_histories(data: Any, model: str) -> None:
    # 20 ops: the unsplit way is exponential in the concurrency, and at 40 ops one drawn
    # history could take minutes (712 s for 150 examples seen under load).
    h = data.draw(paused_history(model, max_ops=20))
    ways = five_ways(h, model)
    assert len(set(ways)) == 1, (ways, h.ops)


def _ends(run: Any) -> list[Any]:
    out = []
    try:
        while True:
            v = next(run)
            if v is not None:
                out.append(v)
    except StopIteration:
        return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(MODELS), nil_read_unknown=st.booleans())
def test_lean_first_end_is_an_end_of_the_general_segment_search(data: Any, model: str,
                                                                nil_read_unknown: bool) -> None:
    """From every configuration the exact driver reaches: no end iff the general search has none, else
    an end in a state the general search ends in, with no more info ops open than there (it may take
    info ops the general one's dominance cut leaves open)."""
    h = data.draw(paused_history(model, max_ops=10))
    m = make_model(model, nil_read_unknown=nil_read_unknown)
    checked = 0
    for part in partition(h, m):
        cols = _cols(part.entries)
        segs = S._segments(cols.cp, cols.rp)
        frontier = [S._Config(m.init(part.key), (), None)]
        for si in range(len(segs)):
            oks, new = segs[si]
            ahead = None if si + 1 == len(segs) else S._ahead(cols, segs[si + 1])
            reached: dict[Any, Any] = {}
            for cfg in frontier:
                ends = _ends(S._segment(cols, m, oks, new, [cfg], [0, 1 << 60, 1 << 60], 1 << 60, ahead,
                                        [0, 0], paths=False))
                got, open_, explored = first_end(cols.calls, cols.cp, cols.rp, segs.bounds[si],
                                                 segs.bounds[si + 1], oks, list(cfg.open), new, cfg.state,
                                                 m.step, m.grows, ahead, 1 << 30, 1 << 40)
                assert explored >= 1
                if not ends:
                    assert got is NO_END, (si, cfg, got, open_)
                else:
                    assert any(e.state == got and set(open_) <= set(e.open) for e in ends), (si, cfg, got, open_, ends)
                checked += 1
                for e in ends:
                    reached.setdefault((e.state, e.open), e._replace(path=None))
            frontier = list(reached.values())[:6]
            if not frontier:
                break
    assert checked >= 1 or not any(r is not None for p in partition(h, m) for r in p.rp)


def test_segments_are_separated_by_quiescent_points() -> None:
    from tests.checkers.test_linear_properties import history_of
    h = history_of([(0, "invoke", "write", 1), (1, "invoke", "read", None), (0, "ok", "write", 1),
                    (2, "invoke", "write", 2), (1, "ok", "read", 1), (2, "info", "write", 2),
                    (3, "invoke", "read", None), (3, "ok", "read", 2), (4, "invoke", "read", None),
                    (4, "ok", "read", 2)])
    model = make_model("register")
    (part,) = partition(h, model)
    segs = S.segments(part.entries)
    # the info write is invoked inside the first window; each read after it stands alone
    assert [[part.entries[i].op.f for i in oks] for oks, _ in segs] == [["write", "read"], ["read"], ["read"]]
    assert [len(new) for _, new in segs] == [1, 0, 0]
    assert Linearizability(model="register").check(h).verdict is Verdict.VALID


def _set_chain(n: int) -> list[Op]:
    """n set adds, each invoked before the one before it returns (no quiescent point), then a read.

    A read during the last two adds sees the last without the one before: so the adds in order of
    completion are no linearization (the lean search's first try), and the search must hold states.
    """
    ops = [Op(index=0, process=0, type="invoke", f="add", value=0)]
    for i in range(1, n):
        if i == n - 1:
            ops.append(Op(index=len(ops), process=7, type="invoke", f="read", value=None))
        ops.append(Op(index=len(ops), process=i % 2, type="invoke", f="add", value=i))
        ops.append(Op(index=len(ops), process=(i - 1) % 2, type="ok", f="add", value=i - 1))
    ops.append(Op(index=len(ops), process=(n - 1) % 2, type="ok", f="add", value=n - 1))
    ops.append(Op(index=len(ops), process=7, type="ok", f="read", value=[*range(n - 2), n - 1]))
    ops.append(Op(index=len(ops), process=5, type="invoke", f="read", value=None))
    ops.append(Op(index=len(ops), process=5, type="ok", f="read", value=list(range(n))))
    return ops


def test_memory_budget_counts_model_states() -> None:
    """A chain of set adds holds a state per step that grows with the step: the budget must see it."""
    h = History.of(_set_chain(3000))
    res = Linearizability(model="set", max_cache_mb=8).check(h)
    assert res.verdict is Verdict.UNKNOWN
    assert res.error is not None and "memory bound of 8 MiB reached" in res.error
    assert Linearizability(model="set").check(h).verdict is Verdict.VALID


def test_sequential_adds_are_checked_in_small_memory() -> None:
    """Sequential adds are one segment each: only the current state is held, so a small budget suffices."""
    ops: list[Op] = []
    for i in range(3000):
        ops += [Op(index=len(ops), process=0, type="invoke", f="add", value=i),
                Op(index=len(ops) + 1, process=0, type="ok", f="add", value=i)]
    ops += [Op(index=len(ops), process=0, type="invoke", f="read", value=None),
            Op(index=len(ops) + 1, process=0, type="ok", f="read", value=list(range(3000)))]
    assert Linearizability(model="set", max_cache_mb=8).check(History.of(ops)).verdict is Verdict.VALID


def test_cli_budgets(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_history(History.of(_set_chain(3000)), tmp_path / "chain.jsonl")
    assert main(["check", str(path), "--model", "set", "--timeout", "nan"]) == 3
    assert "finite number of seconds" in capsys.readouterr().err
    assert main(["check", str(path), "--model", "set", "--max-memory", "lots"]) == 3
    capsys.readouterr()
    # the process already holds more than 1 MiB: nothing is left for the check
    assert main(["check", str(path), "--model", "set", "--max-memory", "1MiB"]) == 3
    assert "already used up" in capsys.readouterr().err
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    code = main(["check", str(path), "--model", "set", "--max-memory", f"{peak + 40}MiB"])
    assert code == 2 and "memory bound of" in capsys.readouterr().out
