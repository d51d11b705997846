"""The ``splitbrain`` pytest fixture, used from a sample user suite run by pytest.

The sample suite is a real pytest session in a subprocess: the plugin is
loaded through its ``pytest11`` entry point as it is for users. Its conftest
overrides the ``splitbrain_runner`` fixture to hand back prepared run folders,
so these tests exercise the fixture, the outcome and the failure message;
the real runner is covered where the ``run`` command is.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.pytest_plugin import RunOutcome, RunSpec, Splitbrain, SplitbrainError, default_runner
from tests.report.runs import make_run

CONFTEST = '''
import shutil
from pathlib import Path

import pytest

TEMPLATES = Path({templates!r})


@pytest.fixture
def splitbrain_runner():
    def run(req):
        src = TEMPLATES / "quorum-store" / ("bad" if req.variant == "seed" else "good")
        dst = req.store / req.target / f"{{req.variant}}-{{req.seed}}"
        shutil.copytree(src, dst)
        return dst
    return run
'''

USER_TESTS = '''
def test_abd_holds(splitbrain):
    outcome = splitbrain.run("quorum-store", variant="abd", nemesis="partition", time_limit=20, seed=1)
    assert outcome.valid
    assert outcome.report.name == "report.html" and outcome.report.exists()


def test_seed_holds(splitbrain):
    assert splitbrain.run("quorum-store", variant="seed", nemesis="partition", time_limit=20, seed=2).valid
'''


def _pytest(suite: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=suite, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_user_suite_gates_on_the_verdict_and_names_the_report(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    make_run(templates, "bad", valid=False, variant="seed")
    make_run(templates, "good", valid=True, variant="abd")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(textwrap.dedent(CONFTEST.format(templates=str(templates))))
    (suite / "test_store.py").write_text(USER_TESTS)
    store = tmp_path / "store"
    r = _pytest(suite, f"--splitbrain-store={store}", f"--junitxml={tmp_path / 'j.xml'}")
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert "1 failed, 1 passed" in out
    bad_report = store / "quorum-store" / "seed-2" / "report.html"
    assert bad_report.exists() and (store / "quorum-store" / "abd-1" / "report.html").exists()
    # the assertion message carries the verdict, seed and report path ...
    assert f"<splitbrain INVALID seed=42 report={bad_report}>.valid" in out
    # ... and the test report has a section with the anomaly and how to reproduce it
    assert "splitbrain" in out and "linear: nonlinearizable: read of 7 by process 1" in out
    assert "reproduce: splitbrain run quorum-store --variant seed --seed 42" in out
    props = {p.get("value") for p in ET.parse(tmp_path / "j.xml").getroot().iter("property")
             if p.get("name") == "splitbrain_report"}
    assert str(bad_report) in props


@pytest.mark.slow
def test_the_default_store_is_histories_in_the_rootdir(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    make_run(templates, "good", valid=True, variant="abd")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(textwrap.dedent(CONFTEST.format(templates=str(templates))))
    (suite / "test_one.py").write_text(USER_TESTS.split("\n\n\ndef test_seed_holds")[0] + "\n")
    r = _pytest(suite)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (suite / "histories" / "quorum-store" / "abd-1" / "report.html").exists()


def test_the_outcome_is_truthy_only_when_valid(tmp_path: Path) -> None:
    sb = Splitbrain(runner=lambda req: make_run(tmp_path, f"r{req.seed}", valid=req.seed == 1), store=tmp_path)
    good, bad = sb.run("quorum-store", seed=1), sb.run("quorum-store", seed=2)
    assert isinstance(good, RunOutcome) and good and good.verdict == "valid"
    assert not bad and bad.verdict == "invalid" and bad.anomalies[0].startswith("linear: nonlinearizable")
    assert bad.report == tmp_path / "quorum-store" / "r2" / "report.html" and bad.report.exists()
    assert len(repr(bad)) < 240 and str(bad.report) in repr(bad)
    assert sb.outcomes == [good, bad]


def test_an_unknown_verdict_does_not_pass_the_gate(tmp_path: Path) -> None:
    def runner(req: RunSpec) -> Path:
        run = make_run(tmp_path, "r", valid=True)
        text = (run / "results.json").read_text().replace('"valid": true', '"valid": "unknown"', 1)
        (run / "results.json").write_text(text)
        return run

    o = Splitbrain(runner=runner, store=tmp_path).run("quorum-store")
    assert not o.valid and o.verdict == "unknown"


def test_unknown_settings_are_refused_before_running(tmp_path: Path) -> None:
    sb = Splitbrain(runner=lambda spec: pytest.fail("must not run"), store=tmp_path)
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['colour'\]"):
        sb.run("quorum-store", colour="red")


def test_the_default_runner_names_a_bad_target(tmp_path: Path) -> None:
    with pytest.raises(SplitbrainError, match=r"unknown target 'no-such-target-anywhere'"):
        default_runner(RunSpec(target="no-such-target-anywhere", store=tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_user_suite_runs_the_real_quorum_store(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_qs.py").write_text(textwrap.dedent('''
        def test_abd_is_linearizable_under_partitions(splitbrain):
            outcome = splitbrain.run("quorum-store", variant="abd", nemesis="partition", time_limit=2,
                                     seed=5, concurrency=4, nemesis_interval=0.5)
            assert outcome.valid, outcome.explain()
            assert outcome.seed == 5 and outcome.report.exists()
            assert outcome.results["variant"] == "abd"
    '''))
    r = _pytest(suite, "-s")
    assert r.returncode == 0, r.stdout + r.stderr
    (run_dir,) = [p for p in (suite / "histories" / "quorum-store").iterdir()
                  if not p.is_symlink() and (p / "results.json").exists()]
    assert (run_dir / "report.html").exists() and (run_dir / "history.jsonl").stat().st_size > 0
