"""Every catalog checker, fed values of the wrong shape, says where and what, never crashes.

A history from outside may hold anything in ``value``. Each checker must
either judge it or raise :class:`HistoryError` with the file and line of an
event; a ``TypeError`` from deep inside would reach the user as a traceback
(or as "checker crashed" behind ``check_safe``).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.api import check_safe
from checkers.catalog import CATALOG, Options
from harness.history import History, HistoryError, Op

_scalar = st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False, width=16), st.text(max_size=2),
                    st.booleans())
_value = st.recursive(_scalar, lambda v: st.one_of(st.lists(v, max_size=3),
                                                   st.dictionaries(st.text(max_size=1), v, max_size=2)),
                      max_leaves=6)
_mop = st.tuples(st.sampled_from(["append", "r", "w", "x"]), st.one_of(st.sampled_from(["x", "y"]), _value),
                 _value).map(list)
_fs = st.sampled_from(["add", "read", "transfer", "enqueue", "dequeue", "drain", "generate", "txn"])


@st.composite
def histories(draw: st.DrawFn) -> History:
    ops: list[Op] = []
    for p in range(draw(st.integers(1, 4))):
        f = draw(_fs)
        v = draw(st.lists(_mop, max_size=3) if f == "txn" and draw(st.booleans()) else _value)
        w = draw(st.lists(_mop, max_size=3) if f == "txn" and draw(st.booleans()) else _value)
        i = len(ops)
        ops.append(Op(type="invoke", f=f, value=v, process=p, index=i, time=i))
        ops.append(Op(type=draw(st.sampled_from(["ok", "fail", "info"])), f=f, value=w, process=p,
                      index=i + 1, time=i + 1))
    return History.of(ops, source="h.jsonl", lines=range(1, len(ops) + 1))


@settings(max_examples=60, deadline=None)
@given(h=histories(), model=st.sampled_from(sorted(CATALOG)))
def test_a_bad_value_is_an_input_error_with_its_line(h: History, model: str) -> None:
    checker = CATALOG[model].make(Options(timeout_s=1.0))
    try:
        r = check_safe(checker, h)
    except HistoryError as e:
        assert e.file is not None and e.line is not None, str(e)
        assert "h.jsonl:" in str(e)
        return
    assert not (r.error or "").startswith("checker crashed"), (model, r.error)


def test_the_line_named_is_the_bad_event() -> None:
    ops = [Op(type="invoke", f="add", value=1, process=0, index=0, time=0),
           Op(type="ok", f="add", value=1, process=0, index=1, time=1),
           Op(type="invoke", f="read", value=None, process=1, index=2, time=2),
           Op(type="ok", f="read", value=7, process=1, index=3, time=3)]
    h = History.of(ops, source="h.jsonl", lines=[10, 11, 12, 13])
    try:
        check_safe(CATALOG["jepsen-set"].make(Options()), h)
    except HistoryError as e:
        assert e.line == 13 and "not a collection" in str(e)
    else:
        raise AssertionError("a read of 7 is not a set, and the checker should say so")
