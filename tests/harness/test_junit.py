"""JUnit XML: one test case per checker, parsed back with xml.etree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.junit import junit_xml, write_junit


def _results(*, seed: int = 7, linear: Any = True, anomalies: list[dict[str, Any]] | None = None,
             error: str | None = None) -> dict[str, Any]:
    lin: dict[str, Any] = {"checker": "linear", "valid": linear, "anomalies": anomalies or [],
                           "stats": {"elapsed_s": 0.25}}
    if error:
        lin["error"] = error
    return {"valid": linear, "seed": seed, "target": "quorum-store", "variant": "seed",
            "backend": "local", "command": f"splitbrain run quorum-store --variant seed --seed {seed}",
            "started_at": "2026-01-01T00:00:00Z", "stats": {"duration_s": 3.5},
            "checkers": {"linear": lin, "stats": {"checker": "stats", "valid": True, "anomalies": []}}}


def _parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_a_valid_run_is_passing_testcases(tmp_path: Path) -> None:
    root = _parse(write_junit(_results(), tmp_path / "out" / "junit.xml"))
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "0"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "splitbrain quorum-store/seed seed=7" and suite.get("time") == "3.500"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["linear", "stats"]
    assert cases[0].get("classname") == "splitbrain.quorum-store.seed" and cases[0].get("time") == "0.250"
    assert all(not list(c) for c in cases)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == "7" and props["command"].startswith("splitbrain run quorum-store")


def test_an_anomaly_is_a_failure_carrying_every_summary_report_and_command(tmp_path: Path) -> None:
    anomalies = [{"kind": "nonlinearizable", "summary": "read 7 by p1 <bad> & \x01 worse\x00"},
                 {"kind": "stale-read", "summary": "second one"}]
    path = write_junit(_results(linear=False, anomalies=anomalies), tmp_path / "j.xml",
                       reports=[Path("/runs/r1/report.html")])
    root = _parse(path)
    assert root.get("failures") == "1" and root.get("errors") == "0"
    failure = root.find("./testsuite/testcase[@name='linear']/failure")
    assert failure is not None and failure.get("type") == "anomaly"
    assert failure.get("message") == "nonlinearizable: read 7 by p1 <bad> & \ufffd worse\ufffd"
    text = failure.text or ""
    assert "stale-read: second one" in text
    assert "report: /runs/r1/report.html" in text
    assert "reproduce: splitbrain run quorum-store --variant seed --seed 7" in text


def test_unknown_is_an_error_with_the_reason(tmp_path: Path) -> None:
    root = _parse(write_junit(_results(linear="unknown", error="search budget spent"), tmp_path / "j.xml"))
    err = root.find("./testsuite/testcase[@name='linear']/error")
    assert err is not None and err.get("type") == "unknown" and err.get("message") == "search budget spent"
    assert root.get("errors") == "1" and root.get("failures") == "0"


def test_repeat_runs_are_one_suite_each(tmp_path: Path) -> None:
    runs = [_results(seed=1), _results(seed=2, linear=False, anomalies=[{"kind": "k", "summary": "s"}]),
            _results(seed=3)]
    root = _parse(write_junit(runs, tmp_path / "j.xml"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"splitbrain quorum-store/seed seed={i}" for i in (1, 2, 3)]
    assert root.get("tests") == "6" and root.get("failures") == "1"


def test_a_run_with_no_checker_results_is_one_verdict_case(tmp_path: Path) -> None:
    res = _results()
    res["checkers"] = {}
    res["valid"] = "unknown"
    root = _parse(write_junit(res, tmp_path / "j.xml"))
    case = root.find("./testsuite/testcase")
    assert case is not None and case.get("name") == "verdict" and case.find("error") is not None


def test_report_paths_must_match_the_runs() -> None:
    with pytest.raises(ValueError, match="2 runs but 1 report paths"):
        junit_xml([_results(), _results()], reports=[None])
