"""Partitions as columns (issue 15): what the search reads must say what the entries say.

A partition holds its operations as columns (calls, positions, operations)
and builds :class:`~checkers.linear.partition.Entry` values only when asked;
positions are the events' indices when those increase, else positions in
``History.ops``; info ops no one could observe are dropped from every column
together; segments are kept as bounds.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.api import Verdict
from checkers.linear import search as S
from checkers.linear.models import make_model
from checkers.linear.partition import partition, positions
from checkers.linear.scheduler import check_partitions
from checkers.linearizability import Linearizability
from harness.history import History, Op


def history(events: list[tuple[Any, str, str, Any]], *, indices: list[int] | None = None) -> History:
    idx = indices if indices is not None else list(range(len(events)))
    return History.of([Op(index=i, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
                       for i, (p, t, f, v) in zip(idx, events)])


STALE = [(0, "invoke", "write", 1), (0, "ok", "write", 1), (1, "invoke", "write", 2), (1, "ok", "write", 2),
         (2, "invoke", "read", None), (2, "ok", "read", 1)]


def test_entries_are_the_columns_and_built_once() -> None:
    h = history([(0, "invoke", "write", 1), (1, "invoke", "read", None), (0, "ok", "write", 1),
                 (1, "ok", "read", 1), (2, "invoke", "write", 3)])
    (part,) = partition(h, make_model("register"))
    assert part.entries is part.entries  # the same Entry objects each time (witnesses compare by identity)
    assert [e.call for e in part.entries] == part.calls
    assert [(e.call_pos, e.ret_pos) for e in part.entries] == list(zip(part.cp, part.rp)) == [(0, 2), (1, 3)]
    assert [e.op for e in part.entries] == part.ops == list(h.operations[:2])
    assert part.dropped == 1  # the info write of 3: no read needs it


def test_positions_fall_back_to_the_event_order_when_indices_do_not_increase() -> None:
    ordered = history(STALE)
    shuffled = history(STALE, indices=[50, 10, 40, 20, 30, 0])
    assert positions(ordered)(ordered.ops[3]) == 3
    assert positions(shuffled)(shuffled.ops[3]) == 3  # its position, not its index 20
    (a,), (b,) = partition(ordered, make_model("register")), partition(shuffled, make_model("register"))
    assert (a.cp, a.rp) == (b.cp, b.rp) == ([0, 2, 4], [1, 3, 5])
    for h in (ordered, shuffled):
        assert Linearizability(model="register").check(h).verdict is Verdict.INVALID


def test_kv_drops_an_info_append_no_get_saw_from_every_column() -> None:
    h = history([(0, "invoke", "append", ["k", "x 0 1 y"]), (0, "ok", "append", ["k", "x 0 1 y"]),
                 (1, "invoke", "append", ["k", "x 1 2 y"]), (1, "info", "append", ["k", "x 1 2 y"]),
                 (2, "invoke", "append", ["k", "x 2 3 y"]), (2, "info", "append", ["k", "x 2 3 y"]),
                 (3, "invoke", "get", ["k", None]), (3, "ok", "get", ["k", "x 0 1 yx 2 3 y"])])
    (part,) = partition(h, make_model("kv"))
    assert [c.arg for c in part.calls] == ["x 0 1 y", "x 2 3 y", None]  # "x 1 2 y": never seen
    assert len(part.cp) == len(part.rp) == len(part.ops) == 3 and part.dropped == 1
    assert part.rp == [1, None, 7]
    assert Linearizability(model="kv").check(h).verdict is Verdict.VALID


def test_segments_are_bounds_and_materialise_as_lists() -> None:
    h = history([(0, "invoke", "write", 1), (0, "ok", "write", 1), (1, "invoke", "write", 2),
                 (2, "invoke", "read", None), (1, "ok", "write", 2), (2, "ok", "read", 2),
                 (3, "invoke", "write", 5)])
    (part,) = partition(h, make_model("register", init=0))
    segs = S._segments(part.cp, part.rp)
    assert list(segs.bounds) == [0, 1, 3]
    assert len(segs) == 2 and list(segs) == [([0], []), ([1, 2], [])]
    assert segs[-1] is segs[1]  # the last few are kept while the drivers ask again


def test_the_memory_bound_counts_the_operations_searched_and_keys_are_released() -> None:
    events: list[tuple[Any, str, str, Any]] = []
    for i in range(3000):
        events += [(0, "invoke", "put", ["k", f"v{i}"]), (0, "ok", "put", ["k", f"v{i}"])]
    h = history(events)
    res = Linearizability(model="kv", max_cache_mb=0.25).check(h)  # 3000 ops x 160 bytes > 0.25 MiB
    assert res.verdict is Verdict.UNKNOWN and "memory bound" in (res.error or "")
    assert Linearizability(model="kv").check(h).verdict is Verdict.VALID
    m = make_model("kv")
    parts = list(partition(h, m))
    assert check_partitions(parts, m).verdict == "valid" and parts == []  # the scheduler let them go


@settings(max_examples=200, deadline=None)
@given(results=st.lists(st.lists(st.sampled_from(["x", "1", "2", "y", "yx", "", "\0"]), max_size=6), max_size=8),
       args=st.lists(st.lists(st.sampled_from(["x", "1", "2", "y", "yx", ""]), min_size=1, max_size=5),
                     min_size=1, max_size=4))
def test_kv_unseen_decides_alike_by_text_search_and_by_splitting_into_words(results: list[list[str]],
                                                                             args: list[list[str]]) -> None:
    import checkers.linear.models as models
    calls = [models.Call("get", None, r, "k", True, False, r, models.ANY) for r in map(" ".join, results)]
    calls += [models.Call("append", a, models.UNKNOWN, "k") for a in map(" ".join, args)]
    by_text = list(map(make_model("kv").unseen(calls), calls))
    saved = models._SCAN_CHARS
    models._SCAN_CHARS = -1  # every pair past the bound: the results split into words
    try:
        by_words = list(map(make_model("kv").unseen(calls), calls))
    finally:
        models._SCAN_CHARS = saved
    assert by_text == by_words
    for c, gone in zip(calls, by_text):  # and never a string some result holds
        assert not (gone and any(c.arg in r for r in map(" ".join, results)))
