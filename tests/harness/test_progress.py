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


def test_plain_lines_at_phase_changes_and_faults_show_counts_and_faults_in_effect(tmp_path):
    buf = io.StringIO()
    with _recorder(tmp_path) as rec:
        with Progress(rec, time_limit_s=30, console=Console(file=buf, force_terminal=False, width=200),
                      plain_every_s=0, poll_s=0) as p:
            p.phase("running")
            rec.record(type="info", process=NEMESIS, f="start", value={"nodes": ["n2"]})
            rec.record(type="info", process=NEMESIS, f="start", value={"nodes": ["n2"]})
            p.poll()
            p.poll()  # nothing new: no line
        # after the heal the count stays: "faults: 1", never "none" beside the verdict's "1 fault(s)"
        assert "faults: 1 (none in effect)" in Progress(rec, time_limit_s=30,
                                                        console=Console(file=io.StringIO())).line()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert "fault in effect: kill n2" in lines[0]
    assert "running: 2 ops (ok 1, fail 0, info 1); faults: 1 (in effect: kill n2)" in lines[1]
    assert "fault healed: kill n2" in lines[2]
    assert "/ 30s] done:" in lines[3] and "faults: 1 (none in effect)" in lines[3]


def test_a_partition_shows_as_its_sides_and_stays_in_effect_until_its_heal_is_verified(tmp_path):
    cut = {"kind": "halves", "summary": "n1 n2 | n3 n4 n5", "links": [["n1", "n3"], ["n3", "n1"]],
           "verified": True}
    with Recorder(tmp_path / "h.jsonl") as rec:
        p = Progress(rec, time_limit_s=10, console=Console(file=io.StringIO()), live=False)
        assert p.line().endswith("faults: none")
        rec.record(type="info", process=NEMESIS, f="start-partition", value={"kind": "halves"})
        rec.record(type="info", process=NEMESIS, f="start-partition", value=cut)
        p.phase("final reads")
        assert p.line().endswith("final reads: 0 ops (ok 0, fail 0, info 0); "
                                 "faults: 1 (in effect: partition n1 n2 | n3 n4 n5)")
        rec.record(type="info", process=NEMESIS, f="stop-partition")
        rec.record(type="info", process=NEMESIS, f="stop-partition", value={"verified": False},
                   error="links still cut")
        assert "in effect: partition n1 n2 | n3 n4 n5" in p.line()  # an unverified heal heals nothing


def test_live_panel_renders_phase_ops_and_faults(tmp_path):
    with _recorder(tmp_path) as rec:
        p = Progress(rec, time_limit_s=10, title="qs/seed seed 1", live=False)
        p.phase("healing")
        con = Console(file=io.StringIO(), force_terminal=True, width=100, record=True)
        con.print(p)
        text = con.export_text()
    assert "qs/seed seed 1" in text and "healing" in text and "/ 10 s" in text
    assert "ok 1" in text and "info 1" in text and "in effect: kill n2" in text


def test_past_the_kept_nemesis_events_the_count_says_what_it_covers(tmp_path):
    with Recorder(tmp_path / "history.jsonl", keep_nemesis=4) as rec:
        for _ in range(3):  # three kills and their restarts: 12 events, the recorder keeps the latest 4
            for f in ("kill", "start"):
                rec.record(type="info", process=NEMESIS, f=f, value={"nodes": ["n2"]})
                rec.record(type="info", process=NEMESIS, f=f, value={"nodes": ["n2"]})
        line = Progress(rec, time_limit_s=30, console=Console(file=io.StringIO())).line()
    assert "faults: 1 in the latest 4 nemesis events (none in effect)" in line, line
