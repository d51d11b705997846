"""splitbrain's harness: history, generators, runner, cluster backends, CLI, report.

The public API is re-exported here; everything else is private to its module.
"""

from harness.history import NEMESIS, History, HistoryError, Op, Operation

__all__ = ["NEMESIS", "History", "HistoryError", "Op", "Operation"]
