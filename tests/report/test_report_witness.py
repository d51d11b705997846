"""The report's words: faults as sides, figures as phrases, values in EDN, the runs index's columns."""

from __future__ import annotations

import json
from pathlib import Path

from harness.notation import value_text
from harness.report.faults import fault_text
from harness.report.index import scan_runs
from harness.report.render import figures_text
from tests.report.runs import make_run


def test_a_partition_is_its_sides_and_a_kill_its_nodes_never_json() -> None:
    assert fault_text({"kind": "halves", "summary": "n1 n2 | n3 n4 n5", "links": [["n1", "n3"]]}) == \
        "n1 n2 | n3 n4 n5 (halves)"
    assert fault_text({"nodes": ["n3", "n5"]}) == "n3 n5"
    assert fault_text(["n1"]) == "n1" and fault_text(None) == ""
    assert fault_text({"odd": [1, None]}) == '{"odd" [1 nil]}'


def test_figures_read_as_a_phrase_not_key_value_pairs() -> None:
    text = figures_text({"ops": 1732, "keys": 100, "elapsed_s": 0.015, "novel_figure": 3})
    assert text == "1732 ops, 100 keys, checked in 0.015 s, novel figure 3"
    assert "=" not in text


def test_values_have_one_notation() -> None:
    assert value_text([0, 877]) == "[0 877]" and value_text(None) == "nil"
    assert value_text(list(range(100)), limit=20) == "[0 1 2 3 4 5 6 7 ..."


def test_the_runs_index_gives_nemesis_duration_ops_and_verdict(tmp_path: Path) -> None:
    make_run(tmp_path, "bad", valid=False)
    (row,) = scan_runs(tmp_path)
    assert (row.nemesis, row.duration_s, row.ops, row.verdict) == ("partition kill", "0.085", "8", "invalid")


def test_the_stale_read_report_shows_the_witness_before_the_run_facts(tmp_path: Path) -> None:
    from harness.report import write_report
    from tests.checkers.test_witness import stale_read
    from checkers.linearizability import Linearizability

    ops = list(stale_read().ops)
    run = make_run(tmp_path, "stale", valid=False, ops=ops)
    res = json.loads((run / "results.json").read_text())
    res["checkers"]["linear"]["anomalies"] = [a.to_json() for a in Linearizability(model="register").check(
        stale_read()).anomalies]
    (run / "results.json").write_text(json.dumps(res))
    html = write_report(run).read_text()
    assert html.index("stale read: write 878 (p2 via n3) completed at 0.025 s") < html.index('id="run"')
    assert html.count("so the read cannot return the older 877") == 1  # the cause is said once
    assert html.index('class="ops witness"') < html.index('<details class="search">')
    assert 'href="logs/n4.log"' in html and "history.jsonl#:~:text=" in html
