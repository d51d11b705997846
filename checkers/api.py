"""What every checker is and returns.

A checker is a pure function of a history: :class:`Checker` has one method,
``check``. It returns a :class:`CheckResult` whose :class:`Verdict` has three
values merged in a fixed order (``INVALID`` beats ``UNKNOWN`` beats ``VALID``,
Jepsen's ``valid-priorities``). Anomalies are data first (:class:`Anomaly`):
the CLI and the HTML report are two renderers of the same records.

:func:`check_safe` turns a crashing checker into an ``UNKNOWN`` result that
carries the error, never a traceback, but lets a
:class:`~harness.history.HistoryError` through: a history whose values do not
fit the checker is the user's input error (file, line, what is wrong; exit 3),
not a verdict; :class:`Compose` runs several checkers
under names and merges their verdicts.
"""

from __future__ import annotations

import enum
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

from harness.history import History, HistoryError

__all__ = ["Anomaly", "CheckResult", "Checker", "Compose", "Verdict", "check_safe", "first_of_each_kind"]


class Verdict(enum.Enum):
    """valid / invalid / unknown; ``merge`` keeps the worst by a fixed priority."""

    VALID = "valid"
    UNKNOWN = "unknown"
    INVALID = "invalid"

    @property
    def priority(self) -> int:
        return {"valid": 0, "unknown": 1, "invalid": 2}[self.value]

    def merge(self, other: "Verdict") -> "Verdict":
        return self if self.priority >= other.priority else other

    @classmethod
    def all_of(cls, verdicts: "list[Verdict] | tuple[Verdict, ...]") -> "Verdict":
        out = cls.VALID
        for v in verdicts:
            out = out.merge(v)
        return out

    def to_json(self) -> bool | str:
        """Jepsen's encoding: ``true``, ``false`` or ``"unknown"``."""
        return {"valid": True, "invalid": False, "unknown": "unknown"}[self.value]

    @classmethod
    def from_json(cls, v: Any) -> "Verdict":
        if v is True:
            return cls.VALID
        if v is False:
            return cls.INVALID
        return cls.UNKNOWN

    @property
    def exit_code(self) -> int:
        """CLI convention: 0 valid, 1 invalid, 2 unknown."""
        return {"valid": 0, "invalid": 1, "unknown": 2}[self.value]


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """One thing a checker found wrong, as data.

    ``kind``     a short stable name, e.g. ``"nonlinearizable"``, ``"lost-update"``.
    ``summary``  one sentence for people, naming the operations involved.
    ``ops``      indices (``Op.index``) of the events involved, for cross-reference.
    ``data``     checker-specific detail (plain JSON-able data) that a renderer
                 may show: for linearizability the key, the failing op, the longest
                 linearizable prefix with model states, the concurrent ops.
    """

    kind: str
    summary: str
    ops: tuple[int, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "summary": self.summary, "ops": list(self.ops), "data": dict(self.data)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Anomaly":
        return cls(kind=d["kind"], summary=d["summary"], ops=tuple(d.get("ops", ())), data=d.get("data", {}))


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """A checker's verdict with its anomalies and figures.

    ``checker``  the name the result is filed under (``Compose`` sets it).
    ``stats``    plain figures (ops checked, states explored, elapsed seconds).
    ``error``    why the verdict is ``UNKNOWN`` (budget spent, checker crashed).
    ``children`` results of composed checkers, by name.
    """

    checker: str
    verdict: Verdict
    anomalies: tuple[Anomaly, ...] = ()
    stats: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    children: Mapping[str, "CheckResult"] = field(default_factory=dict)

    @property
    def valid(self) -> Verdict:
        return self.verdict

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "checker": self.checker,
            "valid": self.verdict.to_json(),
            "anomalies": [a.to_json() for a in self.anomalies],
            "stats": dict(self.stats),
        }
        if self.error is not None:
            d["error"] = self.error
        if self.children:
            d["children"] = {k: v.to_json() for k, v in self.children.items()}
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "CheckResult":
        return cls(
            checker=d["checker"],
            verdict=Verdict.from_json(d["valid"]),
            anomalies=tuple(Anomaly.from_json(a) for a in d.get("anomalies", ())),
            stats=d.get("stats", {}),
            error=d.get("error"),
            children={k: cls.from_json(v) for k, v in d.get("children", {}).items()},
        )


@runtime_checkable
class Checker(Protocol):
    """Decides whether a history is legal.

    ``check`` must be pure: no I/O, no clock reads other than to respect its
    own time budget, no mutation of ``history``. It may raise; callers wrap it
    in :func:`check_safe`.
    """

    name: str

    def check(self, history: History) -> CheckResult: ...


def first_of_each_kind(anomalies: Iterable[Anomaly], limit: int) -> tuple[tuple[Anomaly, ...], dict[str, int]]:
    """The first ``limit`` anomalies of each kind, in order, and how many of each kind there were.

    A run can break one invariant hundreds of times; the result keeps a few of
    each to explain and the counts to say how many.
    """
    counts: dict[str, int] = {}
    kept: list[Anomaly] = []
    for a in anomalies:
        counts[a.kind] = counts.get(a.kind, 0) + 1
        if counts[a.kind] <= limit:
            kept.append(a)
    return tuple(kept), counts


def check_safe(checker: Checker, history: History) -> CheckResult:
    """Run ``checker``; a crash becomes an ``UNKNOWN`` result naming the error.

    :class:`HistoryError` (bad input, raised with the file and line of the
    event) propagates: the caller reports it as an input error.
    """
    t0 = time.monotonic()
    try:
        return checker.check(history)
    except HistoryError:
        raise
    except Exception as e:  # noqa: BLE001 - a checker's crash is a verdict, not a traceback
        tb = traceback.extract_tb(e.__traceback__)
        where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        return CheckResult(
            checker=getattr(checker, "name", type(checker).__name__),
            verdict=Verdict.UNKNOWN,
            error=f"checker crashed: {type(e).__name__}: {e}{where}",
            stats={"elapsed_s": round(time.monotonic() - t0, 6)},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Compose:
    """Several checkers under names; the verdict is the merge of theirs."""

    checkers: Mapping[str, Checker]
    name: str = "compose"

    def check(self, history: History) -> CheckResult:
        children: dict[str, CheckResult] = {}
        for key, c in self.checkers.items():
            r = check_safe(c, history)
            children[key] = CheckResult(checker=key, verdict=r.verdict, anomalies=r.anomalies,
                                        stats=r.stats, error=r.error, children=r.children)
        verdict = Verdict.all_of([r.verdict for r in children.values()])
        anomalies = tuple(a for r in children.values() for a in r.anomalies)
        return CheckResult(checker=self.name, verdict=verdict, anomalies=anomalies, children=children)
