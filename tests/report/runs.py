"""Hand-made run folders for the report tests: literal histories, valid and invalid.

A register key under concurrent clients, with one partition and one kill; the
invalid run has a read of a value never written, and its anomaly carries the
linearizability fields (key, failing op, prefix with states, concurrent ops).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.history import History, Op, op_to_json

XSS = "<script>alert(1)</script>"
MS = 1_000_000


def sample_ops() -> list[Op]:
    """A small register history; times in ms. Index order is real-time order."""
    ev: list[tuple[int, Any, str, str, Any, str | None]] = [
        # (time ms, process, type, f, value, error)
        (0, 0, "invoke", "write", 1, None),
        (1, 1, "invoke", "read", None, None),
        (5, 0, "ok", "write", 1, None),
        (6, 1, "ok", "read", 1, None),
        (10, "nemesis", "info", "start-partition", "majorities-ring", None),
        (12, "nemesis", "info", "start-partition", {"cut": [["n1", "n2"]], "probe": XSS}, None),
        (20, 0, "invoke", "write", 2, None),
        (21, 1, "invoke", "read", None, None),
        (22, 2, "invoke", "cas", [2, 3], None),
        (30, 0, "ok", "write", 2, None),
        (31, 1, "ok", "read", 7, None),          # 7 was never written: the anomaly
        (40, 2, "fail", "cas", [2, 3], XSS),
        (45, "nemesis", "info", "stop-partition", None, None),
        (47, "nemesis", "info", "stop-partition", "healed", None),
        (50, "nemesis", "info", "kill", ["n3"], None),
        (52, "nemesis", "info", "kill", {"killed": ["n3"]}, None),
        (55, 2, "invoke", "write", XSS, None),
        (80, 2, "info", "write", XSS, "timeout"),
        (85, 3, "invoke", "read", None, None),
    ]
    return [Op(index=i, time=t * MS, process=p, type=ty, f=f, value=v, error=e)  # type: ignore[arg-type]
            for i, (t, p, ty, f, v, e) in enumerate(ev)]


def linear_anomaly() -> dict[str, Any]:
    return {
        "kind": "nonlinearizable",
        "summary": f"read of 7 by process 1 (op 10) cannot be linearized {XSS}",
        "ops": [7, 10],
        "data": {
            "key": XSS,
            "op": {"index": 7, "process": 1, "f": "read", "value": 7},
            "prefix": [{"op": {"index": 0}, "state": 1}, {"op": {"index": 1}, "state": 1},
                       {"op": {"index": 6}, "state": 2}],
            "concurrent": [{"index": 6}, {"index": 8}],
            "model": "cas-register",
            "extra_field": {"nested": [XSS]},
        },
    }


def results(*, valid: bool, anomalies: list[dict[str, Any]] | None = None,
            seed: int = 42, variant: str = "seed") -> dict[str, Any]:
    anomalies = anomalies or []
    return {
        "valid": valid, "seed": seed, "run_id": "20260101T000000Z", "target": "quorum-store",
        "variant": variant, "backend": "local", "workload": "register", "nodes": ["n1", "n2", "n3"],
        "nemesis": ["partition", "kill"], "time_limit_s": 1.0, "concurrency": 4, "rate": None,
        "command": f"splitbrain run quorum-store --variant {variant} --seed {seed} --note '{XSS}'",
        "started_at": "2026-01-01T00:00:00Z",
        "checkers": {
            "linear": {"checker": "linear", "valid": valid, "anomalies": anomalies,
                       "stats": {"ops": 8, "elapsed_s": 0.01}},
            "stats": {"checker": "stats", "valid": True, "anomalies": [], "stats": {}},
        },
        "stats": {"ops": 8, "ok": 5, "fail": 1, "info": 2, "duration_s": 0.085},
        "faults": [],
    }


def checked_anomalies(ops: list[Op]) -> list[dict[str, Any]]:
    """The real linearizability checker's anomalies for ``ops`` (a cas-register from 0)."""
    from checkers.linearizability import Linearizability

    return [a.to_json() for a in Linearizability(model="cas-register", init=0).check(History.of(ops)).anomalies]


def make_run(store: Path, name: str, *, valid: bool, target: str = "quorum-store",
             ops: list[Op] | None = None, real_checker: bool = False, **kw: Any) -> Path:
    """Write ``store/target/name/{history.jsonl,results.json}``; return the run folder.

    Invalid runs carry :func:`linear_anomaly`, or with ``real_checker`` what
    :class:`checkers.linearizability.Linearizability` finds in the history.
    """
    run = store / target / name
    run.mkdir(parents=True)
    ops = sample_ops() if ops is None else ops
    (run / "history.jsonl").write_text("".join(op_to_json(o) + "\n" for o in ops), encoding="utf-8")
    anomalies = [] if valid else (checked_anomalies(ops) if real_checker else [linear_anomaly()])
    res = results(valid=valid, anomalies=anomalies, **kw)
    res["target"] = target
    (run / "results.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    return run
