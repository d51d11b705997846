"""``splitbrain check``'s argument handling: keyed values, and run folders of runs that never finished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.formats import write_history
from harness.history import Op


def _ops(*specs: tuple[int, str, str, object]) -> list[Op]:
    return [Op(index=i, process=p, type=t, f=f, value=v) for i, (p, t, f, v) in enumerate(specs)]


def test_a_register_check_of_key_value_pairs_suggests_independent(tmp_path: Path, capsys) -> None:
    # two keys: as one register the read of [0 1] after the write of [1 5] is illegal; per key it is fine
    h = write_history(_ops((0, "invoke", "write", [0, 1]), (0, "ok", "write", [0, 1]),
                           (1, "invoke", "write", [1, 5]), (1, "ok", "write", [1, 5]),
                           (0, "invoke", "read", [0, None]), (0, "ok", "read", [0, 1])), tmp_path / "h.jsonl")
    assert main(["check", str(h), "--model", "register"]) == 3
    err = capsys.readouterr().err
    assert "[key value] pair" in err and "--independent" in err
    assert main(["check", str(h), "--model", "register", "--independent"]) == 0
    assert "linearizable" in capsys.readouterr().out


def test_a_streamed_register_check_of_pairs_suggests_independent_without_loading(tmp_path: Path, capsys,
                                                                                monkeypatch) -> None:
    # the same history checked as a big file is (streamed): the hint reads the file again, a block at a time
    from harness.commands import check as command
    monkeypatch.setattr(command, "STREAM_BYTES", 0)
    import harness.formats

    def whole(*a: object, **k: object) -> None:
        raise AssertionError("a streamed check loaded the whole history")
    monkeypatch.setattr(harness.formats, "load_history", whole)
    h = write_history(_ops((0, "invoke", "write", [0, 1]), (0, "ok", "write", [0, 1]),
                           (1, "invoke", "write", [1, 5]), (1, "ok", "write", [1, 5]),
                           (0, "invoke", "read", [0, None]), (0, "ok", "read", [0, 1])), tmp_path / "h.jsonl")
    assert main(["check", str(h), "--model", "register"]) == 3
    assert "--independent" in capsys.readouterr().err
    h = write_history(_ops((0, "invoke", "write", 1), (0, "ok", "write", 1),
                           (0, "invoke", "read", None), (0, "ok", "read", 2)), tmp_path / "p.jsonl")
    assert main(["check", str(h), "--model", "register"]) == 1


def test_pairs_that_are_the_registers_values_are_still_checked(tmp_path: Path, capsys) -> None:
    # valid as one register: no suggestion, the verdict stands
    h = write_history(_ops((0, "invoke", "write", [0, 1]), (0, "ok", "write", [0, 1]),
                           (0, "invoke", "read", None), (0, "ok", "read", [0, 1])), tmp_path / "h.jsonl")
    assert main(["check", str(h), "--model", "register"]) == 0
    # an invalid history of plain values gets its verdict, not a suggestion
    h = write_history(_ops((0, "invoke", "write", 1), (0, "ok", "write", 1),
                           (0, "invoke", "read", None), (0, "ok", "read", 2)), tmp_path / "p.jsonl")
    assert main(["check", str(h), "--model", "register"]) == 1
    assert "--independent" not in capsys.readouterr().err


@pytest.mark.slow  # one real 2 s run
def test_a_run_that_never_finished_is_unknown_with_its_op_counts_as_report_says(tmp_path: Path, capsys) -> None:
    store = tmp_path / "h"
    assert main(["run", "quorum-store", "--variant", "abd", "--nemesis", "none", "--time-limit", "2",
                 "--nodes", "3", "--seed", "1", "--store", str(store)]) == 0
    run_dir = (store / "quorum-store" / "latest").resolve()
    capsys.readouterr()
    # what a SIGKILLed harness leaves: the first results.json write (status running, no stats) ...
    results = json.loads((run_dir / "results.json").read_text())
    results.update(status="running", valid="unknown", checkers={}, stats={}, faults=[])
    (run_dir / "results.json").write_text(json.dumps(results))
    # ... and a history cut mid-line
    lines = (run_dir / "history.jsonl").read_text().splitlines(keepends=True)
    kept = lines[:len(lines) // 2]
    (run_dir / "history.jsonl").write_text("".join(kept) + lines[len(lines) // 2][:7])
    invocations = sum(1 for line in kept if '"invoke"' in line and '"nemesis"' not in line)

    assert main(["check", str(run_dir)]) == 2
    out = capsys.readouterr().out
    assert out.startswith("UNKNOWN: the run never finished: results.json still says running")
    assert f"ops {invocations} recorded" in out and "verdict unknown" in out and "VALID" not in out
    assert main(["check", str(run_dir), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] == "unknown" and doc["finished"] is False and doc["recorded_valid"] is True
    assert doc["ops"] == invocations and doc["status"] == "running"
    # the report of the same folder renders (exit 0) and calls it unknown too
    assert main(["report", str(run_dir), "--no-index"]) == 0
    assert "unknown" in (run_dir / "report.html").read_text().lower()
