"""Jepsen's queue, total-queue and unique-ids test cases (jepsen/test/jepsen/checker_test.clj), reproduced."""

from __future__ import annotations

from typing import Any

from checkers.api import Verdict
from checkers.queue import Queue, TotalQueue, UniqueIds
from harness.history import History, Op


def history(events: list[tuple[int, str, str, Any]]) -> History:
    return History.of(Op(index=i, time=i * 1_000_000, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]
                      for i, (p, t, f, v) in enumerate(events))


def test_queue_cases() -> None:
    q = Queue()
    assert q.check(history([])).verdict is Verdict.VALID
    assert q.check(history([(1, "invoke", "enqueue", 1)])).verdict is Verdict.VALID      # possible enqueue
    assert q.check(history([(1, "ok", "enqueue", 1)])).verdict is Verdict.VALID          # definite, no dequeue
    assert q.check(history([(2, "invoke", "dequeue", None), (1, "invoke", "enqueue", 1),
                            (2, "ok", "dequeue", 1)])).verdict is Verdict.VALID          # concurrent
    bad = q.check(history([(1, "ok", "dequeue", 1)]))
    assert bad.verdict is Verdict.INVALID and bad.anomalies[0].kind == "unexpected"
    failed = q.check(history([(1, "invoke", "enqueue", 1), (1, "fail", "enqueue", 1),
                              (2, "invoke", "dequeue", None), (2, "ok", "dequeue", 1)]))
    assert failed.verdict is Verdict.INVALID


def test_total_queue_empty_and_sane() -> None:
    assert TotalQueue().check(history([])).verdict is Verdict.VALID
    r = TotalQueue().check(history([(1, "invoke", "enqueue", 1), (2, "invoke", "enqueue", 2), (2, "ok", "enqueue", 2),
                                    (3, "invoke", "dequeue", None), (3, "ok", "dequeue", 1),
                                    (3, "invoke", "dequeue", None), (3, "ok", "dequeue", 2)]))
    assert r.verdict is Verdict.VALID
    s = r.stats
    assert (s["lost"], s["unexpected"], s["duplicated"], s["recovered"]) == ([], [], [], [1])
    assert (s["attempt_count"], s["acknowledged_count"], s["ok_count"], s["recovered_count"]) == (2, 1, 2, 1)


def test_total_queue_pathological() -> None:
    r = TotalQueue().check(history([
        (1, "invoke", "enqueue", "hung"), (2, "invoke", "enqueue", "enqueued"), (2, "ok", "enqueue", "enqueued"),
        (3, "invoke", "enqueue", "dup"), (3, "ok", "enqueue", "dup"), (4, "invoke", "dequeue", None),
        (5, "invoke", "dequeue", None), (5, "ok", "dequeue", "wtf"), (6, "invoke", "dequeue", None),
        (6, "ok", "dequeue", "dup"), (7, "invoke", "dequeue", None), (7, "ok", "dequeue", "dup")]))
    assert r.verdict is Verdict.INVALID
    s = r.stats
    assert (s["lost"], s["unexpected"], s["recovered"], s["duplicated"]) == (["enqueued"], ["wtf"], [], ["dup"])
    assert (s["acknowledged_count"], s["attempt_count"], s["ok_count"]) == (2, 3, 1)
    assert {a.kind for a in r.anomalies} == {"lost", "unexpected", "duplicated"}


def test_total_queue_drain_takes_many() -> None:
    r = TotalQueue().check(history([(1, "invoke", "enqueue", 1), (1, "ok", "enqueue", 1),
                                    (2, "invoke", "drain", None), (2, "ok", "drain", [1])]))
    assert r.verdict is Verdict.VALID and r.stats["ok_count"] == 1


def test_unique_ids() -> None:
    r = UniqueIds().check(history([]))
    assert r.verdict is Verdict.VALID and r.stats["range"] == [None, None]
    r = UniqueIds().check(history([(0, "invoke", "generate", None), (0, "ok", "generate", 0),
                                   (1, "invoke", "generate", None), (1, "ok", "generate", 1),
                                   (2, "invoke", "generate", None), (2, "ok", "generate", 0),
                                   (3, "invoke", "generate", None), (3, "ok", "generate", 0),
                                   (4, "invoke", "generate", None), (4, "info", "generate", None)]))
    assert r.verdict is Verdict.INVALID
    assert (r.stats["attempted_count"], r.stats["acknowledged_count"], r.stats["duplicated"],
            r.stats["range"]) == (5, 4, {0: 3}, [0, 1])
