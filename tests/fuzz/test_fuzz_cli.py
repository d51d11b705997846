"""Fuzz: the commands that read files (check, convert, report, check RUN_DIR), in-process, on mutated real runs.

Whatever the input, a command exits 0 to 3 with no traceback and no checker
crash in what it prints; an input error (exit 3) names the file it is about.
The commands run in this process (``harness.cli.main`` with an argument
list, the path a user's command takes after argument parsing): a few
milliseconds a check instead of an interpreter start.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from tests.fuzz.mutations import SEED_RUN, fuzz_settings, mutated_bytes, mutated_jsonl, mutated_results, seed_lines
from tests.report.runs import make_run

JSONL_SEED = seed_lines(120)
RESULTS_SEED = json.loads((SEED_RUN / "results.json").read_text())


def run_cli(args: list[str]) -> tuple[int, str]:
    """Exit code and everything printed; fails on a traceback, a checker crash or a code outside 0-3."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text, text[-3000:]
    # A checker that finds the input unusable raises HistoryError, and check_safe files that as
    # a crash (unknown, exit 2) instead of an input error (exit 3): known, reported to the
    # checker API's owner; every other crash is a finding.
    assert "checker crashed" not in text.replace("checker crashed: HistoryError", ""), text[-3000:]
    assert code in (0, 1, 2, 3), (code, text[-3000:])
    return code, text


def seed_run(root: Path, *, lines: list[bytes] | None = None) -> Path:
    """A copy of the seed run in a fresh store under ``root`` (one per example: hypothesis reuses tmp_path)."""
    run = Path(tempfile.mkdtemp(dir=root)) / "store" / "quorum-store" / "run"
    run.mkdir(parents=True)
    (run / "results.json").write_bytes((SEED_RUN / "results.json").read_bytes())
    (run / "history.jsonl").write_bytes(b"\n".join(JSONL_SEED if lines is None else lines) + b"\n")
    return run


@fuzz_settings(60)
@given(data=mutated_jsonl(JSONL_SEED), fmt=st.sampled_from([".jsonl", ".edn"]))
def test_check_and_convert_a_mutated_history(tmp_path: Path, data: bytes, fmt: str) -> None:
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))
    src = tmp_path / "h.jsonl"
    src.write_bytes(data)
    if fmt == ".edn":  # the EDN side: convert what can be converted, then mutate that
        code, _ = run_cli(["convert", str(src), str(tmp_path / "h.edn")])
        if code != 0:
            return
        src = tmp_path / "h.edn"
    out = tmp_path / ("out" + (".edn" if fmt == ".jsonl" else ".jsonl"))
    code, text = run_cli(["convert", str(src), str(out)])
    if code == 3:  # the input's fault, or (NaN, infinity in EDN) the output format's
        assert str(src) in text or f"{out}: cannot write as EDN" in text, text
    code, text = run_cli(["check", str(src), "--model", "register", "--independent", "--timeout", "5"])
    if code == 3:
        assert str(src) in text


@fuzz_settings(40)
@given(data=st.data())
def test_check_a_mutated_edn_file(tmp_path: Path, data: Any) -> None:
    from harness.formats import op_to_edn, read_jsonl
    ops = read_jsonl(SEED_RUN / "history.jsonl").ops[:80]
    p = tmp_path / "h.edn"
    p.write_bytes(data.draw(mutated_bytes("".join(op_to_edn(o) + "\n" for o in ops).encode())))
    code, text = run_cli(["check", str(p), "--model", "register", "--independent", "--timeout", "5"])
    if code == 3:
        assert str(p) in text


@fuzz_settings(60)
@given(history=mutated_jsonl(JSONL_SEED), results=mutated_results(RESULTS_SEED),
       which=st.sampled_from(["history", "results", "both"]))
def test_check_a_mutated_run_folder(tmp_path: Path, history: bytes, results: bytes, which: str) -> None:
    run = seed_run(tmp_path)
    if which != "results":
        (run / "history.jsonl").write_bytes(history)
    if which != "history":
        (run / "results.json").write_bytes(results)
    run_cli(["check", str(run)])


@fuzz_settings(12)
@given(history=mutated_jsonl(seed_lines(40)), results=mutated_results(RESULTS_SEED),
       which=st.sampled_from(["history", "results", "both"]))
def test_report_a_mutated_run_folder(tmp_path: Path, history: bytes, results: bytes, which: str) -> None:
    run = seed_run(tmp_path, lines=seed_lines(40))
    if which != "results":
        (run / "history.jsonl").write_bytes(history)
    if which != "history":
        (run / "results.json").write_bytes(results)
    code, text = run_cli(["report", str(run), "--no-index"])
    if code != 3:
        html = (run / "report.html").read_text(encoding="utf-8")
        assert "\u202e" not in html and "\u2066" not in html  # bidi controls shown escaped, never live


@fuzz_settings(15)
@given(data=st.data())
def test_report_a_mutated_small_run(tmp_path: Path, data: Any) -> None:
    """The report tests' hand-made run (every section, hostile strings) with one file mutated."""
    run = make_run(Path(tempfile.mkdtemp(dir=tmp_path)) / "store", "r", valid=False)
    name = data.draw(st.sampled_from(["history.jsonl", "results.json"]))
    (run / name).write_bytes(data.draw(mutated_bytes((run / name).read_bytes())))
    run_cli(["report", str(run)])


@pytest.mark.parametrize("command", ["convert", "report"])
def test_an_output_name_too_long_is_an_input_error(tmp_path: Path, command: str) -> None:
    run = seed_run(tmp_path)
    long = tmp_path / ("x" * 300 + (".edn" if command == "convert" else ".html"))
    args = ["convert", str(run / "history.jsonl"), str(long)] if command == "convert" else \
        ["report", str(run), "--no-index", "--out", str(long)]
    code, text = run_cli(args)
    assert code == 3 and "too long" in text.lower(), text


def test_an_input_name_too_long_is_an_input_error(tmp_path: Path) -> None:
    code, text = run_cli(["check", str(tmp_path / ("y" * 300 + ".jsonl")), "--model", "register"])
    assert code == 3, text


def test_an_empty_history_is_unknown_not_valid(tmp_path: Path) -> None:
    for text in ("", '{"index": 0, "process": "nemesis", "type": "info", "f": "kill"}\n'):
        p = tmp_path / "h.jsonl"
        p.write_text(text)
        code, out = run_cli(["check", str(p), "--model", "register"])
        assert code == 2 and "empty history" in out, out


def test_the_seed_run_checks_and_reports(tmp_path: Path) -> None:
    """Unmutated, the seed run is read in full (else the fuzzing above only tests errors)."""
    run = seed_run(tmp_path)
    assert run_cli(["check", str(run)])[0] in (0, 1)
    assert run_cli(["report", str(run), "--no-index"])[0] in (0, 1)
    shutil.rmtree(run)
