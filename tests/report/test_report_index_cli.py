"""``write_index`` and ``splitbrain report RUN_DIR`` on hand-made run stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.report import write_index
from harness.report.index import scan_runs
from tests.report.runs import XSS, make_run


def test_the_index_lists_every_run_newest_first_with_links(tmp_path: Path) -> None:
    make_run(tmp_path, "20260101T000000Z", valid=True, seed=1)
    bad = make_run(tmp_path, "20260102T000000Z", valid=False, seed=2)
    (bad / "report.html").write_text("x")
    other = make_run(tmp_path, "20260103T000000Z", valid=True, target="other-store", seed=3)
    json_ = json.loads((other / "results.json").read_text())
    json_["started_at"] = "2026-01-03T00:00:00Z"
    (other / "results.json").write_text(json.dumps(json_))
    rows = scan_runs(tmp_path)
    assert [(r.target, r.seed, r.verdict) for r in rows][0] == ("other-store", "3", "valid")
    by_seed = {r.seed: r for r in rows}
    assert by_seed["2"].link == "quorum-store/20260102T000000Z/report.html" and by_seed["2"].anomalies == 1
    assert by_seed["1"].link == "quorum-store/20260101T000000Z/results.json" and not by_seed["1"].has_report
    html = write_index(tmp_path).read_text()
    assert html.count('<tr class="run"') == 3
    assert 'href="quorum-store/20260102T000000Z/report.html"' in html
    assert 'data-verdict="invalid"' in html and "1 found anomalies" in html
    assert XSS not in html


def test_the_latest_symlink_is_not_a_second_run(tmp_path: Path) -> None:
    make_run(tmp_path, "20260101T000000Z-ab12", valid=True)
    (tmp_path / "quorum-store" / "latest").symlink_to("20260101T000000Z-ab12")
    assert [r.run for r in scan_runs(tmp_path)] == ["20260101T000000Z-ab12"]


def test_an_unreadable_run_is_listed_not_hidden(tmp_path: Path) -> None:
    run = tmp_path / "t" / "r1"
    run.mkdir(parents=True)
    (run / "results.json").write_text("{torn")
    (row,) = scan_runs(tmp_path)
    assert row.verdict == "unknown" and row.problem and "unreadable results.json" in row.problem
    assert "unreadable results.json" in write_index(tmp_path).read_text()


def test_an_empty_store_says_so(tmp_path: Path) -> None:
    assert "No runs yet" in write_index(tmp_path).read_text()


def test_report_command_rewrites_report_and_index_and_exits_0_whatever_the_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = make_run(tmp_path, "r-bad", valid=False)
    good = make_run(tmp_path, "r-good", valid=True)
    assert main(["report", str(bad)]) == 0  # it rendered; the verdict is in the report (and check's exit)
    assert main(["report", str(good), "--no-index"]) == 0
    out = capsys.readouterr().out
    assert f"report: {bad / 'report.html'}" in out
    assert (bad / "report.html").stat().st_size > 1_000_000  # plotly.js inlined
    index = (tmp_path / "index.html").read_text()
    assert 'href="quorum-store/r-bad/report.html"' in index


def test_report_command_on_a_folder_that_is_no_run_exits_3(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert f"{tmp_path}/results.json: no results.json here" in err
    assert not (tmp_path / "report.html").exists()
