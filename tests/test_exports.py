"""The public surface is pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import harness
import harness.generators
from checkers import api


def test_harness_exports() -> None:
    assert sorted(harness.__all__) == [
        "Address", "Client", "Completion", "History", "HistoryError", "NEMESIS", "NodeContext", "Op",
        "Operation", "Role", "Target", "Workload", "WorkloadContext",
    ]
    for name in harness.__all__:
        assert getattr(harness, name) is not None


def test_generator_exports() -> None:
    assert sorted(harness.generators.__all__) == sorted([
        "EXHAUSTED", "NS", "OpResult", "PENDING", "Context", "Generator", "OpSpec", "Pending",
        "any_of", "clients", "cycle", "each_process", "fn", "independent", "lift", "limit",
        "map_ops", "mix", "nemesis", "once", "phases", "rate", "repeat", "seq", "simulate",
        "sleep", "stagger", "synchronize", "time_limit",
    ])
    for name in harness.generators.__all__:
        assert hasattr(harness.generators, name), name


def test_checker_api_exports() -> None:
    assert sorted(api.__all__) == ["Anomaly", "CheckResult", "Checker", "Compose", "Verdict", "check_safe",
                                   "first_of_each_kind"]
