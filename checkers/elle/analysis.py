"""What every Elle workload shares: parse, build the graph, search cycles, judge.

A workload (:class:`Workload`) knows its micro-ops and how to read versions
out of them: ``analyze`` adds its dependency edges (ww, wr, rw) to a
:class:`~checkers.elle.graph.GraphBuilder` and returns the anomalies found
without a cycle (aborted reads, internal inconsistencies, ...) and the
explainer of its edges. :func:`check_txns` does the rest the same way for all
of them: process and real-time edges only when a requested model needs them,
cycle search bounded by ``timeout_s``, and a :class:`~checkers.api.CheckResult`
whose verdict is

* ``INVALID`` when an anomaly the requested models proscribe was found;
* ``UNKNOWN`` when none was, but the time ran out before every proscribed cycle
  kind was searched for (``error`` names them), or no transaction committed
  (Elle's "empty transaction graph": nothing was checked);
* ``VALID`` otherwise.

``stats`` holds the counts per anomaly kind, the models asked for, the
strongest models the history still satisfies and the weakest it violates
(:func:`checkers.elle.models.boundary`), and the graph's size.
"""

from __future__ import annotations

import gc
import time
from typing import Any, Protocol, Sequence

from checkers.api import Anomaly, CheckResult, Verdict
from checkers.elle.cycles import CYCLE_ANOMALIES, find_cycles
from checkers.elle.explain import EdgeExplainer, cycle_anomaly, txn_data
from checkers.elle.graph import GraphBuilder
from checkers.elle.models import boundary, check_model, proscribed
from checkers.elle.txn import Parsed, Txn, order_edges, parse
from harness.history import History

__all__ = ["Findings", "Workload", "check_txns", "MAX_PER_KIND", "DEFAULT_TIMEOUT_S"]

MAX_PER_KIND = 8
"""Anomalies of one kind kept with their explanation; the rest are counted."""
DEFAULT_TIMEOUT_S = 60.0
"""Cycle search budget when none is given."""


class Findings:
    """The anomalies a workload finds without a cycle, by kind; call it to add one."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[Anomaly]] = {}

    def __call__(self, kind: str, summary: str, txns: Sequence[Txn], **data: Any) -> None:
        self.by_kind.setdefault(kind, []).append(Anomaly(
            kind=kind, summary=summary, ops=tuple(t.op.invoke.index for t in txns),
            data={**data, "txns": [txn_data(t) for t in txns]}))


class Workload(Protocol):
    """A transactional workload: its micro-op functions and its version inference."""

    name: str
    fs: tuple[str, ...]

    def analyze(self, history: History, parsed: Parsed, graph: GraphBuilder, note: Findings) -> EdgeExplainer:
        """Add ww/wr/rw edges between ``parsed.txns`` to ``graph``, report non-cycle anomalies to ``note``;
        return the explainer of the edges. Raise :class:`~harness.history.HistoryError` for bad input."""
        ...


def check_txns(history: History, workload: Workload, *, models: Sequence[str], timeout_s: float | None,
               name: str) -> CheckResult:
    """Judge ``history`` under ``workload`` against ``models`` (see the module docstring).

    The cyclic garbage collector is paused while the graph is built: the
    millions of small acyclic objects made here would otherwise trigger full
    collections over the whole history again and again (30% of the time at
    300k transactions); it is restored, and what was deferred collected, after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(history, workload, models=models, timeout_s=timeout_s, name=name)
    finally:
        if was_enabled:
            gc.enable()


def _check(history: History, workload: Workload, *, models: Sequence[str], timeout_s: float | None,
           name: str) -> CheckResult:
    t0 = time.monotonic()
    models = [check_model(m) for m in models]
    wanted = proscribed(models)
    parsed = parse(history, workload.fs, workload=workload.name)
    t_parse = time.monotonic()
    builder = GraphBuilder(len(parsed.txns))
    note = Findings()
    explainer = workload.analyze(history, parsed, builder, note)
    found = note.by_kind
    t_analyze = time.monotonic()
    need_rt = any(a.endswith("-realtime") for a in wanted)
    need_proc = need_rt or any(a.endswith("-process") for a in wanted)
    order_edges(parsed.txns, builder, process=need_proc, realtime=need_rt)
    t_order = time.monotonic()
    graph = builder.build()
    t_graph = time.monotonic()
    budget = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
    cycles, unsearched = find_cycles(graph, [a for a in CYCLE_ANOMALIES if a in wanted],
                                     deadline=t0 + budget)
    for c in cycles:
        found.setdefault(c.anomaly, []).append(cycle_anomaly(c, parsed.txns, explainer))
    t_end = time.monotonic()

    kinds = sorted(found, key=_rank)
    bad = [k for k in kinds if k in wanted]
    anomalies = tuple(a for k in bad + [k for k in kinds if k not in wanted] for a in found[k][:MAX_PER_KIND])
    if bad:
        verdict, error = Verdict.INVALID, None
    elif unsearched:
        verdict = Verdict.UNKNOWN
        error = (f"cycle search ran out of its {budget:g} s budget; not searched for: "
                 + ", ".join(unsearched))
    elif not any(t.status == "ok" for t in parsed.txns):
        verdict, error = Verdict.UNKNOWN, "no transaction completed ok: there was nothing to check"
    else:
        verdict, error = Verdict.VALID, None
    statuses = [t.status for t in parsed.txns]
    stats = {
        "txns": len(parsed.txns) + len(parsed.failed),
        "ok": statuses.count("ok"), "info": statuses.count("info"), "fail": len(parsed.failed),
        "anomaly_types": bad, "allowed_anomaly_types": [k for k in kinds if k not in wanted],
        "counts": {k: len(found[k]) for k in kinds},
        "models": models, **boundary(kinds),
        "not_searched": unsearched,
        "graph": {"nodes": graph.n, "txn_nodes": graph.n_txn, "edges": graph.edge_count},
        "graph_s": round(t_graph - t0, 3), "cycles_s": round(t_end - t_graph, 3),
        "phases_s": {"parse": round(t_parse - t0, 3), "versions_and_edges": round(t_analyze - t_parse, 3),
                     "process_and_realtime": round(t_order - t_analyze, 3), "csr": round(t_graph - t_order, 3),
                     "scc_and_cycles": round(t_end - t_graph, 3)},
        "elapsed_s": round(t_end - t0, 3),
    }
    return CheckResult(checker=name, verdict=verdict, anomalies=anomalies, stats=stats, error=error)


_ORDER = ("never-written", "duplicate-elements", "cyclic-versions", "incompatible-order", "internal", "future-read",
          "G1a", "G1b", "dirty-update", "lost-update", *CYCLE_ANOMALIES)


def _rank(kind: str) -> int:
    return _ORDER.index(kind) if kind in _ORDER else len(_ORDER)
