"""The ``check`` command's budgets: ``--timeout SECONDS`` and ``--max-memory SIZE``.

Both are finite, positive numbers or a usage error (exit 3): ``nan``, ``inf``,
``0`` and negative values are refused, so that no spelling of "no budget"
slips through. ``check`` has a default time budget
(:data:`DEFAULT_CHECK_TIMEOUT_S`), and the linearizability checker a default
memory budget (:data:`checkers.linearizability.DEFAULT_MAX_CACHE_MB`).
``--max-memory`` bounds the whole process: the checker gets what is left of
it once the history is loaded (:func:`check_budget_mb`), and a budget spent
gives verdict unknown with the reason.
"""

from __future__ import annotations

import math
import re
import resource
from typing import Any

import click

__all__ = ["DEFAULT_CHECK_TIMEOUT_S", "MemorySize", "Seconds", "check_budget_mb"]

DEFAULT_CHECK_TIMEOUT_S = 600.0
"""``check``'s time budget when ``--timeout`` is not given."""

_UNITS = {"": 2**20, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*")


class Seconds(click.ParamType):
    """A finite number of seconds greater than zero."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(x) or x <= 0:
            self.fail(f"{value!r} is not a finite number of seconds greater than 0", param, ctx)
        return x


class MemorySize(click.ParamType):
    """A size such as ``1GiB``, ``512MiB``, ``2G`` or ``800`` (MiB), returned in MiB."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        text = str(value)
        m = _SIZE.fullmatch(text)
        unit = m.group(2).lower() if m else ""
        if m is None or unit not in _UNITS:
            self.fail(f"{text!r} is not a size; write e.g. 1GiB, 512MiB or 800 (MiB)", param, ctx)
        mib = float(m.group(1)) * _UNITS[unit] / 2**20
        if not math.isfinite(mib) or mib <= 0:
            self.fail(f"{text!r} is not a size greater than 0", param, ctx)
        return mib


HEADROOM = 0.9
"""Share of what is left that the checker's estimate may reach: the estimate misses small objects
(a search's frames, the allocator's slack); measured on the 30,000-add ``set`` chain of ``bench/bench_long.py``."""


def check_budget_mb(total_mb: float) -> float:
    """What a check may hold when the whole process may use ``total_mb``: minus its peak so far.

    Called after the history is loaded, so the interpreter, the loaded
    history and the reader's own peak are all set aside (and
    :data:`HEADROOM` kept). Raises
    ``click.UsageError`` when nothing is left.
    """
    used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    left = (total_mb - used) * HEADROOM
    if left <= 0:
        raise click.UsageError(f"--max-memory {total_mb:.0f} MiB is already used up by loading the history "
                               f"({used:.0f} MiB); give more")
    return left
