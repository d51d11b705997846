"""splitbrain's harness: history, generators, runner, cluster backends, CLI, report.

The public API for people who bring their own system is re-exported here: the
history model, and what a target is made of (``Target``, ``Workload``, the
client protocol and its ``Completion``, the contexts a target is handed).
Everything else is private to its module; ``tests/test_exports.py`` pins this list.
"""

from harness.client import Client, Completion
from harness.cluster import Address
from harness.history import NEMESIS, History, HistoryError, Op, Operation
from harness.target import NodeContext, Role, Target, Workload, WorkloadContext

__all__ = [
    "NEMESIS", "Address", "Client", "Completion", "History", "HistoryError", "NodeContext", "Op",
    "Operation", "Role", "Target", "Workload", "WorkloadContext",
]
