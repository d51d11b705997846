"""The report page, rendered from hand-made run folders (literal histories)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from checkers.api import Anomaly
from harness.history import Op
from harness.report import RunDirError, write_report
from harness.report.embed import script_json
from harness.report.render import render_report
from harness.report.rundata import load_run
from harness.report.sections import SectionContext
from tests.report.runs import MS, XSS, make_run

STUB_JS = "/* plotly stub */"


class Page(HTMLParser):
    """Elements by id and class, anomaly kinds, and every <script>'s type and text."""

    def __init__(self, text: str):
        super().__init__()
        self.ids: set[str] = set()
        self.classes: list[str] = []
        self.kinds: list[str] = []
        self.scripts: list[tuple[str | None, str]] = []
        self.text: list[str] = []
        self._script: str | None | bool = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])  # type: ignore[arg-type]
        self.classes += (a.get("class") or "").split()
        if "anomaly" in (a.get("class") or "").split():
            self.kinds.append(a.get("data-kind") or "")
        if tag == "script":
            self._script = a.get("type")
            self.scripts.append((a.get("type"), ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False

    def handle_data(self, data: str) -> None:
        if self._script is not False:
            t, s = self.scripts[-1]
            self.scripts[-1] = (t, s + data)
        else:
            self.text.append(data)

    @property
    def figures(self) -> list[dict[str, Any]]:
        return [json.loads(s) for t, s in self.scripts if t == "application/json"]


def render(run_dir: Path, **kw: Any) -> tuple[str, Page]:
    html = render_report(load_run(run_dir), plotly_js=STUB_JS, **kw)
    return html, Page(html)


def test_an_invalid_run_shows_its_verdicts_facts_and_anomaly_section(tmp_path: Path) -> None:
    html, page = render(make_run(tmp_path, "bad", valid=False))
    assert "<title>splitbrain: quorum-store seed — INVALID</title>" in html
    assert re.search(r'data-checker="linear" data-verdict="invalid"', html)
    assert re.search(r'data-checker="stats" data-verdict="valid"', html)
    assert {"verdicts", "run", "anomalies", "faults", "charts", "command"} <= page.ids
    assert page.kinds == ["nonlinearizable"]
    text = " ".join(page.text)
    assert "splitbrain run quorum-store --variant seed --seed 42" in text
    for fact in ("local", "n1, n2, n3", "register"):
        assert fact in text


def test_a_valid_run_has_no_anomaly_section(tmp_path: Path) -> None:
    html, page = render(make_run(tmp_path, "good", valid=True))
    assert "<title>splitbrain: quorum-store seed — VALID</title>" in html
    assert "anomalies" not in page.ids and page.kinds == []
    assert 'class="valid"' in html


def test_every_value_from_the_run_is_escaped(tmp_path: Path) -> None:
    html, page = render(make_run(tmp_path, "bad", valid=False))
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # our scripts only: the plotly bundle, the bootstrap, and one inert JSON block per figure
    assert sum(1 for t, _ in page.scripts if t is None) == 2
    assert all(t in (None, "application/json") for t, _ in page.scripts)
    assert STUB_JS in page.scripts[-2][1]
    # in figure JSON (hover text), HTML-escaped for Plotly and JSON-escaped for the script element
    assert any("&lt;script&gt;alert(1)" in json.dumps(f) for f in page.figures)
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html


def test_json_in_a_script_element_cannot_close_it() -> None:
    text = str(script_json({"v": "</script><script>alert(1)</script>", "w": "a\u2028b&"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"v": "</script><script>alert(1)</script>", "w": "a\u2028b&"}


def test_the_linear_section_shows_prefix_states_failing_and_concurrent_ops(tmp_path: Path) -> None:
    html, page = render(make_run(tmp_path, "bad", valid=False))
    section = html[html.index('data-kind="nonlinearizable"'):html.index('id="faults"')]
    assert "Longest linearizable prefix (3 operations, in linearization order)" in section
    assert "The operation that breaks it" in section
    assert "Concurrent with the failing operation (2)" in section
    assert "Other details" in section and "extra_field" in section and "cas-register" in section
    # the Porcupine-like timeline: a prefix, a concurrent and a breaking group
    lin = [f for f in page.figures if any(t.get("name") == "breaks linearizability" for t in f["data"])]
    assert len(lin) == 1
    names = {t.get("name") for t in lin[0]["data"]}
    assert {"linearizable prefix", "concurrent with the failing op", "breaks linearizability"} <= names
    labels = [x for t in lin[0]["data"] if t.get("mode") == "text" for x in t["text"]]
    assert labels[:3] == ["#1", "#2", "#3"]
    hovers = " ".join(h for t in lin[0]["data"] if t.get("mode") == "text" for h in t["hovertext"])
    assert "model state after: 2" in hovers


def test_the_real_linearizability_checkers_anomaly_is_explained(tmp_path: Path) -> None:
    run = make_run(tmp_path, "bad", valid=False, real_checker=True)
    (anomaly,) = json.loads((run / "results.json").read_text())["checkers"]["linear"]["anomalies"]
    data = anomaly["data"]
    html, page = render(run)
    assert page.kinds == ["nonlinearizable"]
    section = html[html.index('data-kind="nonlinearizable"'):html.index('id="run"')]
    # the cause first: the witness (the read of 7, never written) and its prose; the search's account folded
    assert data["cause"]["pattern"] == "never-written" and "value never written: the read (p1)" in section
    assert "Witness: 1 operation, in real-time order" in section
    assert section.index("Witness:") < section.index('<details class="search">')
    assert data["search"] in section and f"Why: {data['reason']}" not in section  # said once, in the search's words
    assert f"Longest linearizable prefix ({data['prefix_length']} operations, in linearization order)" in section
    assert "initial state" in section
    assert f"<code>{data['op']['call'].replace('>', '&gt;')}</code>" in section
    assert f"Concurrent with the failing operation ({data['concurrent_count']})" in section
    assert "Other details" not in section  # every field of the checker's data understood
    lin = next(f for f in page.figures if any(t.get("name") == "breaks linearizability" for t in f["data"]))
    drawn = {t["name"] for t in lin["data"] if t.get("mode", "").startswith("lines")}
    assert "breaks linearizability" in drawn  # the witness chart: the read, and the key's ops around it
    assert ("the key's other operations then" in drawn) == bool(data["around"])
    assert [s["x0"] for s in lin["layout"]["shapes"] if s["type"] == "line"] == [pytest.approx(0.021)]


def test_the_linear_section_accepts_other_data_layouts(tmp_path: Path) -> None:
    run = make_run(tmp_path, "bad", valid=False)
    res = json.loads((run / "results.json").read_text())
    res["checkers"]["linear"]["anomalies"] = [{
        "kind": "nonlinearizable", "summary": "s", "ops": [7],
        "data": {"key": "k", "failing_op": 7, "linearizable_prefix": [[0, 1], [1, 1]],
                 "concurrent_ops": [8, 999]}}]
    (run / "results.json").write_text(json.dumps(res))
    html, _ = render(run)
    assert "Longest linearizable prefix (2 operations" in html
    assert "Concurrent with the failing operation (2)" in html
    assert "(not found in the history)" in html  # op 999


def test_fault_windows_are_listed_and_shaded(tmp_path: Path) -> None:
    html, page = render(make_run(tmp_path, "bad", valid=False))
    faults = html[html.index('id="faults"'):html.index('id="charts"')]
    assert "partition" in faults and "kill" in faults and "never healed" in faults
    timeline = next(f for f in page.figures if f["layout"].get("yaxis", {}).get("title", {}).get("text") == "process"
                    and any(t.get("name") == "ok" for t in f["data"]))
    shapes = [s for s in timeline["layout"]["shapes"] if s["type"] == "rect"]
    assert len(shapes) == 2
    assert shapes[0]["x0"] == pytest.approx(0.012) and shapes[0]["x1"] == pytest.approx(0.047)


def test_each_anomaly_is_placed_relative_to_the_faults(tmp_path: Path) -> None:
    html, page = render(make_run(tmp_path, "bad", valid=False))
    # the anomaly names ops 7 and 10: the read invoked at 21 ms, completed at 31 ms, during the partition
    assert ("Its operations ran from 0.021 s to 0.031 s, while a fault was in effect: "
            "partition from 0.012 s to 0.047 s.") in html
    for fig in page.figures[1:]:  # every run-wide chart has the anomaly's line
        lines = [s for s in fig["layout"]["shapes"] if s["type"] == "line"]
        assert [ln["x0"] for ln in lines] == [pytest.approx(0.021)]
        assert [a["text"] for a in fig["layout"]["annotations"]] == ["anomaly 1"]


def test_an_anomaly_without_faults_says_so(tmp_path: Path) -> None:
    from tests.report.runs import sample_ops

    calm = [o for o in sample_ops() if o.process != "nemesis"]
    html, _ = render(make_run(tmp_path, "bad", valid=False, ops=calm))
    assert "Its operations ran from 0.021 s to 0.031 s; no faults were injected." in html


def test_unknown_kinds_get_the_generic_section(tmp_path: Path) -> None:
    run = make_run(tmp_path, "bad", valid=False)
    res = json.loads((run / "results.json").read_text())
    res["checkers"]["linear"]["anomalies"] = [
        {"kind": "lost-update", "summary": "write 2 vanished", "ops": [6, 10, 12], "data": {"element": XSS}}]
    (run / "results.json").write_text(json.dumps(res))
    html, page = render(run)
    assert page.kinds == ["lost-update"]
    assert "Not client operations in this history (nemesis events or unknown indices): 12" in html
    assert "<th>element</th>" in html and XSS not in html


def test_an_unknown_verdict_says_why(tmp_path: Path) -> None:
    run = make_run(tmp_path, "u", valid=True)
    res = json.loads((run / "results.json").read_text())
    res["valid"] = "unknown"
    res["checkers"]["linear"].update(valid="unknown", error=f"search budget spent {XSS}")
    (run / "results.json").write_text(json.dumps(res))
    html, _ = render(run)
    assert '<header class="unknown">' in html and "At least one checker could not decide" in html
    assert 'data-checker="linear" data-verdict="unknown"' in html
    assert "search budget spent &lt;script&gt;" in html


def test_many_anomalies_are_capped_and_the_rest_listed(tmp_path: Path) -> None:
    run = make_run(tmp_path, "many", valid=False)
    res = json.loads((run / "results.json").read_text())
    res["checkers"]["linear"]["anomalies"] = [
        {"kind": "lost-update", "summary": f"lost write {i}", "ops": [0], "data": {}} for i in range(35)]
    (run / "results.json").write_text(json.dumps(res))
    html, page = render(run)
    assert len(page.kinds) == 30
    assert "5 more anomalies are not shown in full" in html and "lost write 34" in html


def test_a_crashing_section_falls_back_to_the_generic_view(tmp_path: Path) -> None:
    class Broken:
        def render(self, anomaly: Anomaly, ctx: SectionContext) -> Markup:
            raise KeyError("boom")

    html, page = render(make_run(tmp_path, "bad", valid=False), sections={"nonlinearizable": Broken()})
    assert "This section failed to render (KeyError: &#39;boom&#39;)" in html
    assert page.kinds == ["nonlinearizable"]


def test_a_history_without_times_is_drawn_by_event_index(tmp_path: Path) -> None:
    ops = [Op(index=0, process=0, type="invoke", f="read"), Op(index=1, process=0, type="ok", f="read", value=3)]
    html, page = render(make_run(tmp_path, "untimed", valid=True, ops=ops))
    assert "The history has no times" in html
    assert page.figures[0]["layout"]["xaxis"]["title"]["text"].startswith("event index")


def test_a_run_folder_without_history_still_shows_the_verdicts(tmp_path: Path) -> None:
    run = make_run(tmp_path, "bad", valid=False)
    (run / "history.jsonl").unlink()
    html, page = render(run)
    assert "no history.jsonl" in html and page.kinds == ["nonlinearizable"]


def test_a_huge_history_says_the_timeline_is_sampled(tmp_path: Path) -> None:
    from harness.report import charts

    ops = []
    for k in range(charts.MAX_TIMELINE_OPS + 10):
        ops += [Op(index=2 * k, time=k * MS, process=0, type="invoke", f="read"),
                Op(index=2 * k + 1, time=k * MS + 1, process=0, type="ok", f="read", value=k)]
    html, _ = render(make_run(tmp_path, "huge", valid=True, ops=ops))
    assert (f"This history has {charts.MAX_TIMELINE_OPS + 10} operations; the timeline shows "
            f"{charts.MAX_TIMELINE_OPS // 2 + 5} of them") in html
    assert "all of the failed or indeterminate ones, and 1 in 2 of the ok ones" in html


def test_write_report_writes_one_self_contained_file(tmp_path: Path) -> None:
    path = write_report(make_run(tmp_path, "bad", valid=False))
    html = path.read_text(encoding="utf-8")
    assert path.name == "report.html"
    assert html.count("plotly.js v") >= 1  # the bundle's banner, inlined
    assert not re.search(r'<script[^>]+src=|<link[^>]+href=', html)  # nothing loaded from elsewhere
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    assert path.stat().st_mode & 0o044 == 0o044  # readable by others, like any artifact


@pytest.mark.parametrize("content, message", [
    (None, "no results.json here"),
    ("{not json", "results.json:1: not JSON"),
    ("[1, 2]", "expected a JSON object"),
])
def test_unusable_run_folders_are_reported_with_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    with pytest.raises(RunDirError, match=re.escape(message)):
        write_report(tmp_path)


def test_a_bad_history_line_is_named(tmp_path: Path) -> None:
    run = make_run(tmp_path, "bad", valid=False)
    with (run / "history.jsonl").open("a") as fh:
        fh.write('{"index": 99, "process": 0, "type": "bogus", "f": "read"}\n')
    with pytest.raises(RunDirError, match=r"history.jsonl:20: unknown type 'bogus'"):
        write_report(run)


def test_timestamps_are_seconds_since_start(tmp_path: Path) -> None:
    _, page = render(make_run(tmp_path, "bad", valid=False))
    lat = next(f for f in page.figures if f["layout"]["yaxis"].get("type") == "log")
    ok = next(t for t in lat["data"] if t.get("name") == "ok")
    # op 0: write invoked at 0 ms, ok at 5 ms
    assert ok["x"][0] == 0 and ok["y"][0] == pytest.approx(5 * MS / 1e6)


def test_findings_that_leave_the_verdict_alone_are_listed_under_the_verdicts(tmp_path: Path) -> None:
    # atomic-commit's held_long: locks held past the bound and then released (valid, but worth reading)
    run = make_run(tmp_path, "h", valid=True)
    res = json.loads((run / "results.json").read_text())
    held = [{"txn": "t7", "participants": ["payment"], "held_s": {"payment": 35.6}, "longest_s": 35.6,
             "summary": f"t7's locks were held longer than the 5 s bound: payment 35.60 s {XSS}"}]
    res["checkers"]["atomic-commit"] = {"checker": "atomic-commit", "valid": True, "anomalies": [],
                                        "stats": {"lock_bound_s": 5, "held_long_count": 1, "held_long": held}}
    (run / "results.json").write_text(json.dumps(res))
    html, _ = render(run)
    assert 'data-checker="atomic-commit" data-finding="held long"' in html
    assert "t7&#39;s locks were held longer than the 5 s bound: payment 35.60 s &lt;script&gt;" in html
    assert "held long [" not in html  # not dumped raw into the figures column
    assert "held long count 1" in html
