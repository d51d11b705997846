"""The report of a long run (issue 15): bounded in size, every op an anomaly names on it, the sampling said.

The history is synthetic but shaped like a long run's: workers each with one
op in flight, a client that ends ``info`` coming back as a new process (so
hundreds of processes), a fault window every few hundred ops; large enough
that every budget of :mod:`harness.report.charts` and the page is crossed,
small enough to build and render in about a second.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from checkers.api import Anomaly
from harness.history import History, Op
from harness.report.charts import (MAX_FAULT_SHAPES, MAX_LANES, MAX_LATENCY_POINTS, MAX_TIMELINE_OPS, _shares,
                                   axis_for, timeline_figure)
from harness.report.render import MAX_NAMED_ROWS, render_report
from harness.report.rundata import RunData
from harness.report.sections import SectionContext
from harness.report.sections.base import OperationIndex
from tests.report.runs import results

MS = 1_000_000
N_OPS = 100_000
WORKERS = 10


def long_history(n_ops: int = N_OPS, *, workers: int = WORKERS, seed: int = 7) -> History:
    """``n_ops`` register ops, ``workers`` in flight at once, 2% info (a new process after each), 3% fail,
    and a partition from op 400k + 100 to op 400k + 250 for every k."""
    rng = random.Random(seed)
    events: list[tuple[int, int, dict[str, Any]]] = []
    proc = list(range(workers))
    for k in range(n_ops):
        w = k % workers
        t = k * MS
        f = "read" if k % 2 else "write"
        events.append((t, 1, dict(process=proc[w], type="invoke", f=f, value=[k % 7, None if f == "read" else k])))
        r = rng.random()
        status = "info" if r < 0.02 else "fail" if r < 0.05 else "ok"
        out = [k % 7, k - 1] if f == "read" and status == "ok" else [k % 7, None if f == "read" else k]
        events.append((t + (workers - 1) * MS + MS // 2, 0,
                       dict(process=proc[w], type=status, f=f, value=out, error=None if status == "ok" else "timeout")))
        if status == "info":
            proc[w] += workers
        if k % 400 == 100:
            for dt, what in ((0, "halves"), (MS // 4, {"summary": "n1 n2 | n3", "kind": "halves"})):
                events.append((t + dt, 2, dict(process="nemesis", type="info", f="start-partition", value=what)))
        if k % 400 == 250:
            for dt, what in ((0, None), (MS // 4, "healed")):
                events.append((t + dt, 2, dict(process="nemesis", type="info", f="stop-partition", value=what)))
    events.sort(key=lambda e: (e[0], e[1]))
    return History.of([Op(index=i, time=t, **{k: v for k, v in d.items() if v is not None or k == "value"})
                       for i, (t, _, d) in enumerate(events)])


class QuietSection:
    """A section that shows none of its anomaly's operations (the page must name them anyway)."""

    def render(self, anomaly: Anomaly, ctx: SectionContext) -> Markup:
        return Markup("<p>a terse explanation</p>")


@pytest.fixture(scope="module")
def long_page() -> tuple[History, dict[str, Any], str]:
    h = long_history()
    ops = h.operations
    many = [o.invoke.index for o in ops[::15]]            # 6,667 ops: past a table's rows and the page's
    completions = [o.completion.index for o in ops[5::997] if o.completion is not None]  # named by completion
    quiet = [o.invoke.index for o in ops[3::40]]          # 2,500 ops its section does not show
    res = results(valid=False, anomalies=[
        {"kind": "lost-write", "summary": "many writes lost", "ops": many, "data": {"count": len(many)}},
        {"kind": "stale-read", "summary": "named by completions", "ops": completions, "data": {}},
        {"kind": "quiet", "summary": "a section that shows no op", "ops": quiet, "data": {}},
    ])
    page = render_report(RunData(run_dir=Path("/nonexistent/long"), results=res, history=h),
                         sections={"quiet": QuietSection()}, plotly_js="/* plotly stub */")
    return h, res, page


def _figures(page: str) -> list[dict[str, Any]]:
    return [json.loads(m) for m in re.findall(r'<script type="application/json">(.*?)</script>', page, re.S)]


def test_the_page_of_a_long_history_stays_small(long_page: tuple[History, dict[str, Any], str]) -> None:
    _, _, page = long_page
    # one point per op, unsampled, is ~60 bytes (timeline) + ~30 (latency) for 100,000 ops: 9 MB
    assert len(page.encode()) < 4_500_000
    figs = _figures(page)
    latency = next(f for f in figs if f["layout"].get("yaxis", {}).get("title", {}).get("text") == "latency (ms)")
    points = sum(len(t["x"]) for t in latency["data"] if t.get("mode") == "markers" and t["x"] != [None])
    assert points <= MAX_LATENCY_POINTS
    timeline = figs[0]
    assert len(timeline["layout"]["yaxis"]["categoryarray"]) <= MAX_LANES
    bands = [s for s in timeline["layout"]["shapes"] if s["type"] in ("rect", "path")]
    assert len(bands) == 1 and bands[0]["type"] == "path"  # 250 windows of one kind: one shape
    assert bands[0]["path"].count("M") == 250 > MAX_FAULT_SHAPES


def test_every_op_an_anomaly_names_is_on_the_page(long_page: tuple[History, dict[str, Any], str]) -> None:
    h, res, page = long_page
    idx = OperationIndex(h)
    on_page = {int(i) for i in re.findall(r'data-op(?:-end)?="(\d+)"', page)}
    on_page |= {int(i) for m in re.findall(r'<span class="op-indices">([\d, ]*)</span>', page) for i in m.split(", ")}
    for a in res["checkers"]["linear"]["anomalies"]:
        for i in a["ops"]:
            o = idx.get(i)
            assert o.invoke.index in on_page, (a["kind"], i)
    assert page.count('<td data-op="') <= MAX_NAMED_ROWS + 3 * 200 + 50  # rows bounded: past them, indices
    assert "The other 2500 operations this anomaly names" in page  # the quiet section's, added by the page
    assert "not shown as rows to keep the page quick to open" in page


def test_the_page_says_what_it_sampled(long_page: tuple[History, dict[str, Any], str]) -> None:
    h, _, page = long_page
    text = re.sub(r"<[^>]+>", "", "".join(re.findall(r'<p class="(?:warning|note)" id="[a-z-]+">.*?</p>', page)))
    shown = re.search(rf"This history has {N_OPS} operations; the timeline shows (\d+) of them", text)
    assert shown and int(shown.group(1)) <= MAX_TIMELINE_OPS
    sentence = re.search(r"([\d,]+) of 100,000 operations drawn: every one named by an anomaly \((\d+)\), and "
                         r"(all|1 in \d+) of the ok ones, (all|1 in \d+) of the fail ones, (all|1 in \d+) of the info "
                         r"ones\. The p50, p95 and p99 lines are computed from all 100,000", text)
    assert sentence, "the latency chart's sampling is stated"
    assert int(sentence.group(1).replace(",", "")) <= MAX_LATENCY_POINTS
    procs = len({o.process for o in h.operations})
    assert procs > MAX_LANES and f"{procs} processes (a client that crashed comes back as a new process)" in text


def test_packed_lanes_never_hold_two_processes_at_once() -> None:
    h = long_history(20_000)
    axis = axis_for(h)
    tl = timeline_figure(h, (), axis)
    assert tl.packed and tl.n_lanes == WORKERS  # as many lanes as ops were ever in flight
    spans: dict[Any, list[int]] = {}
    for o in h.operations:
        spans.setdefault(o.process, []).append(o.invoke.index)
        spans[o.process].append(o.completion.index if o.completion is not None else h.ops[-1].index)
    # lanes as drawn: each marker's lane and process (customdata[3])
    by_lane: dict[str, dict[str, tuple[int, int]]] = {}
    for t in tl.figure["data"]:
        if t.get("mode") == "markers" and t.get("name") in ("ok", "fail", "info"):
            for y, cd in zip(t["y"], t["customdata"]):
                p = int(cd[3])
                by_lane.setdefault(y, {})[p] = (min(spans[p]), max(spans[p]))
    for lane, procs in by_lane.items():
        ivs = sorted(procs.values())
        assert all(a[1] < b[0] for a, b in zip(ivs, ivs[1:])), lane


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["ok", "fail", "info"]), st.integers(0, 5_000)), st.integers(0, 6_000))
def test_shares_keep_at_most_the_room_and_whole_small_groups(counts: dict[str, int], room: int) -> None:
    strides = _shares(counts, room)
    kept = {k: 0 if s == 0 else -(-counts[k] // s) for k, s in strides.items()}
    if sum(counts.values()) <= room:
        assert kept == counts
    else:
        assert sum(kept.values()) <= room
    share = room // max(1, len([n for n in counts.values() if n]))
    assert all(kept[k] == n for k, n in counts.items() if n <= share)  # a group within its share: whole


def test_the_operation_index_finds_what_a_table_of_every_event_finds() -> None:
    h = long_history(3_000)
    full = {o.invoke.index: o for o in h.operations}
    full.update({o.completion.index: o for o in h.operations if o.completion is not None})
    idx = OperationIndex(h)
    for i in range(-2, len(h.ops) + 2):
        assert idx.get(i) is full.get(i), i


def test_a_results_json_naming_most_ops_still_gives_a_bounded_chart_that_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.report import charts

    monkeypatch.setattr(charts, "MAX_NAMED_DRAWN", 1_000)
    h = long_history(10_000)
    every = {o.invoke.index for o in h.operations}
    tl = charts.timeline_figure(h, (), axis_for(h), highlight=every, budget=2_000)
    assert tl.shown <= 2_000 and tl.named_stride == 10
    lat = charts.latency_chart(h, (), axis_for(h), highlight=every, budget=2_000)
    assert lat is not None and lat.shown <= 2_000
    assert f"1 in 10 of the {lat.named} named by an anomaly" in lat.sentence


def test_past_the_listed_indices_the_page_says_how_many_more_results_json_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.report.sections import base

    monkeypatch.setattr(base, "MAX_LISTED", 1_000)
    h = long_history(20_000)
    named = [o.invoke.index for o in h.operations[::4]]  # 5,000: 200 rows, 1,000 indices, 3,800 left
    res = results(valid=False, anomalies=[{"kind": "lost-write", "summary": "s", "ops": named, "data": {}}])
    page = render_report(RunData(run_dir=Path("/nonexistent/l"), results=res, history=h), plotly_js="")
    listed = re.findall(r'<span class="op-indices">([\d, ]*)</span>', page)
    assert [len(m.split(", ")) for m in listed] == [1_000]
    assert "…and 4800 more operations, not shown as rows" in page
    assert ", and 3800 more (every one is in results.json)." in page
