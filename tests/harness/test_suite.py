"""Suites: parsing and matrix expansion (pure), errors as FILE:LINE, and the repository's suite run short."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from harness.suite import SuiteError, load_suite, parse_suite

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
[suite]
name = "demo"

[defaults]
target = "quorum-store"
time_limit = 10

[[entry]]
variant = "seed"
nemesis = ["partition", "kill,pause"]
seed = [1, 2]
expect = "invalid"

[[entry]]
variant = "abd"
time_limit = [5, 20]
options = {keys = 3, w = "3"}
expect = ["valid", "unknown"]
"""


def _error(text: str) -> SuiteError:
    with pytest.raises(SuiteError) as e:
        parse_suite(text, "s.toml")
    return e.value


def test_each_entry_expands_to_the_product_of_its_lists_with_the_defaults_underneath() -> None:
    s = parse_suite(GOOD, "s.toml")
    assert s.name == "demo"
    assert [r.id for r in s.runs] == [
        "quorum-store/seed/partition/seed=1", "quorum-store/seed/partition/seed=2",
        "quorum-store/seed/kill,pause/seed=1", "quorum-store/seed/kill,pause/seed=2",
        "quorum-store/abd/default-nemesis/5s", "quorum-store/abd/default-nemesis/20s",
    ]
    first, last = s.runs[0], s.runs[-1]
    assert first.time_limit == 10.0 and first.expect == ("invalid",) and first.line == 8
    assert last.time_limit == 20.0 and last.options == {"keys": "3", "w": "3"} and last.line == 14
    assert last.expects("unknown") and last.expects("valid") and not last.expects("invalid")
    assert not first.expects("error")


@pytest.mark.parametrize("text, line, message", [
    ("[[entry]]\ntarget = \"quorum-store\"\nexpect = valid\n", 3, "not valid TOML"),
    ("[[entry]]\ntarget = \"quorum-store\"\nexpect = \"valid\"\nvariants = [\"seed\"]\n", 4,
     "unknown key 'variants' in [[entry]]"),
    ("[defaults]\ntimelimit = 3\n[[entry]]\ntarget = \"x\"\nexpect = \"valid\"\n", 2,
     "unknown key 'timelimit' in [defaults]"),
    ("[suites]\nname = \"x\"\n", 1, "unknown section or key 'suites'"),
    ("[[entry]]\ntarget = \"q\"\nexpect = \"valid\"\n[[entry]]\ntarget = \"q\"\nseed = \"one\"\nexpect = \"valid\"\n",
     6, "seed must be an integer seed (or a list of them), not 'one'"),
    ("[[entry]]\ntarget = \"q\"\nexpect = \"broken\"\n", 3, "expect must be one of valid, invalid, unknown"),
    ("[[entry]]\ntarget = \"q\"\nnemesis = []\nexpect = \"valid\"\n", 3, "nemesis is an empty list"),
    ("[defaults]\ntarget = \"q\"\n\n[[entry]]\nvariant = \"abd\"\n", 4, "entry has no 'expect'"),
])
def test_a_bad_suite_names_its_file_and_line(text: str, line: int, message: str) -> None:
    e = _error(text)
    assert (e.path, e.line) == ("s.toml", line), str(e)
    assert message in e.message
    assert str(e).startswith(f"s.toml:{line}: ")


def test_no_entry_and_duplicate_runs_are_errors() -> None:
    assert "at least one entry" in _error("[suite]\nname = \"x\"\n").message
    dup = "[[entry]]\ntarget = \"q\"\nexpect = \"valid\"\nseed = [1, 1]\n"
    assert "more than once: q/default-nemesis/seed=1" in _error(dup).message


def test_the_repository_suite_covers_both_variants_under_each_fault_kind() -> None:
    s = load_suite(ROOT / "suites" / "quorum-store.toml")
    got = {(r.variant, r.nemesis): r.expect for r in s.runs}
    assert got == {(v, f): ("invalid",) if v == "seed" else ("valid",)
                   for v in ("seed", "abd") for f in ("partition", "kill", "pause")}


def test_the_command_reports_bad_files_and_unknown_names_as_file_line_with_exit_3(tmp_path: Path,
                                                                                 capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[entry]]\ntarget = \"quorum-store\"\nexpect = \"valid\"\nnemesis = \"flood\"\n")
    assert main(["suite", str(bad), "--store", str(tmp_path / "h")]) == 3
    err = capsys.readouterr().err
    assert f"{bad}:1: quorum-store/flood: unknown fault(s) ['flood']" in err
    bad.write_text("[[entry]]\ntarget = \"quorum-store\"\nexpect = \"valid\"\noptions = {colour = 1}\n")
    assert main(["suite", str(bad), "--store", str(tmp_path / "h")]) == 3
    assert "unknown --option colour" in capsys.readouterr().err
    assert main(["suite", str(tmp_path / "missing.toml")]) == 3
    assert "cannot read the suite file" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()  # nothing ran


def test_isolated_runs_share_the_jobs_and_others_run_alone() -> None:
    from harness.commands.suite import can_start

    assert can_start(True, [], 2) and can_start(False, [], 2)
    assert can_start(True, [True], 2) and not can_start(True, [True, True], 2)
    assert not can_start(False, [True], 2)   # a docker run waits for an empty slate ...
    assert not can_start(True, [False], 2)   # ... and holds it
    assert not can_start(True, [True], 1)


def test_list_prints_the_expanded_matrix(capsys) -> None:
    assert main(["suite", str(ROOT / "suites" / "quorum-store.toml"), "--list"]) == 0
    out = capsys.readouterr().out
    assert "quorum-store/seed/pause/seed=1  expect invalid" in out and "6 run(s)" in out


@pytest.mark.slow  # six real 3 s runs, two at a time: about 40 s
def test_the_repository_suite_in_a_short_form_writes_a_summary_and_junit_and_fails_on_a_surprise(
        tmp_path: Path, capsys) -> None:
    out = tmp_path / "summary"
    junit = tmp_path / "ci" / "junit.xml"
    code = main(["suite", str(ROOT / "suites" / "quorum-store.toml"), "--time-limit", "3",
                 "--nemesis-interval", "1", "--jobs", "2", "--store", str(tmp_path / "h"),
                 "--out", str(out), "--junit", str(junit)])
    printed = capsys.readouterr().out
    verdicts = dict(re.findall(r"done \d/6: (quorum-store/\S+): (valid|invalid|unknown|error) ", printed))
    assert len(verdicts) == 6, printed
    # abd is linearizable: valid whatever the faults; a 3 s seed run may or may not catch its bug
    assert all(verdicts[f"quorum-store/abd/{f}/seed=1"] == "valid" for f in ("partition", "kill", "pause"))
    surprises = [i for i, v in verdicts.items() if v != ("invalid" if "/seed/" in i else "valid")]
    assert code == (1 if surprises else 0), printed
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "6" and int(suite.get("failures", 0)) == len(surprises)
    assert (out / "junit.xml").read_text() == junit.read_text()
    page = (out / "index.html").read_text()
    for run_id in verdicts:
        assert run_id in page
    links = re.findall(r'href="([^"]+)"', page)
    reports = [p for p in links if p.endswith("report.html")]
    assert len(reports) == 6 and all((out / p).is_file() for p in links)
    banner = f"{len(surprises)} of 6 run(s) did not get the expected verdict" if surprises \
        else "Every run got the expected verdict"
    assert banner in page


@pytest.mark.slow  # two real runs, stopped after a few seconds
def test_sigterm_stops_the_running_runs_which_keep_their_folders_and_the_summary_says_so(tmp_path: Path) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    suite = tmp_path / "s.toml"
    suite.write_text('[defaults]\ntarget = "quorum-store"\nbackend = "local"\nnemesis = "none"\n'
                     'time_limit = 60\nnodes = 3\n\n[[entry]]\nvariant = "abd"\nseed = [1, 2, 3]\nexpect = "valid"\n')
    out = tmp_path / "summary"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "suite", str(suite), "--jobs", "2",
                             "--store", str(tmp_path / "h"), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((tmp_path / "h").glob("quorum-store/*/history.jsonl"))) < 2:
        time.sleep(0.2)
    time.sleep(2)
    os.kill(proc.pid, signal.SIGTERM)
    printed, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, printed
    runs = [p for p in (tmp_path / "h" / "quorum-store").iterdir() if not p.is_symlink()]
    assert len(runs) == 2, printed  # the third never started
    for run in runs:
        assert json.loads((run / "results.json").read_text())["status"] == "interrupted"
    page = (out / "index.html").read_text()
    assert "Interrupted" in page and "not run" in page
    assert ET.parse(out / "junit.xml").getroot().get("tests") == "3"
