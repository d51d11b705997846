"""Hand-built transactional histories for the Elle checker tests.

``log = TxnLog(); log.txn(0, [["append", "x", 1], ["r", "x", [1]]])`` records
an invocation (reads without values, as a client sends them) and its
completion; ``invoke``/``complete`` split them to make transactions overlap.
``log.history()`` pairs the events into a :class:`~harness.history.History`.
"""

from __future__ import annotations

from typing import Any, Sequence

from harness.history import History, Op

__all__ = ["TxnLog", "assert_pair", "concurrent", "mops_invoked"]


def mops_invoked(mops: list[list[Any]]) -> list[list[Any]]:
    """What the client sent: reads carry no value yet."""
    return [[f, k, None] if f == "r" else [f, k, v] for f, k, v in mops]


class TxnLog:
    """Append-only builder of a history of ``txn`` operations."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._open: dict[Any, list[list[Any]]] = {}

    def _add(self, p: Any, type_: str, value: Any, f: str = "txn") -> None:
        self.ops.append(Op(index=len(self.ops), time=len(self.ops) * 1_000_000, process=p,
                           type=type_, f=f, value=value))  # type: ignore[arg-type]

    def invoke(self, p: Any, mops: list[list[Any]]) -> "TxnLog":
        self._open[p] = mops
        self._add(p, "invoke", mops_invoked(mops))
        return self

    def complete(self, p: Any, status: str = "ok", mops: list[list[Any]] | None = None) -> "TxnLog":
        sent = self._open.pop(p)
        value = (mops if mops is not None else sent) if status == "ok" else mops_invoked(sent)
        self._add(p, status, value)
        return self

    def planned(self, p: Any) -> list[list[Any]]:
        """The micro-ops process ``p`` invoked and has not completed yet."""
        return self._open[p]

    def txn(self, p: Any, mops: list[list[Any]], status: str = "ok") -> "TxnLog":
        return self.invoke(p, mops).complete(p, status)

    def history(self) -> History:
        return History.of(self.ops)


def concurrent(*txns: list[list[Any]], fail: Sequence[int] = (), info: Sequence[int] = ()) -> History:
    """Transaction ``i`` on process ``i``, all invoked before any completes (no real-time order among them);
    those listed in ``fail``/``info`` complete so."""
    log = TxnLog()
    for p, mops in enumerate(txns):
        log.invoke(p, mops)
    for p, _ in enumerate(txns):
        log.complete(p, "fail" if p in fail else "info" if p in info else "ok")
    return log.history()


def assert_pair(checker: Any, kind: str, bad: list[list[list[Any]]], good: list[list[list[Any]]]) -> None:
    """``kind`` is found in the concurrent history of ``bad``; its near twin ``good`` is valid."""
    found = checker.check(concurrent(*bad)).stats["counts"]
    assert kind in found, found
    res = checker.check(concurrent(*good))
    assert res.verdict.value == "valid", res.stats["counts"]
