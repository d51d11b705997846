"""The progress display, rendered into a string console (plain and live layouts)."""

from __future__ import annotations

import io

from rich.console import Console

from harness.history import NEMESIS
from harness.progress import Progress
from harness.recorder import Recorder


def _recorder(tmp_path):
    rec = Recorder(tmp_path / "h.jsonl")
    rec.record(type="invoke", process=0, f="write", value=1)
    rec.record(type="ok", process=0, f="write", value=1)
    rec.record(type="invoke", process=1, f="read")
    rec.record(type="info", process=1, f="read", error="timeout")
    rec.record(type="info", process=NEMESIS, f="kill", value={"nodes": ["n2"]})
    rec.record(type="info", process=NEMESIS, f="kill", value={"nodes": ["n2"]})
    return rec


def test_plain_lines_at_phase_changes_show_counts_and_faults_in_effect(tmp_path):
    buf = io.StringIO()
    with _recorder(tmp_path) as rec:
        with Progress(rec, time_limit_s=30, console=Console(file=buf, force_terminal=False, width=200),
                      plain_every_s=0) as p:
            p.phase("running")
        rec.record(type="info", process=NEMESIS, f="start", value={"nodes": ["n2"]})
        rec.record(type="info", process=NEMESIS, f="start", value={"nodes": ["n2"]})
        assert "faults: none" in Progress(rec, time_limit_s=30, console=Console(file=io.StringIO())).line()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert "running: 2 ops (ok 1, fail 0, info 1); faults: kill [n2]" in lines[0]
    assert "/ 30s] done:" in lines[1]


def test_live_panel_renders_phase_ops_and_faults(tmp_path):
    with _recorder(tmp_path) as rec:
        p = Progress(rec, time_limit_s=10, title="qs/seed seed 1", live=False)
        p.phase("healing")
        con = Console(file=io.StringIO(), force_terminal=True, width=100, record=True)
        con.print(p)
        text = con.export_text()
    assert "qs/seed seed 1" in text and "healing" in text and "/ 10 s" in text
    assert "ok 1" in text and "info 1" in text and "kill [n2]" in text
