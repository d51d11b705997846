"""Sweeps: suite entries with a row and a claim, the run ids they get, and the table the summary
writes (sweep.json and index.html) from run folders built by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.commands.suite import Outcome, _sweep, _write_summary
from harness.suite import SuiteError, load_suite, parse_suite

ROOT = Path(__file__).resolve().parents[2]

SWEEP = """\
[defaults]
target = "quorum-store"
nemesis = "partition,kill"
seed = [1, 2]
expect = ["valid", "invalid"]

[[entry]]
row = "W=N, R=1"
claim = "slow writes, fast reads"
variant = "seed"
options = { w = 5, r = 1 }

[[entry]]
row = "W=1, R=1"
claim = "weak"
variant = "seed"
options = { w = 1, r = 1 }
"""


def test_rows_and_claims_reach_the_runs_and_keep_ids_of_one_variant_apart() -> None:
    s = parse_suite(SWEEP, "sweep.toml")
    assert [r.id for r in s.runs] == [
        "quorum-store/seed/W=N, R=1/partition,kill/seed=1", "quorum-store/seed/W=N, R=1/partition,kill/seed=2",
        "quorum-store/seed/W=1, R=1/partition,kill/seed=1", "quorum-store/seed/W=1, R=1/partition,kill/seed=2",
    ]
    assert s.runs[0].row == "W=N, R=1" and s.runs[0].claim == "slow writes, fast reads"
    assert s.runs[2].options == {"w": "1", "r": "1"}
    without = parse_suite(SWEEP.replace('row = "W=1, R=1"\n', ""), "sweep.toml")
    assert without.runs[2].row is None and without.runs[2].id == "quorum-store/seed/partition,kill/seed=1"


def test_a_row_that_is_not_a_string_is_an_error_at_its_line() -> None:
    with pytest.raises(SuiteError) as e:
        parse_suite(SWEEP.replace('row = "W=1, R=1"', "row = 3"), "sweep.toml")
    assert e.value.line == 14 and "row must be a row label" in e.value.message


def test_the_repositorys_quorum_table_has_the_guides_four_rows_then_abd_and_vclock() -> None:
    s = load_suite(ROOT / "suites" / "quorum-table.toml")
    rows = list(dict.fromkeys(r.row for r in s.runs))
    assert rows == ["W=N, R=1", "W=1, R=N", "W=R=Q", "W=1, R=1", "abd W=R=Q", "abd W=2, R=2", "vclock W=R=Q"]
    assert len(s.runs) == 70 and all(r.seed in range(1, 11) and r.time_limit == 30 for r in s.runs)
    abd = {r.row: r.expect for r in s.runs if r.variant == "abd"}
    assert abd == {"abd W=R=Q": ("valid",), "abd W=2, R=2": ("invalid",)}


def _run_folder(path: Path, lines: list[dict[str, object]], results: dict[str, object]) -> Path:
    path.mkdir(parents=True)
    (path / "history.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    (path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return path


def test_the_summary_writes_the_sweep_table_from_the_run_folders(tmp_path: Path) -> None:
    s = parse_suite(SWEEP, tmp_path / "sweep.toml")
    ms = 1_000_000
    history = [
        {"index": 0, "time": 1 * ms, "process": 0, "type": "invoke", "f": "write", "value": [0, 1]},
        {"index": 1, "time": 11 * ms, "process": 0, "type": "ok", "f": "write", "value": [0, 1]},
        {"index": 2, "time": 20 * ms, "process": 1, "type": "invoke", "f": "write", "value": [0, 2]},
        {"index": 3, "time": 25 * ms, "process": 1, "type": "fail", "f": "write", "value": [0, 2]},
        {"index": 4, "time": 30 * ms, "process": 0, "type": "invoke", "f": "read", "value": [0, None]},
        {"index": 5, "time": 34 * ms, "process": 0, "type": "ok", "f": "read", "value": [0, 1]},
    ]
    invalid = {"valid": False, "status": "done", "seed": 1,
               "faults": [{"kind": "partition", "start_ns": 15 * ms, "end_ns": 26 * ms}],
               "checkers": {"linearizability": {"valid": False, "anomalies": [
                   {"kind": "nonlinearizable", "summary": "key 0: stale read"}]}}}
    folder = _run_folder(tmp_path / "runs" / "a", history, invalid)
    outcomes = [Outcome(run=s.runs[0], verdict="invalid", run_dir=folder, log=tmp_path / "a.log", duration_s=3.0,
                        results=invalid),
                Outcome(run=s.runs[2], verdict="error", run_dir=None, log=tmp_path / "b.log", duration_s=1.0,
                        results={}, error="node n1 exited with code 2 before it was ready")]
    doc = _sweep(s, outcomes, tmp_path, "2026-01-01T00:00:00")
    assert doc is not None and json.loads((tmp_path / "sweep.json").read_text(encoding="utf-8")) == doc
    first, second = doc["rows"]
    assert (first["row"], first["runs"], first["anomalous"], first["ops"]) == ("W=N, R=1", 1, 1, 3)
    assert first["anomalies_per_1k_ops"] == pytest.approx(1000 / 3)
    assert first["not_ok_in_fault"] == {"part": 1, "whole": 1, "value": 1.0}
    assert first["not_ok_outside"]["whole"] == 2 and first["write_p50_ms"] == 10.0 and first["read_p99_ms"] == 4.0
    assert (second["row"], second["errors"], second["ops"]) == ("W=1, R=1", 1, 0)
    assert doc["runs"][1]["error"].startswith("node n1 exited")

    page = _write_summary(s, outcomes, tmp_path, "2026-01-01T00:00:00", 4.0, False, doc).read_text(encoding="utf-8")
    assert "The sweep: each row" in page and "slow writes, fast reads" in page
    assert "1 of 1" in page and "333.33" in page and "100.0%" in page and "1 not performed" in page


def test_a_suite_without_rows_writes_no_sweep(tmp_path: Path) -> None:
    s = parse_suite('[[entry]]\ntarget = "quorum-store"\nexpect = "valid"\n', "s.toml")
    o = Outcome(run=s.runs[0], verdict="error", run_dir=None, log=tmp_path / "x.log", duration_s=0.0, results={})
    assert _sweep(s, [o], tmp_path, "now") is None and not (tmp_path / "sweep.json").exists()
    assert "The sweep" not in _write_summary(s, [o], tmp_path, "now", 0.0, False).read_text(encoding="utf-8")
