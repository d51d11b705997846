"""Linearizability: the checker facade over :mod:`checkers.linear`.

``Linearizability(model="cas-register", init=0, nil_read_unknown=True)`` is a
:class:`~checkers.api.Checker`: ``check(history)`` returns ``VALID`` when some
order of the history's operations, each taking effect at one instant within
its interval, is legal for the model; ``INVALID`` with one
``nonlinearizable`` :class:`~checkers.api.Anomaly` (see
:mod:`checkers.linear.explain`) when none is; ``UNKNOWN``, with the reason in
``error``, when the time budget (``timeout_s``) or the memory budget runs out
first: ``max_cache`` search-cache entries, or ``max_cache_mb``, the estimated
size of everything the check holds (the operations searched,
:data:`ENTRY_BYTES` each, and the searches' caches, frontiers and model
states, see :mod:`checkers.linear.search`). Jepsen semantics throughout: ``fail`` ops never happened;
``info`` ops and never-completed invocations may take effect at any instant
after their invocation, or never; nemesis events are ignored.

``model`` is a name from :data:`checkers.linear.models.MODELS` or a
:class:`~checkers.linear.models.Model`. ``independent=True`` (register and
cas-register) reads values as Jepsen independent tuples ``[key, value]`` and
checks each key as its own register. ``engine="knossos"`` hands the history to
an installed Knossos instead (see :mod:`checkers.linear.knossos`).

An invalid verdict's anomaly leads with a minimal witness and its cause
(:mod:`checkers.linear.witness`, :mod:`checkers.linear.causes`), found within
``witness_s`` seconds (0: not looked for; the search's prefix explains it).

``check`` raises :class:`~harness.history.HistoryError` for an operation the
model cannot use (the CLI turns it into exit 3; :func:`checkers.api.check_safe`
into ``UNKNOWN``).
"""

from __future__ import annotations

import gc
import time
from typing import Any, Literal

from checkers.api import CheckResult, Verdict
from checkers.linear.explain import WITNESS_BUDGET_S, explain
from checkers.linear.models import Model, make_model
from checkers.linear.partition import PartitionSource, partition
from checkers.linear.scheduler import check_partitions
from harness.history import History

__all__ = ["Linearizability", "DEFAULT_MAX_CACHE", "DEFAULT_MAX_CACHE_MB", "ENTRY_BYTES"]

DEFAULT_MAX_CACHE = 5_000_000
"""Search-cache entries allowed before giving up."""
DEFAULT_MAX_CACHE_MB = 1024
"""Estimated memory the check may hold before giving up (see the module docstring)."""
ENTRY_BYTES = 160
"""Bytes the check holds per operation searched: its call and the partition's columns (measured with
tracemalloc on a 100,000-op kv history: 148, the segment bounds included)."""


class Linearizability:
    """The linearizability checker (see the module docstring)."""

    def __init__(self, *, model: str | Model, init: Any = None, nil_read_unknown: bool = False,
                 independent: bool = False, timeout_s: float | None = None,
                 engine: Literal["splitbrain", "knossos"] = "splitbrain",
                 knossos_cmd: str | None = None, max_cache: int = DEFAULT_MAX_CACHE,
                 max_cache_mb: float = DEFAULT_MAX_CACHE_MB, name: str = "linearizability",
                 witness_s: float = WITNESS_BUDGET_S):
        if engine not in ("splitbrain", "knossos"):
            raise ValueError(f"unknown engine {engine!r}; choose 'splitbrain' or 'knossos'")
        if isinstance(model, Model):
            self.model = model
        else:
            self.model = make_model(model, init=init, nil_read_unknown=nil_read_unknown,
                                    independent=independent)
        self.model_name = self.model.name
        self.init = init
        self.nil_read_unknown = nil_read_unknown
        self.independent = independent
        self.timeout_s = timeout_s
        self.engine = engine
        self.knossos_cmd = knossos_cmd
        self.max_cache = max_cache
        self.max_cache_mb = max_cache_mb
        self.name = name
        self.witness_s = witness_s

    def check(self, history: History | PartitionSource) -> CheckResult:
        if self.engine == "knossos":
            from checkers.linear.knossos import check_with_knossos
            return check_with_knossos(history, model=self.model_name, init=self.init,
                                      cmd=self.knossos_cmd, timeout_s=self.timeout_s,
                                      independent=self.independent, name=self.name)
        t0 = time.monotonic()
        # the check builds millions of small acyclic objects (entries, calls, cache keys): with the
        # cyclic collector on, each collection walks all of them, a quarter of the time at 100k ops
        collecting = gc.isenabled()
        gc.disable()
        try:
            parts = list(partition(history, self.model))
            deadline = None if self.timeout_s is None else t0 + self.timeout_s
            searched = sum(len(p) for p in parts)
            dropped = sum(p.dropped for p in parts)
            keys = len(parts)
            # the scheduler empties ``parts``: each key's columns go as soon as its search ends
            out = check_partitions(parts, self.model, deadline=deadline, max_cache=self.max_cache,
                                   max_cache_bytes=int(self.max_cache_mb * 2**20),
                                   # a HistoryFile's values are held by its partitions alone: counted too
                                   op_bytes=ENTRY_BYTES + getattr(history, "value_bytes", 0))
        finally:
            if collecting:
                gc.enable()
        elapsed = time.monotonic() - t0
        stats = {
            "ops": searched + dropped,  # every op not failed is searched or dropped
            "searched": searched,
            "dropped": dropped,
            "keys": keys,
            "states_explored": out.explored,
            "cache_peak": out.cache_peak,
            "elapsed_s": round(elapsed, 6),
            "model": self.model_name,
        }
        if out.verdict == "invalid":
            assert out.invalid is not None
            part, res = out.invalid
            return CheckResult(checker=self.name, verdict=Verdict.INVALID,
                               anomalies=(explain(part, res, self.model,
                                                  history=history if isinstance(history, History)
                                                  else history.history_for(part),  # a HistoryFile
                                                  independent=self.independent,
                                                  witness_budget_s=self.witness_s),), stats=stats)
        if out.verdict == "unknown":
            return CheckResult(checker=self.name, verdict=Verdict.UNKNOWN, stats=stats,
                               error=f"linearizability search stopped: {out.reason}")
        return CheckResult(checker=self.name, verdict=Verdict.VALID, stats=stats)
