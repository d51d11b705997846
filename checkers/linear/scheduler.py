"""Search every partition of a history, in turns, under one time and memory budget.

P-compositionality makes the verdict the conjunction of the partitions'; the
first invalid partition decides it. Searching partitions one after another
lets one hard valid (or hard invalid) key starve an easy invalid one: in
Porcupine's ``c50-bad`` kv history two keys take minutes to exhaust while
another is shown invalid in a millisecond. So partitions are searched in
turns, a slice of configurations each (Porcupine gets the same effect by
searching them in parallel goroutines); a finished valid partition leaves the
rotation and frees its cache, and the first invalid one stops all the others.

Budgets hold for the whole check: at ``deadline``, when the live caches
together exceed ``max_cache`` entries, or when the searches' estimated
memory (their :class:`~checkers.linear.search.Usage`: cache entries, model
states and frontiers) plus what the partitions still searched hold
(``op_bytes`` an operation) plus ``fixed_bytes`` (anything else the check
holds) exceeds ``max_cache_bytes``, the remaining
searches stop, and the verdict is ``"unknown"`` unless a partition was
already shown invalid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generator, Literal, Sequence

from checkers.linear.models import Model
from checkers.linear.partition import Partition
from checkers.linear.search import BudgetSpent, SearchResult, Usage, searcher

__all__ = ["Outcome", "check_partitions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The merged result: ``invalid`` holds the partition that decided an invalid verdict."""

    verdict: Literal["valid", "invalid", "unknown"]
    explored: int
    cache_peak: int
    invalid: tuple[Partition, SearchResult] | None = None
    reason: str | None = None


def check_partitions(parts: Sequence[Partition], model: Model, *, deadline: float | None = None,
                     max_cache: int | None = None, max_cache_bytes: int | None = None,
                     fixed_bytes: int = 0, op_bytes: int = 0, slice_: int = 1024) -> Outcome:
    """Search ``parts`` in turns; see the module docstring.

    ``op_bytes`` is what each operation of a partition still searched costs
    (counted in the memory bound with ``fixed_bytes``). When ``parts`` is a
    list it is emptied: a partition shown valid is then released as soon as
    its search ends, and the bound stops counting it.
    """
    active: list[tuple[Partition, Generator[Usage, None, SearchResult], list[Usage]]] = [
        (p, searcher(p, model, model.init(p.key), slice_=slice_), [Usage(0, 0)]) for p in parts]
    if isinstance(parts, list):
        parts.clear()
    explored = 0
    cache_peak = 0
    unknown: str | None = None
    while active:
        still: list[tuple[Partition, Generator[Usage, None, SearchResult], list[Usage]]] = []
        for i, (part, run, size) in enumerate(active):
            try:
                size[0] = next(run)
                still.append((part, run, size))
                continue
            except StopIteration as stop:
                res: SearchResult = stop.value
            explored += res.explored
            if res.outcome == "invalid":
                for _, other, _ in active[i + 1:] + still:
                    other.close()
                return Outcome(verdict="invalid", explored=explored, cache_peak=cache_peak,
                               invalid=(part, res))
            if res.outcome == "unknown":
                unknown = res.reason
        active = still
        live = sum(s[0].entries for _, _, s in active)
        cache_peak = max(cache_peak, live)
        reason = None
        if deadline is not None and time.monotonic() > deadline:
            reason = "time budget spent"
        elif max_cache is not None and live > max_cache:
            reason = f"cache bound of {max_cache} entries reached"
        elif max_cache_bytes is not None and \
                fixed_bytes + sum(s[0].bytes + op_bytes * len(p) for p, _, s in active) > max_cache_bytes:
            reason = (f"memory bound of {max_cache_bytes // 2**20} MiB reached "
                      f"(search cache, model states and the operations searched)")
        if reason is not None:
            for _, run, _ in active:
                try:
                    run.throw(BudgetSpent(reason))
                except StopIteration as stop:
                    explored += stop.value.explored
            return Outcome(verdict="unknown", explored=explored, cache_peak=cache_peak, reason=reason)
    if unknown is not None:
        return Outcome(verdict="unknown", explored=explored, cache_peak=cache_peak, reason=unknown)
    return Outcome(verdict="valid", explored=explored, cache_peak=cache_peak)
