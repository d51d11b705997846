"""checkers.independent (one checker per key) and checkers.lost_updates (who overwrote each lost element).

The histories are what the quorum store's client records for a
read-modify-write add: ``[k, x, {"read": R, "version": W, "node": N}]``.
"""

from __future__ import annotations

from typing import Any

from checkers.api import Verdict
from checkers.counter import Counter
from checkers.independent import Independent, split
from checkers.lost_updates import LostUpdates, fmt_version
from checkers.sets import SetFull
from harness.history import History, Op


def history(events: list[tuple[Any, str, str, Any]]) -> History:
    return History.of(Op(index=i, time=i * 1_000_000, process=p, type=t, f=f, value=v, node=None)  # type: ignore[arg-type]
                      for i, (p, t, f, v) in enumerate(events))


def meta(read: int, version: int, node: str) -> dict[str, Any]:
    return {"read": [read, ""], "version": [version, ""], "node": node}


RACE = [  # n2's clock 40 ms ahead; both adds read the empty set; 2's write (version 11) replaces 1's (10)
    ("nemesis", "info", "clock-offset", {"offsets_ms": {"n2": 40}}),
    ("nemesis", "info", "clock-offset", {"offsets_ms": {"n2": 40}, "verified": True}),
    (0, "invoke", "add", ["s", 1]), (1, "invoke", "add", ["s", 2]),
    (0, "ok", "add", ["s", 1, meta(0, 10, "n1")]),
    (1, "ok", "add", ["s", 2, meta(0, 11, "n2")]),
    (2, "invoke", "read", ["s", None]), (2, "ok", "read", ["s", [2], {"version": [11, ""]}]),
    (3, "invoke", "add", ["t", 3]), (3, "ok", "add", ["t", 3, meta(0, 12, "n1")]),
    (2, "invoke", "read", ["t", None]), (2, "ok", "read", ["t", [3], {"version": [12, ""]}]),
]


def test_split_unwraps_values_per_key_and_copies_nemesis_events() -> None:
    parts = split(history(RACE))
    assert sorted(parts) == ["s", "t"]
    assert [o.value for o in parts["s"] if o.process == 0] == [1, 1]
    assert sum(o.f == "clock-offset" for o in parts["t"]) == 2  # the fault came before key t's first op
    assert [o.index for o in parts["t"] if not o.is_nemesis] == [8, 9, 10, 11]


def test_independent_checks_each_key_and_sums_counts() -> None:
    r = Independent(SetFull, name="set-full").check(history(RACE))
    assert r.verdict is Verdict.INVALID
    assert r.children["s"].verdict is Verdict.INVALID and r.children["t"].verdict is Verdict.VALID
    assert r.stats["lost_count"] == 1 and r.stats["keys"] == ["s", "t"]
    assert r.anomalies[0].data["key"] == "s" and r.anomalies[0].summary.startswith("key 's': ")
    c = Independent(Counter, name="counter").check(history([
        (0, "invoke", "add", ["c", 1]), (0, "ok", "add", ["c", 1, {}]),
        (1, "invoke", "read", ["c", None]), (1, "ok", "read", ["c", 0, {}])]))
    assert c.verdict is Verdict.INVALID                          # the acknowledged increment is missing


def test_the_lost_element_is_named_with_the_add_that_read_the_same_version_and_wrote_over_it() -> None:
    r = LostUpdates(Independent(SetFull, name="set-full")).check(history(RACE))
    assert r.verdict is Verdict.INVALID
    s = r.children["s"]
    assert s.stats["lost_acknowledged_count"] == 1 and s.stats["lost_by"] == {"1": {"by": 2, "index": 3, "clock_lead_ms": 40.0}}
    (a,) = s.anomalies
    ex = a.data["explanation"]
    assert ex["overwritten_by"]["element"] == 2 and ex["overwritten_by"]["version"] == [11, ""]
    assert ex["pair"] == {"same_read": True, "concurrent": True}
    assert ex["clock_offsets"] == {"add": [0, 0], "overwriter": [40, 40]}
    assert "read the same version none (the empty set)" in a.summary
    assert "wrote version 11 ms (wall clock) over it" in a.summary and "n2 +40 ms while the add of 2 ran" in a.summary
    assert "n2's wall-clock versions ran at least 40 ms ahead of n1's" in a.summary
    assert r.anomalies[0].data["explanation"] == ex              # the flat list says the same
    assert [w["element"] for w in s.stats["clock_won"]] == [1] and "40 ms ahead" in s.stats["clock_won"][0]["summary"]


def test_a_later_add_that_read_a_stale_version_is_named_too() -> None:
    h = history([
        (0, "invoke", "add", ["s", 1]), (0, "ok", "add", ["s", 1, meta(0, 10, "n1")]),
        (1, "invoke", "add", ["s", 2]), (1, "ok", "add", ["s", 2, meta(0, 20, "n4")]),   # a stale quorum
        (2, "invoke", "read", ["s", None]), (2, "ok", "read", ["s", [2], {"version": [20, ""]}])])
    a = LostUpdates(Independent(SetFull, name="set-full")).check(h).children["s"].anomalies[0]
    assert a.data["explanation"]["pair"] == {"same_read": True, "concurrent": False}
    assert "after the add of 1 was acknowledged: it read a stale quorum" in a.summary


def test_no_lineage_without_recorded_versions() -> None:
    h = history([
        (0, "invoke", "add", ["s", 1]), (0, "ok", "add", ["s", 1, {"version": {"n1": 1}}]),
        (2, "invoke", "read", ["s", None]), (2, "ok", "read", ["s", [], {"version": {"n2": 1}}])])
    a = LostUpdates(Independent(SetFull, name="set-full")).check(h).children["s"].anomalies[0]
    assert a.data["explanation"]["overwritten_by"] is None and "not ordered" in a.summary


def test_versions_for_people() -> None:
    assert fmt_version([3, "n2/1"]) == "(3, n2/1)"
    assert fmt_version([1764000000000, ""]) == "1764000000000 ms (wall clock)"
    assert fmt_version([0, ""]) == "none (the empty set)"
