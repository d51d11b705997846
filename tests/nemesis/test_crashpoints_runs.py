"""Whole runs with ``--nemesis crash:ROLE:POINT`` on the default backend: the events a crash point leaves.

The point is one the workload reaches at once (``after-charge`` for every
order the orchestrator charges, ``after-prepare-order`` for every
transaction), so the first window fires: the history holds ``arm-crash``,
then ``crash-fired`` naming the order or transaction, then ``restart``, and
``results.json`` has the crash window with that outcome. The saga
orchestrator re-executes itself and is back on its own (``started`` false);
the 2PC coordinator exits and the nemesis starts it when the window ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(target: str, fault: str, store: Path, *extra: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    argv = [sys.executable, "-m", "harness.cli", "run", target, "--variant", "seed", "--nemesis", fault,
            "--nemesis-interval", "1.5", "--time-limit", "4", "--concurrency", "3", "--rate", "20",
            "--seed", "4", "--store", str(store), "--option", "recovery=2", *extra]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=180)
    folders = sorted((store / target).glob("*"))
    assert folders, proc.stdout + proc.stderr
    events = [json.loads(x) for x in (folders[-1] / "history.jsonl").read_text().splitlines() if x.strip()]
    return [e for e in events if e["process"] == "nemesis"], json.loads((folders[-1] / "results.json").read_text())


def first(events: list[dict[str, Any]], f: str) -> dict[str, Any]:
    got = [e for e in events if e["f"] == f]
    assert len(got) >= 2, [e["f"] for e in events]
    return got[1]  # the second event of the pair


def check_order_of_events(events: list[dict[str, Any]], results: dict[str, Any], node: str, point: str) -> Any:
    arm, fired, back = first(events, "arm-crash"), first(events, "crash-fired"), first(events, "restart")
    assert arm["index"] < fired["index"] < back["index"]
    assert arm["value"]["node"] == fired["value"]["node"] == back["value"]["node"] == node
    assert fired["value"]["point"] == point and fired["value"]["arm"] == arm["value"]["arm"]
    (w,) = [w for w in results["faults"] if w["kind"] == "crash" and w["detail"]["arm"] == arm["value"]["arm"]]
    assert w["detail"]["outcome"] == "fired" and w["detail"]["order"] == fired["value"]["order"]
    assert w["start_ns"] <= w["detail"]["fired_ns"] <= w["detail"]["restart_ns"]
    return fired["value"]["order"], back["value"]


def test_saga_orchestrator_dies_after_a_charge_and_comes_back(tmp_path: Path) -> None:
    events, results = run("saga-orders", "crash:orchestrator:after-charge", tmp_path)
    order, back = check_order_of_events(events, results, "orchestrator", "after-charge")
    assert isinstance(order, str) and order.startswith("o")  # the saga's order id
    assert back["started"] is False  # it re-executed itself (crash_restart 1 s)
    assert results["valid"] is False  # the seed saga leaves that order half done


def test_two_pc_coordinator_dies_after_a_prepare_and_is_started_again(tmp_path: Path) -> None:
    events, results = run("two-pc", "crash:coordinator:after-prepare-order", tmp_path)
    txn, back = check_order_of_events(events, results, "coordinator", "after-prepare-order")
    assert isinstance(txn, str) and txn.startswith("t")  # the transaction id
    assert back["started"] is True  # it exited; the nemesis started it when the window ended
