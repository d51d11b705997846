"""Jepsen's counter checker: every read lies between what surely and what possibly was added.

Ops: ``add`` with a non-negative increment, ``read`` whose ``ok`` value is the
counter. Walking the history in order, the *lower* bound is the sum of the
adds that completed ``ok`` before the read was invoked, the *upper* bound the
sum of every add invoked (and not failed) before the read completed. A read
outside ``[lower, upper]`` is an error (``jepsen.checker/counter``). Failed
adds never happened and are left out entirely.

``stats["reads"]`` lists ``[lower, value, upper]`` per read, ``stats["errors"]``
the bad ones; each error is also an :class:`~checkers.api.Anomaly` naming the
read and the bounds.
"""

from __future__ import annotations

from typing import Any

from checkers.api import Anomaly, CheckResult, Verdict
from checkers.inputs import number
from harness.history import History

__all__ = ["Counter"]

LIMIT = 8


class Counter:
    """``jepsen.checker/counter`` (see the module docstring)."""

    def __init__(self, *, name: str = "counter"):
        self.name = name

    def check(self, history: History) -> CheckResult:
        failed = {id(o.invoke) for o in history.operations if o.status == "fail"}
        lower = upper = 0
        pending: dict[Any, int] = {}
        reads: list[list[Any]] = []
        errors: list[tuple[list[Any], Any]] = []
        for op in history.ops:
            if op.is_nemesis or op.type == "fail" or id(op) in failed:
                continue
            if op.f == "add":
                if op.type == "invoke":
                    upper += number(history, op, op.value, "the increment")
                elif op.type == "ok":
                    lower += number(history, op, op.value, "the increment")
            elif op.f == "read":
                if op.type == "invoke":
                    pending[op.process] = lower
                elif op.type == "ok" and op.process in pending:
                    r = [pending.pop(op.process), op.value, upper]
                    reads.append(r)
                    if not (isinstance(op.value, (int, float)) and r[0] <= op.value <= upper):
                        errors.append((r, op))
                else:
                    pending.pop(op.process, None)
        anomalies = tuple(
            Anomaly(kind="counter-out-of-bounds",
                    summary=f"the read completed at index {op.index} (process {op.process}) returned {r[1]!r}, "
                            f"but the counter was at least {r[0]} (adds acknowledged before it began) and at "
                            f"most {r[2]} (adds attempted before it ended)",
                    ops=(op.index,), data={"lower": r[0], "value": r[1], "upper": r[2]})
            for r, op in errors[:LIMIT])
        return CheckResult(checker=self.name, verdict=Verdict.INVALID if errors else Verdict.VALID,
                           anomalies=anomalies, stats={"reads": reads, "errors": [r for r, _ in errors]})
