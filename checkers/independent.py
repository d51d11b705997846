"""Jepsen's ``independent/checker``: one checker per key of ``[key, value]`` operations.

A workload on several keys writes its ops as Jepsen's independent tuples:
the invocation's value is ``[key, v]`` and the completion's ``[key, v, ...]``
(anything after ``v`` is detail for explainers, e.g. the version a
read-modify-write read). :class:`Independent` splits the history into one
sub-history per key, in which every client op's value is the plain ``v``,
and runs a fresh checker (``make()``) on each. Op indices and times are kept,
so anomalies still name the events of the whole history. Nemesis events
(faults, clock offsets) go into every sub-history.

A completion whose value carries no key (a client's crash recorded without a
value) is filed under its invocation's key, found by process.

The verdict is the merge of the keys' verdicts; each child result is kept
under ``children["<key>"]``; each anomaly gets ``data["key"]`` and its summary
is prefixed with the key; ``stats`` sums every integer ``*_count`` figure over
the keys and lists the keys checked.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from checkers.api import Anomaly, Checker, CheckResult, Verdict, check_safe
from harness.history import History, Op

__all__ = ["Independent", "split"]


def _keyed(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) >= 2


def split(history: History) -> dict[Any, list[Op]]:
    """The events of each key, values unwrapped, in history order (nemesis events in all)."""
    by_key: dict[Any, list[Op]] = {}
    nemesis: list[Op] = []
    open_key: dict[Any, Any] = {}
    for op in history.ops:
        if op.is_nemesis:
            nemesis.append(op)
            for ops in by_key.values():
                ops.append(op)
            continue
        v = op.value
        if op.type == "invoke":
            if not _keyed(v):
                continue
            key = v[0]
            open_key[op.process] = key
        else:
            key = open_key.pop(op.process, None)
            if key is None:
                continue
        if key not in by_key:
            by_key[key] = list(nemesis)
        inner = v[1] if _keyed(v) and v[0] == key else None
        by_key[key].append(msgspec.structs.replace(op, value=inner))
    return by_key


class Independent:
    """Run ``make()`` on every key's sub-history (see the module docstring)."""

    def __init__(self, make: Callable[[], Checker], *, name: str = "independent") -> None:
        self.make = make
        self.name = name

    def check(self, history: History) -> CheckResult:
        children: dict[str, CheckResult] = {}
        anomalies: list[Anomaly] = []
        totals: dict[str, int] = {}
        for key, ops in sorted(split(history).items(), key=lambda kv: str(kv[0])):
            r = check_safe(self.make(), History.of(ops, source=history.source))
            children[str(key)] = r
            for a in r.anomalies:
                anomalies.append(Anomaly(kind=a.kind, summary=f"key {key!r}: {a.summary}", ops=a.ops,
                                         data={**dict(a.data), "key": key}))
            for name, x in r.stats.items():
                if name.endswith("_count") and isinstance(x, int) and not isinstance(x, bool):
                    totals[name] = totals.get(name, 0) + x
        if not children:
            return CheckResult(checker=self.name, verdict=Verdict.UNKNOWN,
                               error="no operation carried a [key, value] tuple")
        verdict = Verdict.all_of([r.verdict for r in children.values()])
        errors = [f"{k}: {r.error}" for k, r in children.items() if r.error]
        return CheckResult(checker=self.name, verdict=verdict, anomalies=tuple(anomalies),
                           stats={"keys": list(children), **totals}, children=children,
                           error="; ".join(errors) if verdict is Verdict.UNKNOWN and errors else None)
