"""The command line's own words: exit codes in every --help, --version, one vocabulary, honest summaries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import COMMANDS, main
from harness.formats import write_history
from harness.history import NEMESIS, Op

SUBCOMMANDS = sorted(set(COMMANDS) - {"targets"}) + [["images", "build"], ["images", "list"]]


@pytest.mark.parametrize("argv", [[c] if isinstance(c, str) else c for c in SUBCOMMANDS], ids=str)
def test_every_command_help_lists_its_exit_codes(argv: list[str], capsys) -> None:
    assert main([*argv, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    codes = re.search(r"Exit codes?: (.*)", text)
    assert codes, text
    assert re.search(r"\b0 ", codes.group(1)) and re.search(r"\b[34] ", codes.group(1)), codes.group(1)


def test_the_top_level_help_explains_exit_codes_and_version_prints_one(capsys) -> None:
    assert main(["--help"]) == 0
    assert "Exit codes, for every command: 0 valid, 1 anomaly found" in " ".join(capsys.readouterr().out.split())
    assert main(["--version"]) == 0
    assert re.fullmatch(r"splitbrain \d+\.\d+\.\d+.*\n", capsys.readouterr().out)


def test_convert_counts_events_and_ops(tmp_path: Path, capsys) -> None:
    ops = [Op(index=0, process=0, type="invoke", f="write", value=1), Op(index=1, process=0, type="ok", f="write", value=1),
           Op(index=2, process=NEMESIS, type="info", f="kill", value={"nodes": ["n1"]}),
           Op(index=3, process=NEMESIS, type="info", f="kill", value={"nodes": ["n1"]})]
    src = write_history(ops, tmp_path / "h.jsonl")
    assert main(["convert", str(src), str(tmp_path / "h.edn")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 4 events (1 ops) to {tmp_path / 'h.edn'}"


def test_clean_without_docker_says_nothing_of_docker(tmp_path: Path, capsys) -> None:
    assert main(["clean", "--no-docker", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "clean: removed 0 local leftover(s)" in out and "Docker" not in out and "docker:" not in out


def test_backend_help_lists_only_backends_that_exist(capsys) -> None:
    import importlib

    from harness.backends import BACKENDS

    for spec in BACKENDS.values():
        importlib.import_module(spec.split(":")[0])  # each listed backend's module is there
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "ssh" not in text and all(name in text for name in BACKENDS)


def test_the_seed_is_said_to_fix_the_schedule_not_the_timing() -> None:
    from harness.store import results_document, verdict_text
    from tests.harness.test_store import INFO

    doc = results_document(INFO, status="done")
    assert "op mix and the fault schedule, not the timing" in doc["seed_fixes"]
    doc["valid"] = False
    text = verdict_text(doc, "/x")
    assert "seed 42 (the seed fixes the op mix and the fault schedule, not the timing" in text
    assert "replay with" not in text
