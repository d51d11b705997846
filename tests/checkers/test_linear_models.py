"""Each model's sequential semantics, and the inputs it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from checkers.linear.models import ANY, NOTHING, UNKNOWN, Illegal, ModelInputError, make_model


def run(model_name: str, steps: list[tuple[str, Any, Any, bool]], **opts: Any) -> Any:
    """Apply calls in order; the final state or the first Illegal."""
    m = make_model(model_name, **opts)
    s = m.init(None)
    for f, inv, out, ok in steps:
        call = m.call(f, inv, out, ok)
        s2 = m.step(s, call)
        if isinstance(s2, Illegal):
            return s2
        if call.read_only:
            assert s2 == s
        s = s2
    return s


def test_cas_register() -> None:
    assert run("cas-register", [("write", 1, 1, True), ("cas", [1, 2], [1, 2], True), ("read", None, 2, True)]) == 2
    bad = run("cas-register", [("write", 1, 1, True), ("cas", [0, 2], [0, 2], True)])
    assert isinstance(bad, Illegal) and bad.reason == "cas expects 0 but the register holds 1"
    assert isinstance(run("cas-register", [("read", None, 0, True)]), Illegal)  # starts nil
    assert run("cas-register", [("read", None, 0, True)], init=0) == 0


def test_nil_read_unknown() -> None:
    m = make_model("register", init=3, nil_read_unknown=True)
    call = m.call("read", None, None, True)
    assert call.free and m.step(7, call) == 7
    strict = make_model("register", init=3)
    assert isinstance(strict.step(3, strict.call("read", None, None, True)), Illegal)
    assert strict.step(None, strict.call("read", None, None, True)) is None


def test_register_hints() -> None:
    m = make_model("cas-register")
    assert m.call("read", None, 4, True).needs == 4
    assert m.call("write", 4, 4, True).makes == 4 and m.call("write", 4, None, False).ret is UNKNOWN
    cas = m.call("cas", [1, 2], None, False)
    assert (cas.needs, cas.makes) == (1, 2)


def test_independent_register() -> None:
    m = make_model("register", independent=True)
    c = m.call("read", ["k", None], ["k", 5], True)
    assert (c.key, c.needs) == ("k", 5)
    with pytest.raises(ModelInputError, match="differs"):
        m.call("read", ["k", None], ["j", 5], True)
    with pytest.raises(ModelInputError, match="independent tuple"):
        m.call("write", 5, 5, True)


def test_kv() -> None:
    assert run("kv", [("append", ["a", "x"], ["a", "x"], True), ("append", ["a", "y"], ["a", "y"], True),
                      ("get", ["a", None], ["a", "xy"], True), ("put", ["a", "z"], ["a", "z"], True)]) == "z"
    assert isinstance(run("kv", [("get", ["a", None], ["a", "q"], True)]), Illegal)
    m = make_model("kv")
    assert m.call("append", ["a", "x"], ["a", "x"], True).makes is ANY
    assert m.grows is not None and m.grows("x", "xy") and not m.grows("y", "xy")


def test_multi_register() -> None:
    init = {"x": 0, "y": 0}
    ok = run("multi-register", [("txn", [["write", "x", 1]], [["write", "x", 1]], True),
                                ("txn", [["read", "x", None], ["read", "y", None]],
                                 [["read", "x", 1], ["read", "y", 0]], True)], init=init)
    assert dict(ok) == {"x": 1, "y": 0}
    bad = run("multi-register", [("txn", [["read", "y", None]], [["read", "y", 2]], True)], init=init)
    assert isinstance(bad, Illegal) and "2" in bad.reason
    assert run("multi-register", [("txn", [["read", "y", None]], [["read", "y", None]], True)],
               init=init, nil_read_unknown=True) == make_model("multi-register", init=init).init(None)


def test_mutex() -> None:
    assert run("mutex", [("acquire", None, None, True), ("release", None, None, True)]) is False
    assert isinstance(run("mutex", [("release", None, None, True)]), Illegal)
    assert isinstance(run("mutex", [("acquire", None, None, True)] * 2), Illegal)


def test_set_counter_queue() -> None:
    assert run("set", [("add", 1, 1, True), ("add", 2, 2, True), ("read", None, [2, 1], True)]) == {1, 2}
    assert isinstance(run("set", [("add", 1, 1, True), ("read", None, [], True)]), Illegal)
    assert run("counter", [("add", 2, 2, True), ("add", 3, None, False), ("read", None, 5, True)]) == 5
    assert isinstance(run("counter", [("read", None, 1, True)]), Illegal)
    q = [("enqueue", 1, 1, True), ("enqueue", 2, 2, True), ("dequeue", None, 1, True)]
    assert run("fifo-queue", q) == (2,)
    assert isinstance(run("fifo-queue", q[:2] + [("dequeue", None, 2, True)]), Illegal)
    assert run("fifo-queue", [("dequeue", None, None, True)]) == ()


@pytest.mark.parametrize("model, f, inv, words", [
    ("register", "cas", [1, 2], "no operation 'cas'"),
    ("cas-register", "cas", 3, "cas values"),
    ("kv", "get", "a", "[key value]"),
    ("kv", "put", ["a", 1], "string value"),
    ("multi-register", "txn", [["bump", "x", 1]], "micro-op"),
    ("counter", "add", "x", "integer"),
    ("mutex", "lock", None, "no operation"),
])
def test_unusable_values_raise(model: str, f: str, inv: Any, words: str) -> None:
    with pytest.raises(ModelInputError, match=words.replace("[", r"\[").replace("]", r"\]")):
        make_model(model).call(f, inv, inv, True)


def test_unknown_model_and_bad_independent() -> None:
    with pytest.raises(ValueError, match="unknown model 'queue'"):
        make_model("queue")
    with pytest.raises(ValueError, match="independent"):
        make_model("kv", independent=True)
    assert make_model("set").call("add", 1, None, True).needs is NOTHING
