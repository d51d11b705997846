"""A sweep's measured columns: what each configuration of a matrix traded, from its runs.

A *sweep* is a suite whose entries carry a ``row`` (see :mod:`harness.suite`):
the runs of one row are one configuration (the quorum store's W=N, R=1, say)
under the faults and seeds every row shares. This module turns each run's
history and ``results.json`` into figures (:func:`run_figures`) and a row's
runs into the columns of the table (:func:`row_figures`), as the suite page
and ``bench/bench_quorum_table.py`` print them:

* **runs with anomalies of K**: runs whose verdict is ``invalid``; runs that
  ended ``unknown`` (a checker's budget ran out) or could not be performed
  (``error``) are counted apart, never as clean.
* **anomalies per 1,000 ops**: every checker's anomalies over every client
  operation of the row's runs, times 1,000. What one anomaly is depends on the
  checker: the linearizability checker reports one per invalid history (the
  first key it could not linearize), so on a register the figure is a floor
  and the runs column says more; ``set-full`` one per lost or stale element. Kinds are counted
  with the pattern the checker named (``nonlinearizable (stale read)``). A
  checker lists only its first few anomalies of a kind; where its ``stats``
  give the kind's count (``set-full``'s ``lost_count``), that count is used.
  A composed checker's anomalies are its children's, counted once.
* **not ok while a fault was in effect** (availability): of the client
  operations *invoked* inside a fault window (``results.json`` ``faults``:
  ``start_ns`` to ``end_ns``, the history's clock; a fault never healed lasts to
  the end), the share that did not complete ``ok``: ``fail`` (refused) or
  ``info`` (timed out, outcome unknown), both of which a user sees as the store
  being unavailable. Given for all ops, reads and writes, and, as the baseline,
  for the operations invoked while no fault was in effect.
* **latency p50/p99**: completion minus invocation time of the ``ok``
  operations only (a failed op's time is its timeout, not the store's speed),
  nearest-rank percentiles over the row's runs pooled, in milliseconds.

Reads are the operations whose ``f`` is ``read``; every other ``f`` (a
register's ``write`` and ``cas``, a set's ``add``, a counter's ``add``) counts
as a write. Pure: callers read the files (``harness.commands.suite``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from harness.history import Operation

__all__ = ["FaultWindow", "RowFigures", "RunFigures", "Share", "anomaly_kind", "fault_windows", "percentile",
           "row_figures", "run_figures", "sweep_rows"]

READ_FS = frozenset({"read"})
"""Operation names counted as reads; the rest are writes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultWindow:
    """One fault's time in effect, in the history's nanoseconds; ``end_ns`` ``None``: never healed."""

    kind: str
    start_ns: int
    end_ns: int | None = None

    def covers(self, t_ns: int) -> bool:
        return self.start_ns <= t_ns and (self.end_ns is None or t_ns < self.end_ns)


def fault_windows(faults: Iterable[Any]) -> tuple[FaultWindow, ...]:
    """The windows of ``results.json``'s ``faults`` list; entries without a start time are skipped."""
    out = []
    for f in faults or ():
        if not isinstance(f, Mapping):
            continue
        start, end = f.get("start_ns"), f.get("end_ns")
        if not isinstance(start, int) or isinstance(start, bool):
            continue
        out.append(FaultWindow(kind=str(f.get("kind", "fault")), start_ns=start,
                               end_ns=end if isinstance(end, int) and not isinstance(end, bool) else None))
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Share:
    """``part`` of ``whole`` operations; :attr:`value` is ``None`` when there were none."""

    part: int = 0
    whole: int = 0

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None

    def __add__(self, other: "Share") -> "Share":
        return Share(part=self.part + other.part, whole=self.whole + other.whole)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFigures:
    """One run's figures (see the module docstring for each)."""

    verdict: str
    ops: int = 0
    anomalies: int = 0
    anomaly_kinds: Mapping[str, int] = field(default_factory=dict)
    not_ok_in_fault: Share = Share()
    reads_not_ok_in_fault: Share = Share()
    writes_not_ok_in_fault: Share = Share()
    not_ok_outside: Share = Share()
    read_latency_ms: tuple[float, ...] = ()
    write_latency_ms: tuple[float, ...] = ()


def _verdict(results: Mapping[str, Any]) -> str:
    if results.get("status") not in (None, "done"):
        return "error"
    valid = results.get("valid")
    return "valid" if valid is True else "invalid" if valid is False else "unknown"


def anomaly_kind(a: Mapping[str, Any]) -> str:
    """An anomaly's kind, with the pattern its checker named when it did (``data.cause.label``):
    ``nonlinearizable (stale read)``."""
    kind = str(a.get("kind", "anomaly"))
    data = a.get("data")
    cause = data.get("cause") if isinstance(data, Mapping) else None
    label = cause.get("label") if isinstance(cause, Mapping) else None
    return f"{kind} ({label})" if isinstance(label, str) and label else kind


def _checker_anomalies(r: Mapping[str, Any]) -> Counter[str]:
    """One checker's anomalies by kind: its children's when it has any (a composed checker holds
    theirs), else its list, topped up to its ``stats`` ``KIND_count`` for each kind it lists."""
    kinds: Counter[str] = Counter()
    children = r.get("children")
    if isinstance(children, Mapping) and children:
        for child in children.values():
            if isinstance(child, Mapping):
                kinds.update(_checker_anomalies(child))
        return kinds
    listed: Counter[str] = Counter()
    for a in r.get("anomalies") or ():
        if isinstance(a, Mapping):
            kinds[anomaly_kind(a)] += 1
            listed[str(a.get("kind", "anomaly"))] += 1
    stats = r.get("stats") if isinstance(r.get("stats"), Mapping) else {}
    for kind, n in listed.items():
        total = stats.get(f"{kind}_count")
        if isinstance(total, int) and not isinstance(total, bool) and total > n:
            kinds[kind] += total - n
    return kinds


def _anomalies(results: Mapping[str, Any]) -> Counter[str]:
    """Anomalies by kind over every checker of ``results``."""
    kinds: Counter[str] = Counter()
    for r in (results.get("checkers") or {}).values():
        if isinstance(r, Mapping):
            kinds.update(_checker_anomalies(r))
    return kinds


def run_figures(operations: Sequence[Operation], results: Mapping[str, Any], *,
                verdict: str | None = None) -> RunFigures:
    """Figures of one run from its client ``operations`` and its ``results.json`` document.

    ``verdict`` overrides the one read from ``results`` (the suite's, e.g. ``error``).
    """
    windows = fault_windows(results.get("faults") or ())
    shares = {(place, kind): [0, 0] for place in ("in", "out") for kind in ("read", "write")}
    read_ms: list[float] = []
    write_ms: list[float] = []
    for op in operations:
        t0 = op.invoke.time
        is_read = op.f in READ_FS
        status = op.status
        if t0 is not None:
            place = "in" if any(w.covers(t0) for w in windows) else "out"
            s = shares[(place, "read" if is_read else "write")]
            s[1] += 1
            if status != "ok":
                s[0] += 1
        if status == "ok" and t0 is not None and op.completion is not None and op.completion.time is not None:
            (read_ms if is_read else write_ms).append((op.completion.time - t0) / 1e6)
    share = {k: Share(part=v[0], whole=v[1]) for k, v in shares.items()}
    kinds = _anomalies(results)
    return RunFigures(
        verdict=verdict or _verdict(results), ops=len(operations), anomalies=sum(kinds.values()),
        anomaly_kinds=dict(kinds),
        not_ok_in_fault=share[("in", "read")] + share[("in", "write")],
        reads_not_ok_in_fault=share[("in", "read")], writes_not_ok_in_fault=share[("in", "write")],
        not_ok_outside=share[("out", "read")] + share[("out", "write")],
        read_latency_ms=tuple(read_ms), write_latency_ms=tuple(write_ms))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``values``; ``None`` when empty."""
    if not values:
        return None
    if not 0 < q <= 1:
        raise ValueError(f"a quantile is in (0, 1], not {q}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class RowFigures:
    """A row of the table: one configuration's runs summed up (see the module docstring)."""

    row: str
    claim: str
    runs: int
    anomalous: int
    unknown: int
    errors: int
    ops: int
    anomalies: int
    anomaly_kinds: Mapping[str, int]
    not_ok_in_fault: Share
    reads_not_ok_in_fault: Share
    writes_not_ok_in_fault: Share
    not_ok_outside: Share
    read_p50_ms: float | None
    read_p99_ms: float | None
    write_p50_ms: float | None
    write_p99_ms: float | None

    @property
    def per_1k_ops(self) -> float | None:
        return 1000 * self.anomalies / self.ops if self.ops else None

    def to_json(self) -> dict[str, Any]:
        share = lambda s: {"part": s.part, "whole": s.whole, "value": s.value}  # noqa: E731
        return {"row": self.row, "claim": self.claim, "runs": self.runs, "anomalous": self.anomalous,
                "unknown": self.unknown, "errors": self.errors, "ops": self.ops, "anomalies": self.anomalies,
                "anomalies_per_1k_ops": self.per_1k_ops, "anomaly_kinds": dict(self.anomaly_kinds),
                "not_ok_in_fault": share(self.not_ok_in_fault),
                "reads_not_ok_in_fault": share(self.reads_not_ok_in_fault),
                "writes_not_ok_in_fault": share(self.writes_not_ok_in_fault),
                "not_ok_outside": share(self.not_ok_outside),
                **{k: None if v is None else round(v, 3) for k, v in (
                    ("read_p50_ms", self.read_p50_ms), ("read_p99_ms", self.read_p99_ms),
                    ("write_p50_ms", self.write_p50_ms), ("write_p99_ms", self.write_p99_ms))}}


def _sum(shares: Iterable[Share]) -> Share:
    total = Share()
    for s in shares:
        total = total + s
    return total


def row_figures(row: str, claim: str, runs: Sequence[RunFigures]) -> RowFigures:
    """The row ``row`` (with the ``claim`` it is measured against) from its runs' figures."""
    kinds: Counter[str] = Counter()
    for r in runs:
        kinds.update(r.anomaly_kinds)
    reads = [x for r in runs for x in r.read_latency_ms]
    writes = [x for r in runs for x in r.write_latency_ms]
    return RowFigures(
        row=row, claim=claim, runs=len(runs),
        anomalous=sum(1 for r in runs if r.verdict == "invalid"),
        unknown=sum(1 for r in runs if r.verdict == "unknown"),
        errors=sum(1 for r in runs if r.verdict not in ("valid", "invalid", "unknown")),
        ops=sum(r.ops for r in runs), anomalies=sum(r.anomalies for r in runs), anomaly_kinds=dict(kinds),
        not_ok_in_fault=_sum(r.not_ok_in_fault for r in runs),
        reads_not_ok_in_fault=_sum(r.reads_not_ok_in_fault for r in runs),
        writes_not_ok_in_fault=_sum(r.writes_not_ok_in_fault for r in runs),
        not_ok_outside=_sum(r.not_ok_outside for r in runs),
        read_p50_ms=percentile(reads, 0.5), read_p99_ms=percentile(reads, 0.99),
        write_p50_ms=percentile(writes, 0.5), write_p99_ms=percentile(writes, 0.99))


def sweep_rows(runs: Iterable[tuple[str, str, RunFigures]]) -> list[RowFigures]:
    """Rows from ``(row, claim, figures)`` triples, in the order rows first appear.

    A row's claim is the first one given for it (entries of one row repeat it).
    """
    grouped: dict[str, tuple[str, list[RunFigures]]] = {}
    for row, claim, figures in runs:
        grouped.setdefault(row, (claim, []))[1].append(figures)
    return [row_figures(row, claim, figs) for row, (claim, figs) in grouped.items()]
