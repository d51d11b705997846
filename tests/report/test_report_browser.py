"""The report in a real browser: headless Chromium over the DevTools protocol.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); skipped
with that hint when it is missing. One browser serves the module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from harness.report import write_report
from tests.report.cdp import Browser, find_chromium
from tests.report.runs import make_run

pytestmark = pytest.mark.slow

PLOTS_DRAWN = "document.querySelectorAll('div.sb-plot.js-plotly-plot').length"
PLOT_SLOTS = "document.querySelectorAll('div.sb-plot').length"
ANOMALIES = "document.querySelectorAll('#anomalies .anomaly').length"
ALERTS = "window.__alerts"
LEFT_SCRIPTS = "document.querySelectorAll('div.sb-plot script').length"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium not installed: `apt-get install -y chromium` (CI installs it)")
    with Browser(exe) as b:
        yield b


def test_the_detector_sees_console_errors_and_exceptions(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<script>console.error('bad thing'); alert(1)</script><script>nope();</script>")
    browser.open(page, settle_s=0.2)
    assert browser.evaluate(ALERTS) == ["1"]
    assert any("bad thing" in e for e in browser.errors)
    assert any("nope is not defined" in e for e in browser.errors)


def test_an_invalid_seed_run_report_opens_cleanly_with_its_anomaly_section(browser: Browser,
                                                                         tmp_path: Path) -> None:
    report = write_report(make_run(tmp_path, "bad", valid=False, variant="seed", real_checker=True))
    browser.open(report)
    assert browser.errors == []
    assert browser.evaluate(ANOMALIES) == 1
    assert browser.evaluate("document.querySelector('#anomalies .anomaly').dataset.kind") == "nonlinearizable"
    slots = browser.evaluate(PLOT_SLOTS)
    assert slots == 4 and browser.evaluate(PLOTS_DRAWN) == slots  # linear timeline + 3 charts
    assert browser.evaluate(LEFT_SCRIPTS) == 0
    assert browser.evaluate(ALERTS) == []  # the <script>alert(1)</script> values stayed text


def test_a_valid_run_report_opens_cleanly_without_anomalies(browser: Browser, tmp_path: Path) -> None:
    report = write_report(make_run(tmp_path, "good", valid=True, variant="abd"))
    browser.open(report)
    assert browser.errors == []
    assert browser.evaluate("document.getElementById('anomalies')") is None
    assert browser.evaluate(PLOTS_DRAWN) == browser.evaluate(PLOT_SLOTS) == 3
    assert "VALID" in browser.evaluate("document.querySelector('header h1').textContent")
