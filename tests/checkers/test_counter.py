"""Jepsen's counter test cases (jepsen/test/jepsen/checker_test.clj), reproduced."""

from __future__ import annotations

from typing import Any

from checkers.api import Verdict
from checkers.counter import Counter
from harness.history import History, Op


def history(events: list[tuple[int, str, str, Any]]) -> History:
    return History.of(Op(index=i, time=i * 1_000_000, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
                      for i, (p, t, f, v) in enumerate(events))


def check(events: list[tuple[int, str, str, Any]]) -> tuple[Verdict, list[Any], list[Any]]:
    r = Counter().check(history(events))
    return r.verdict, r.stats["reads"], r.stats["errors"]


def test_empty() -> None:
    assert check([]) == (Verdict.VALID, [], [])


def test_initial_read() -> None:
    assert check([(0, "invoke", "read", None), (0, "ok", "read", 0)]) == (Verdict.VALID, [[0, 0, 0]], [])


def test_failed_adds_are_ignored() -> None:
    assert check([(0, "invoke", "add", 1), (0, "fail", "add", 1), (0, "invoke", "read", None),
                  (0, "ok", "read", 0)]) == (Verdict.VALID, [[0, 0, 0]], [])


def test_incomplete_history() -> None:
    assert check([(0, "invoke", "add", 1), (1, "invoke", "read", None), (1, "ok", "read", 0),
                  (1, "invoke", "read", None), (1, "ok", "read", 1)]) == (Verdict.VALID, [[0, 0, 1], [0, 1, 1]], [])


def test_initial_invalid_read() -> None:
    v, reads, errors = check([(0, "invoke", "read", None), (0, "ok", "read", 1)])
    assert (v, reads, errors) == (Verdict.INVALID, [[0, 1, 0]], [[0, 1, 0]])


def test_interleaved_concurrent_reads_and_writes() -> None:
    evs: list[tuple[int, str, str, Any]] = []
    for p in range(9):
        evs.append((p, "invoke", "read", None) if p % 2 == 0 else (p, "invoke", "add", 2 ** (p // 2)))
    for p, v in zip(range(9), [6, 1, 0, 2, 3, 4, 100, 8, 15]):
        evs.append((p, "ok", "read" if p % 2 == 0 else "add", v))
    v, reads, errors = check(evs)
    assert v is Verdict.INVALID
    assert reads == [[0, 6, 15], [0, 0, 15], [0, 3, 15], [0, 100, 15], [0, 15, 15]]
    assert errors == [[0, 100, 15]]


def test_rolling_reads_and_writes() -> None:
    v, reads, errors = check([(0, "invoke", "read", None), (1, "invoke", "add", 1), (0, "ok", "read", 0),
                              (0, "invoke", "read", None), (1, "ok", "add", 1), (1, "invoke", "add", 2),
                              (0, "ok", "read", 3), (0, "invoke", "read", None), (1, "ok", "add", 2),
                              (0, "ok", "read", 5)])
    assert (v, reads, errors) == (Verdict.INVALID, [[0, 0, 1], [0, 3, 3], [1, 5, 3]], [[1, 5, 3]])
    r = Counter().check(history([(0, "invoke", "read", None), (0, "ok", "read", 1)]))
    assert "at most 0" in r.anomalies[0].summary
