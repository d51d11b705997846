"""Run folders, results.json, the replay command, and re-checking a stored run."""

from __future__ import annotations

import datetime as dt
import io
import json
import shlex
from pathlib import Path

import pytest

from harness.history import Op, op_to_json
from harness.store import (
    RunInfo, RunStoreError, new_run_dir, read_results, recheck_run, replay_command, results_document,
    verdict_text, write_results,
)

INFO = RunInfo(run_id="20260101T000000-abcd", target="quorum-store", variant="seed", backend="local",
               workload="register", nodes=("n1", "n2", "n3"), nemesis=("kill", "partition"),
               time_limit_s=12.5, concurrency=4, seed=42, rate=50.0, nemesis_interval_s=3.0,
               options={"keys": "2", "w": "2"}, started_at="2026-01-01T00:00:00+00:00")


def test_run_dirs_are_unique_have_logs_and_latest_follows(tmp_path):
    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    id1, d1 = new_run_dir(tmp_path, "qs", now=now)
    id2, d2 = new_run_dir(tmp_path, "qs", now=now)
    assert id1 != id2 and id1.startswith("20260102T030405-") and len(id1) == len("20260102T030405-abcd")
    assert d1 == tmp_path / "qs" / id1 and (d1 / "logs").is_dir()
    latest = tmp_path / "qs" / "latest"
    assert latest.is_symlink() and latest.resolve() == d2.resolve()
    assert not [p for p in (tmp_path / "qs").iterdir() if p.name.startswith(".latest")]


def test_unwritable_store_is_an_error_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunStoreError, match="cannot create a run folder"):
        new_run_dir(blocker, "qs")


def test_replay_command_parses_back_to_the_same_settings():
    from harness.commands.run import run

    argv = shlex.split(replay_command(INFO))
    assert argv[:3] == ["splitbrain", "run", "quorum-store"]
    ctx = run.make_context("run", argv[2:])
    p = ctx.params
    assert (p["target_name"], p["variant"], p["backend"], p["nodes"], p["workload"]) == \
        ("quorum-store", "seed", "local", 3, "register")
    assert (p["nemesis_"], p["time_limit"], p["concurrency"], p["rate"], p["seed"], p["nemesis_interval"]) == \
        ("kill,partition", 12.5, 4, 50.0, 42, 3.0)
    assert sorted(p["option_pairs"]) == ["keys=2", "w=2"]


def test_replay_command_for_no_faults_says_none_and_quotes_odd_values():
    info = RunInfo(**{**{f: getattr(INFO, f) for f in INFO.__slots__}, "nemesis": (), "rate": None,
                      "options": {"label": "a b"}})
    cmd = replay_command(info)
    assert "--nemesis none" in cmd and "--rate" not in cmd and "'label=a b'" in cmd
    assert "--nemesis-interval" not in cmd


def test_results_round_trip_and_schema(tmp_path):
    doc = results_document(INFO, status="running")
    write_results(tmp_path, doc)
    back = read_results(tmp_path)
    assert back == json.loads(json.dumps(doc))
    for key in ("valid", "seed", "run_id", "target", "variant", "backend", "workload", "nodes", "nemesis",
                "time_limit_s", "concurrency", "rate", "command", "started_at", "checkers", "stats", "faults"):
        assert key in back
    assert back["valid"] == "unknown" and back["command"] == replay_command(INFO)
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left


def test_read_results_errors_name_the_file(tmp_path):
    with pytest.raises(RunStoreError, match="results.json: no such file; .* is not a run folder"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text('{"valid": tru')
    with pytest.raises(RunStoreError, match=r"results.json:1: not JSON"):
        read_results(tmp_path)


def _run_folder(tmp_path: Path, ops: list[Op], *, torn: bool = False) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    text = "".join(op_to_json(o) + "\n" for o in ops)
    if torn:
        text += '{"index": 99, "type": "inv'
    (d / "history.jsonl").write_text(text)
    write_results(d, results_document(INFO, status="done"))
    return d


def _ops(read_value: int | None) -> list[Op]:
    raw = [("invoke", 0, "write", [0, 1]), ("ok", 0, "write", [0, 1]),
           ("invoke", 1, "read", [0, None]), ("ok", 1, "read", [0, read_value])]
    return [Op(index=i, time=i * 10, type=t, process=p, f=f, value=v) for i, (t, p, f, v) in enumerate(raw)]


def test_recheck_valid_run_returns_0_and_rewrites_nothing(tmp_path):
    d = _run_folder(tmp_path, _ops(1), torn=True)
    before = (d / "results.json").read_text()
    out = io.StringIO()
    assert recheck_run(d, out=out) == 0
    assert out.getvalue().startswith("VALID") and str(d) in out.getvalue()
    assert (d / "results.json").read_text() == before


def test_recheck_invalid_run_returns_1_prints_seed_and_replay_and_can_write(tmp_path):
    d = _run_folder(tmp_path, _ops(7))  # read 7: never written
    out = io.StringIO()
    assert recheck_run(d, out=out, write=True) == 1
    text = out.getvalue()
    assert text.startswith("INVALID") and "seed 42" in text and replay_command(INFO) in text
    assert read_results(d)["valid"] is False


def test_recheck_json_output(tmp_path):
    d = _run_folder(tmp_path, _ops(1))
    out = io.StringIO()
    assert recheck_run(d, json_output=True, out=out) == 0
    doc = json.loads(out.getvalue())
    assert doc["valid"] is True and doc["checkers"]


def test_recheck_of_a_folder_that_is_not_a_run_returns_3(tmp_path):
    err = io.StringIO()
    assert recheck_run(tmp_path, err=err) == 3
    assert "not a run folder" in err.getvalue()


def test_recheck_of_an_unknown_target_returns_3(tmp_path):
    d = _run_folder(tmp_path, _ops(1))
    doc = read_results(d)
    doc["target"] = "no-such-target"
    write_results(d, doc)
    err = io.StringIO()
    assert recheck_run(d, err=err) == 3
    assert "unknown target 'no-such-target'" in err.getvalue()


def test_verdict_text_valid_has_no_replay_line():
    doc = results_document(INFO, status="done")
    doc["valid"] = True
    text = verdict_text(doc, "/x")
    assert text.startswith("VALID") and "replay" not in text and "run folder: /x" in text
