"""An Elle cycle in the HTML report: the ring of transactions, edges labelled by kind, the prose beside it."""

from __future__ import annotations

import json
from pathlib import Path

from checkers.elle import ListAppend
from harness.history import op_to_json
from harness.report import write_report
from harness.report.sections import DEFAULT_SECTIONS, ElleCycleSection
from harness.report.sections.elle import cycle_svg
from tests.report.runs import results
from tests.support.txn_histories import TxnLog


def test_cycle_kinds_have_the_elle_section() -> None:
    assert isinstance(DEFAULT_SECTIONS["G-single"], ElleCycleSection)
    assert isinstance(DEFAULT_SECTIONS["G2-item-realtime"], ElleCycleSection)


def test_svg_labels_each_edge_and_escapes() -> None:
    svg = str(cycle_svg(["T1", "<T2>"], [{"from": "T1", "to": "<T2>", "type": "wr"},
                                          {"from": "<T2>", "to": "T1", "type": "rw"}]))
    assert svg.count("stroke-width=\"2\"") == 2 and ">wr</text>" in svg and ">rw</text>" in svg
    assert "&lt;T2&gt;" in svg and "<T2>" not in svg


def test_a_run_with_a_g_single_shows_the_ring_and_the_prose(tmp_path: Path) -> None:
    log = TxnLog()
    log.invoke(0, [["append", "x", 1], ["append", "y", 1]]).invoke(1, [["r", "x", [1]], ["r", "y", []]])
    log.complete(0).complete(1).txn(2, [["r", "y", [1]]])
    h = log.history()
    res = ListAppend().check(h)
    run = tmp_path / "list-append" / "r1"
    run.mkdir(parents=True)
    (run / "history.jsonl").write_text("".join(op_to_json(o) + "\n" for o in h.ops))
    doc = results(valid=False)
    doc["checkers"] = {"elle": res.to_json()}
    (run / "results.json").write_text(json.dumps(doc))
    html = write_report(run).read_text()
    section = html[html.index('data-kind="G-single"'):]
    assert "<svg" in section and ">wr</text>" in section and ">rw</text>" in section
    assert "T2 observed T1&#39;s append of 1 to key :x" in section
    assert "a contradiction!" in section
