"""Properties of the linearizability checker, against independent references.

1. A random sequential execution, stretched into random overlapping intervals
   (each op's interval contains its instant in the sequence), is always valid,
   also with some ops turned indeterminate and failed ops sprinkled in.
2. On small random histories (up to 8 ops, with ``fail``, ``info`` and never
   completed ops) the checker agrees with a brute-force oracle that tries every
   order allowed by real time, with no cache, no pruning and no dropped ops.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.api import Verdict
from checkers.linear.models import Illegal, make_model
from checkers.linearizability import Linearizability
from harness.history import History, Op

MODELS = ["register", "cas-register", "kv", "multi-register", "mutex", "set", "counter", "fifo-queue"]


def history_of(events: list[tuple[Any, str, str, Any]]) -> History:
    return History.of([Op(index=i, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
                       for i, (p, t, f, v) in enumerate(events)])


# --- 1. stretched sequential executions -------------------------------------------


def sequential(draw: Any, model: str, n: int) -> list[tuple[str, Any, Any, bool]]:
    """(f, invoke value, ok value, happened) for n ops run one after another."""
    ops: list[tuple[str, Any, Any, bool]] = []
    reg: Any = None
    kv: dict[str, str] = {}
    regs: dict[str, Any] = {}
    held = False
    counter = 0
    elems: set[int] = set()
    queue: list[int] = []
    for _ in range(n):
        c = draw(st.integers(0, 2))
        v = draw(st.integers(0, 3))
        if model in ("register", "cas-register"):
            if c == 0:
                ops.append(("read", None, reg, True))
            elif c == 1 or model == "register":
                ops.append(("write", v, v, True))
                reg = v
            else:
                old = reg if draw(st.booleans()) else v
                ops.append(("cas", [old, v], [old, v], old == reg))
                if old == reg:
                    reg = v
        elif model == "kv":
            k = draw(st.sampled_from("ab"))
            if c == 0:
                ops.append(("get", [k, None], [k, kv.get(k, "")], True))
            elif c == 1:
                ops.append(("put", [k, str(v)], [k, str(v)], True))
                kv[k] = str(v)
            else:
                ops.append(("append", [k, str(v)], [k, str(v)], True))
                kv[k] = kv.get(k, "") + str(v)
        elif model == "multi-register":
            k = draw(st.sampled_from("xy"))
            if c == 0:
                ops.append(("txn", [["read", "x", None], ["read", "y", None]],
                            [["read", "x", regs.get("x")], ["read", "y", regs.get("y")]], True))
            else:
                ops.append(("txn", [["write", k, v], ["read", k, None]], [["write", k, v], ["read", k, v]], True))
                regs[k] = v
        elif model == "mutex":
            ops.append(("release" if held else "acquire", None, None, True))
            held = not held
        elif model == "counter":
            if c == 0:
                ops.append(("read", None, counter, True))
            else:
                ops.append(("add", v, v, True))
                counter += v
        elif model == "set":
            if c == 0:
                ops.append(("read", None, sorted(elems), True))
            else:
                ops.append(("add", v, v, True))
                elems.add(v)
        else:  # fifo-queue
            if c == 0:
                ops.append(("dequeue", None, queue.pop(0) if queue else None, True))
            else:
                ops.append(("enqueue", v, v, True))
                queue.append(v)
    return ops


@st.composite
def stretched(draw: Any, model: str) -> History:
    n = draw(st.integers(0, 30))
    seq = sequential(draw, model, n)
    timed: list[tuple[int, int, tuple[Any, str, str, Any]]] = []
    for i, (f, inv, out, happened) in enumerate(seq):
        point = 10 * i + 5
        start = point - draw(st.integers(0, 40))
        end = point + draw(st.integers(0, 40))
        fate = draw(st.sampled_from(["ok"] * 6 + ["info", "open"])) if happened else "fail"
        timed.append((start, 0, (i, "invoke", f, inv)))
        if fate == "ok":
            timed.append((end, 1, (i, "ok", f, out)))
        elif fate in ("info", "fail"):
            timed.append((end, 1, (i, fate, f, inv)))
    timed.sort(key=lambda t: (t[0], draw(st.integers(0, 1))))
    return history_of([e for _, _, e in timed])


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(MODELS))
def test_stretched_sequential_histories_are_valid(data: Any, model: str) -> None:
    h = data.draw(stretched(model))
    result = Linearizability(model=model).check(h)
    assert result.verdict is Verdict.VALID, result.anomalies


# --- 2. brute force on small random histories -------------------------------------


def random_call(draw: Any, model: str) -> tuple[str, Any, Any]:
    """(f, invoke value, the value an ok completion would carry)."""
    v = draw(st.integers(0, 2))
    c = draw(st.integers(0, 2))
    r = draw(st.sampled_from([None, 0, 1, 2]))
    if model in ("register", "cas-register"):
        if c == 0:
            return "read", None, r
        if c == 1 or model == "register":
            return "write", v, v
        return "cas", [r, v], [r, v]
    if model == "kv":
        k = draw(st.sampled_from("ab"))
        s = draw(st.sampled_from(["", "0", "1", "01", "10"]))
        return [("get", [k, None], [k, s]), ("put", [k, str(v)], [k, str(v)]),
                ("append", [k, str(v)], [k, str(v)])][c]
    if model == "multi-register":
        k = draw(st.sampled_from("xy"))
        if c == 0:
            return "txn", [["read", k, None]], [["read", k, r]]
        return "txn", [["write", k, v]], [["write", k, v]]
    if model == "mutex":
        f = "acquire" if c else "release"
        return f, None, None
    if model == "counter":
        return ("read", None, v) if c == 0 else ("add", v, v)
    if model == "set":
        return ("read", None, sorted({v, r or 0})) if c == 0 else ("add", v, v)
    return ("dequeue", None, r) if c == 0 else ("enqueue", v, v)


@st.composite
def small_history(draw: Any, model: str) -> History:
    n = draw(st.integers(1, 8))
    events: list[tuple[Any, str, str, Any]] = []
    open_: dict[int, tuple[str, Any, Any]] = {}
    started = 0
    while started < n or open_:
        if started < n and (not open_ or draw(st.booleans())):
            f, inv, out = random_call(draw, model)
            open_[started] = (f, inv, out)
            events.append((started, "invoke", f, inv))
            started += 1
            continue
        p = draw(st.sampled_from(sorted(open_)))
        f, inv, out = open_.pop(p)
        fate = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info", "open"]))
        if fate == "ok":
            events.append((p, "ok", f, out))
        elif fate != "open":
            events.append((p, fate, f, inv))
    return history_of(events)


def oracle(history: History, model_name: str, **opts: Any) -> bool:
    """Try every order real time allows; info/open ops may also never happen."""
    model = make_model(model_name, **opts)
    pos = {id(o): i for i, o in enumerate(history.ops)}
    by_key: dict[Any, list[tuple[Any, int, float]]] = {}
    for o in history.operations:
        if o.status == "fail":
            continue
        ok = o.status == "ok"
        call = model.call(o.f, o.invoke.value, o.completion.value if ok else None, ok)  # type: ignore[union-attr]
        ret = pos[id(o.completion)] if ok else math.inf
        by_key.setdefault(call.key, []).append((call, pos[id(o.invoke)], ret))

    return all(some_order_is_legal(model, model.init(k), entries) for k, entries in by_key.items())


def some_order_is_legal(model: Any, state: Any, remaining: list[tuple[Any, int, float]]) -> bool:
    """The brute force: (call, invocation position, completion position or inf) in every order real
    time allows, each op that never completed also left out; True when one is legal from ``state``."""
    oks = [r for _, _, r in remaining if r != math.inf]
    if not oks:
        return True
    first_return = min(oks)
    for i, (call, c, _) in enumerate(remaining):
        if c < first_return:
            s2 = model.step(state, call)
            if not isinstance(s2, Illegal) and some_order_is_legal(model, s2, remaining[:i] + remaining[i + 1:]):
                return True
    return False


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(MODELS), nil_read_unknown=st.booleans())
def test_small_histories_agree_with_brute_force(data: Any, model: str, nil_read_unknown: bool) -> None:
    h = data.draw(small_history(model))
    init = data.draw(st.sampled_from([None, 0])) if model in ("register", "cas-register") else None
    expected = oracle(h, model, init=init, nil_read_unknown=nil_read_unknown)
    result = Linearizability(model=model, init=init, nil_read_unknown=nil_read_unknown).check(h)
    assert result.verdict is (Verdict.VALID if expected else Verdict.INVALID), (h.ops, result.anomalies)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_independent_registers_agree_with_brute_force_per_key(data: Any) -> None:
    h = data.draw(small_history("cas-register"))
    keyed = History.of([Op(index=o.index, process=o.process, type=o.type, f=o.f,
                           value=[o.process % 2, o.value]) for o in h.ops])
    per_key = [History.of([o for o in h.ops if o.process % 2 == k]) for k in (0, 1)]
    expected = all(oracle(x, "cas-register", init=0) for x in per_key)
    result = Linearizability(model="cas-register", init=0, independent=True).check(keyed)
    assert result.verdict is (Verdict.VALID if expected else Verdict.INVALID)
