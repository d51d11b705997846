"""The lane section: saga and 2PC anomalies drawn one lane per service, explained first.

Unit tests on the figure (lanes, per-lane fault bands, crash lines, escaping)
and on a report rendered from a hand-made run; then, slow, reports of real
runs of both targets (the nodes, the nemesis and the checker all real), read
as HTML and, when Chromium is installed, in a browser: the charts drawn, no
script error, the explanation within the first screen of its section.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.history import op_to_json
from harness.report import write_report
from harness.report.lanes import lanes_figure, trace_lines, trace_rows
from harness.report.render import render_report
from harness.report.rundata import load_run
from tests.checkers.test_lane_traces import WALL, saga_final
from tests.report.runs import XSS

ROOT = Path(__file__).resolve().parents[2]
LANES = ["client", "orchestrator", "order", "inventory", "payment"]


def trace(**kw: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "subject": "o17", "title": "order o17", "lanes": LANES, "end": 30.0,
        "events": [
            {"lane": "orchestrator", "at": 12.2, "end": 12.35, "to": "payment", "kind": "message", "outcome": "ok",
             "what": "processPayment → ok"},
            {"lane": "payment", "at": 12.3, "kind": "step", "outcome": "ok", "what": "charged 250 (c7)"},
            {"lane": "orchestrator", "at": 12.4, "kind": "crash", "outcome": "lost", "what": "✗ after-charge"},
            {"lane": "order", "at": 30.0, "kind": "state", "outcome": "lost", "what": XSS},
        ],
        "faults": [{"kind": "kill", "start": 12.38, "end": 14.0, "nodes": ["orchestrator"],
                    "what": "kill orchestrator", "lanes": ["orchestrator"]},
                   {"kind": "partition", "start": 12.0, "end": 13.0, "nodes": LANES[1:],
                    "what": "partition halves", "lanes": LANES[1:] + ["client"]}],
    }
    t.update(kw)
    return t


def test_the_figure_has_every_lane_in_order_even_an_empty_one() -> None:
    fig = lanes_figure(trace())
    assert fig is not None
    y = fig["layout"]["yaxis"]
    assert y["categoryarray"] == LANES and y["autorange"] == "reversed"
    assert fig["data"][0]["y"] == LANES  # client and inventory have no event, and are still drawn


def test_a_kill_is_shaded_on_its_lane_and_a_partition_of_every_lane_over_the_chart() -> None:
    shapes = lanes_figure(trace())["layout"]["shapes"]  # type: ignore[index]
    rects = [s for s in shapes if s["type"] == "rect"]
    (kill,) = [s for s in rects if s["yref"] == "y"]
    assert (kill["y0"], kill["y1"]) == (1 - 0.45, 1 + 0.45) and kill["x0"] == 12.38 and kill["x1"] == 14.0
    (part,) = [s for s in rects if s["yref"] == "paper"]
    assert part["x0"] == 12.0
    (line,) = [s for s in shapes if s["type"] == "line"]
    assert line["x0"] == 12.4  # the crash point, dashed across the lanes


def test_the_view_leaves_out_the_final_read_and_puts_what_was_left_at_its_edge() -> None:
    fig = lanes_figure(trace())
    lo, hi = fig["layout"]["xaxis"]["range"]  # type: ignore[index]
    assert lo < 12.2 and 12.4 < hi < 13.0  # not stretched to the final read at 30 s
    (state,) = [d for d in fig["data"] if d.get("name") == "left at the end"]  # type: ignore[union-attr]
    assert hi - 0.05 < state["x"][0] < hi


def test_every_label_is_escaped() -> None:
    text = json.dumps(lanes_figure(trace()))
    assert XSS not in text and "&lt;script&gt;" in text


def test_the_table_and_the_text_say_what_the_chart_says() -> None:
    rows = trace_rows(trace())
    assert [r.kind for r in rows] == ["fault", "message", "step", "fault", "crash", "state"]
    lines = trace_lines(trace())
    assert lines[0] == "order o17"
    assert any("payment" in ln and "charged 250 (c7)" in ln and "12.300" in ln for ln in lines)


def hand_made_saga_run(tmp_path: Path) -> Path:
    """A run folder whose history holds the client's place op and the final read of :func:`saga_final`."""
    from harness.history import Op
    from checkers.saga import SagaChecker
    from harness.history import History

    final = saga_final()
    ns = 1_000_000_000
    final_done = 30 * ns
    final["now"] = WALL + 30.0
    ops = [Op(index=0, time=12 * ns, process=0, type="invoke", f="place",
              value={"key": "k17", "user": "u3", "items": [["p1", 2]]}),
           Op(index=1, time=15 * ns, process=0, type="info", f="place",
              value={"key": "k17", "user": "u3", "items": [["p1", 2]]}, error="timed out"),
           Op(index=2, time=29 * ns, process=1, type="invoke", f="final", value={"wait": 1}),
           Op(index=3, time=final_done, process=1, type="ok", f="final", value=final)]
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.jsonl").write_text("".join(op_to_json(o) + "\n" for o in ops))
    res = SagaChecker().check(History.of(ops))
    (run / "results.json").write_text(json.dumps({
        "valid": False, "status": "done", "target": "saga-orders", "variant": "seed", "seed": 1,
        "checkers": {"saga": res.to_json()}, "faults": []}))
    return run


def test_a_saga_report_explains_first_then_draws_the_order_on_its_lanes(tmp_path: Path) -> None:
    page = render_report(load_run(hand_made_saga_run(tmp_path)), plotly_js="")
    section = page[page.index('id="anomaly-1"'):]
    why = section.index('class="explanation"')
    chart = section.index("sb-lanes")
    assert why < chart
    assert "order o17 (key k17, u3, 2 of p1, total 250, now PENDING)" in section
    assert "orchestrator crashed at crash point `after-charge` at 12.40 s" in section
    fig = re.search(r'sb-lanes"[^>]*><script type="application/json">(.*?)</script>', section, re.S)
    assert fig is not None and json.loads(fig.group(1))["layout"]["yaxis"]["categoryarray"] == LANES


# --- real runs ------------------------------------------------------------------------------------------


def real_run(tmp_path: Path, *args: str) -> tuple[Path, dict[str, Any]]:
    argv = [sys.executable, "-m", "harness.cli", "run", *args, "--store", str(tmp_path), "--seed", "3"]
    subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=240)
    (res,) = [p for p in tmp_path.glob("*/*/results.json") if not p.parent.is_symlink()]
    return res.parent, json.loads(res.read_text())


def section_of(page: str, kind: str) -> str:
    start = page.index(f'data-kind="{kind}"')
    end = page.find('<div class="anomaly"', start)
    return page[start:end if end > 0 else len(page)]


def browser_check(report: Path) -> None:
    """Drawn, no script error, and each explanation within the first 900 px of its section."""
    from tests.report.cdp import Browser, find_chromium

    exe = find_chromium()
    if exe is None:
        return
    with Browser(exe) as b:
        b.open(report)
        assert b.errors == []
        drawn = b.evaluate("document.querySelectorAll('div.sb-lanes.js-plotly-plot').length")
        assert drawn == b.evaluate("document.querySelectorAll('div.sb-lanes').length") and drawn > 0
        gaps = b.evaluate("Array.from(document.querySelectorAll('#anomalies .anomaly')).filter("
                          "a => a.querySelector('.explanation')).map(a => a.querySelector('.explanation')"
                          ".getBoundingClientRect().top - a.getBoundingClientRect().top)")
        assert gaps and max(gaps) < 900, gaps


@pytest.mark.slow
def test_a_real_seed_saga_run_reports_its_order_on_one_lane_per_service(tmp_path: Path) -> None:
    run, doc = real_run(tmp_path, "saga-orders", "--variant", "seed", "--nemesis", "kill:orchestrator",
                        "--time-limit", "4", "--rate", "20", "--option", "crash_points=after-charge",
                        "--option", "crash_p=1", "--option", "crash_once=1", "--option", "recovery=3")
    anomalies = doc["checkers"]["saga"]["anomalies"]
    cut = next(a for a in anomalies if a["kind"] == "order-not-terminal"
               and any(e["kind"] == "crash" for e in a["data"]["lanes"][0]["events"]))
    oid = cut["data"]["orders"][0]
    assert "crash point `after-charge`" in cut["data"]["explanation"]
    page = write_report(run).read_text()
    section = section_of(page, "order-not-terminal")
    assert f"order {oid} (key " in section
    fig = re.search(r'sb-lanes"[^>]*><script type="application/json">(.*?)</script>', section, re.S)
    assert fig is not None
    lanes = json.loads(fig.group(1))["layout"]["yaxis"]["categoryarray"]
    assert lanes == LANES
    browser_check(run / "report.html")


@pytest.mark.slow
def test_a_real_seed_2pc_run_reports_its_transaction_on_one_lane_per_participant(tmp_path: Path) -> None:
    run, doc = real_run(tmp_path, "two-pc", "--variant", "seed", "--nemesis", "kill:coordinator",
                        "--time-limit", "4", "--rate", "20", "--concurrency", "2",
                        "--option", "crash_points=after-decision", "--option", "crash_p=1")
    anomalies = doc["checkers"]["atomic-commit"]["anomalies"]
    blocked = next(a for a in anomalies if a["kind"] == "blocking")
    txn = blocked["data"]["txns"][0]
    (t, *_) = blocked["data"]["lanes"]
    assert t["lanes"] == ["client", "coordinator", "order", "inventory", "payment"]
    msgs = [e for e in t["events"] if e["kind"] == "message"]
    assert [(e["what"], e["to"]) for e in msgs][:3] == [("prepare → YES", p) for p in ("order", "inventory",
                                                                                        "payment")]
    assert "crash point `after-decision`" in blocked["data"]["explanation"]
    page = write_report(run).read_text()
    section = section_of(page, "blocking")
    assert f"transaction {txn}" in section and "sb-lanes" in section
    browser_check(run / "report.html")


def test_the_terminal_prints_the_same_explanation_and_rows(tmp_path: Path) -> None:
    from harness.anomaly_text import anomaly_lines

    doc = json.loads((hand_made_saga_run(tmp_path) / "results.json").read_text())
    (a,) = doc["checkers"]["saga"]["anomalies"]
    short = anomaly_lines(a, detail=False)
    assert short[1] == f"  why: {a['data']['explanation']}" and len(short) == 2
    full = anomaly_lines(a)
    assert "  order o17 (key k17, u3, 2 of p1, total 250, now PENDING)" in full
    assert any("payment" in ln and "charged 250 (c7)" in ln for ln in full)
