"""The Linearizability facade: verdicts, explanations, budgets, stats, options."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from checkers.api import Checker, Verdict, check_safe
from checkers.linear.models import Call, Model, make_model
from checkers.linearizability import Linearizability
from harness.history import History, HistoryError, Op


def history_of(events: list[tuple[Any, str, str, Any]], **kw: Any) -> History:
    return History.of([Op(index=i, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
                       for i, (p, t, f, v) in enumerate(events)], **kw)


STALE_READ = [  # write 1 completes, then a read returns the old value 0
    (0, "invoke", "write", 1), (0, "ok", "write", 1),
    (1, "invoke", "write", 2),
    (2, "invoke", "read", None), (2, "ok", "read", 0),
    (1, "ok", "write", 2),
]


def test_is_a_checker() -> None:
    assert isinstance(Linearizability(model="register"), Checker)


def test_invalid_verdict_explains_itself() -> None:
    result = Linearizability(model="register", init=0).check(history_of(STALE_READ))
    assert result.verdict is Verdict.INVALID
    (a,) = result.anomalies
    assert a.kind == "nonlinearizable"
    d = a.data
    assert d["key"] is None
    assert (d["op"]["process"], d["op"]["f"], d["op"]["value"]) == (2, "read", 0)
    assert [(s["op"]["f"], s["op"]["value"], s["state"]) for s in d["prefix"]] == [("write", 1, "1")]
    assert d["prefix_length"] == 1 and d["state"] == "1"
    assert d["reason"] == "read 0 but the register holds 1"
    assert [o["invoke_index"] for o in d["concurrent"]] == [2]  # the write of 2
    assert a.ops[:2] == (3, 4) and {2, 3, 4} <= set(a.ops)  # the failing op first, then the witness
    assert a.data["search"].startswith("process 2 read 0 (index 3..4) cannot be linearized after the 1-op")


def test_valid_with_info_and_fail() -> None:
    h = history_of([
        (0, "invoke", "write", 1), (0, "info", "write", 1),      # may or may not have happened
        (1, "invoke", "write", 2), (1, "fail", "write", 2),      # never happened
        (2, "invoke", "read", None), (2, "ok", "read", 1),
        (3, "invoke", "read", None), (3, "ok", "read", 1),
        (4, "invoke", "cas", [1, 3]),                             # never completes
    ])
    result = Linearizability(model="cas-register").check(h)
    assert result.verdict is Verdict.VALID
    assert result.stats["ops"] == 4 and result.stats["keys"] == 1
    assert result.stats["dropped"] == 1  # the cas to 3: nobody reads 3
    with pytest.raises(AssertionError):  # sanity: reading 2 would need the failed write
        h2 = history_of([(1, "invoke", "write", 2), (1, "fail", "write", 2),
                         (2, "invoke", "read", None), (2, "ok", "read", 2)])
        assert Linearizability(model="cas-register").check(h2).verdict is Verdict.VALID


def test_info_write_may_take_effect_after_the_history_ends_or_never() -> None:
    h = history_of([(0, "invoke", "write", 1), (0, "info", "write", 1),
                    (1, "invoke", "read", None), (1, "ok", "read", None),
                    (2, "invoke", "read", None), (2, "ok", "read", 1),
                    (3, "invoke", "read", None), (3, "ok", "read", None)])
    assert Linearizability(model="register").check(h).verdict is Verdict.INVALID  # 1 cannot be unwritten
    assert Linearizability(model="register").check(History.of(h.ops[:6])).verdict is Verdict.VALID


def test_independent_registers_quorum_store_style() -> None:
    h = history_of([
        (0, "invoke", "write", ["a", 1]), (0, "ok", "write", ["a", 1]),
        (1, "invoke", "write", ["b", 2]), (1, "ok", "write", ["b", 2]),
        (2, "invoke", "read", ["a", None]), (2, "ok", "read", ["a", 1]),
        (3, "invoke", "read", ["b", None]), (3, "ok", "read", ["b", 1]),  # b never held 1
    ])
    result = Linearizability(model="register", independent=True).check(h)
    assert result.verdict is Verdict.INVALID
    assert result.stats["keys"] == 2
    assert result.anomalies[0].data["key"] == "b"
    assert result.anomalies[0].data["search"].startswith("key \"b\": process 3 read")
    ok = History.of(h.ops[:6])
    assert Linearizability(model="register", independent=True).check(ok).verdict is Verdict.VALID


def counter_blowup(n: int) -> History:
    """n concurrent adds, then a read no subset explains: the search must try every subset."""
    ev: list[tuple[Any, str, str, Any]] = [(p, "invoke", "add", 1) for p in range(n)]
    ev += [(p, "ok", "add", 1) for p in range(n)]
    ev += [(n, "invoke", "read", None), (n, "ok", "read", n + 5)]
    return history_of(ev)


def test_small_blowup_is_decided() -> None:
    r = Linearizability(model="counter").check(counter_blowup(8))
    assert r.verdict is Verdict.INVALID and r.stats["states_explored"] >= 2 ** 8


def test_timeout_gives_unknown() -> None:
    r = Linearizability(model="counter", timeout_s=0.05).check(counter_blowup(22))
    assert r.verdict is Verdict.UNKNOWN
    assert "time budget" in (r.error or "")


def test_memory_bound_gives_unknown() -> None:
    r = Linearizability(model="counter", max_cache=2000).check(counter_blowup(22))
    assert r.verdict is Verdict.UNKNOWN
    assert "cache bound of 2000" in (r.error or "")
    assert r.stats["cache_peak"] <= 2000 + 1024 * 22


def test_unusable_value_names_file_and_line() -> None:
    h = history_of([(0, "invoke", "cas", 5), (0, "ok", "cas", 5)], source="h.edn", lines=[10, 11])
    with pytest.raises(HistoryError) as e:
        Linearizability(model="cas-register").check(h)
    assert str(e.value).startswith("h.edn:10: op index 0 (cas): the cas-register model needs cas values")
    with pytest.raises(HistoryError):  # bad input is the caller's to report (exit 3), not a verdict
        check_safe(Linearizability(model="cas-register"), h)


def test_empty_and_nemesis_only_histories_are_valid() -> None:
    assert Linearizability(model="register").check(History.of([])).verdict is Verdict.VALID
    h = history_of([("nemesis", "info", "kill", None), ("nemesis", "info", "kill", ["n1"])])
    assert Linearizability(model="register").check(h).verdict is Verdict.VALID


def keyed_counter() -> Model:
    """The counter model with Jepsen independent values [key, v]: one counter per key."""
    base = make_model("counter")

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        c = base.call(f, inv[1], out[1] if ok else None, ok)
        return c._replace(key=inv[0])

    return dataclasses.replace(base, name="keyed-counter", call=call)


def test_first_invalid_key_ends_the_check_even_behind_a_hard_key() -> None:
    # key "hard" needs 2**22 configurations to refute; key "easy" one. Searched one after
    # the other the check would take a minute; searched in turns, it ends at once.
    n = 22
    ev: list[tuple[Any, str, str, Any]] = [(p, "invoke", "add", ["hard", 1]) for p in range(n)]
    ev += [(p, "ok", "add", ["hard", 1]) for p in range(n)]
    ev += [(n, "invoke", "read", ["hard", None]), (n, "ok", "read", ["hard", n + 5])]
    ev += [(n + 1, "invoke", "read", ["easy", None]), (n + 1, "ok", "read", ["easy", 3])]
    r = Linearizability(model=keyed_counter(), timeout_s=60).check(history_of(ev))
    assert r.verdict is Verdict.INVALID
    assert r.anomalies[0].data["key"] == "easy"
    assert r.stats["keys"] == 2 and r.stats["states_explored"] < 10_000


def test_unknown_engine_and_model_are_refused() -> None:
    with pytest.raises(ValueError, match="engine"):
        Linearizability(model="register", engine="porcupine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown model"):
        Linearizability(model="nope")
