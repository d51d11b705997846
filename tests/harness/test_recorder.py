"""The recorder: real files, real threads, and a real process killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.history import NEMESIS, read_jsonl
from harness.recorder import Recorder

WRITER = r"""
import sys
from harness.recorder import Recorder
rec = Recorder(sys.argv[1], keep=False)
i = 0
while True:
    rec.record(type="invoke", process=i % 7, f="write", value={"k": i, "pad": "x" * (i % 300)})
    rec.record(type="ok", process=i % 7, f="write", value={"k": i, "pad": "x" * (i % 300)})
    i += 1
"""


def test_history_of_a_sigkilled_writer_is_readable(tmp_path):
    path = tmp_path / "history.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size > 200_000:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    h = read_jsonl(path, tolerate_torn_tail=True)
    assert len(h.ops) > 500
    assert [o.index for o in h.ops] == list(range(len(h.ops)))
    # every completed pair is intact; at most the last invocation is open
    assert sum(1 for o in h.operations if o.completion is None) <= 1


def test_concurrent_records_get_unique_ordered_indices_and_monotonic_times(tmp_path):
    ticks = iter(range(0, 10**12, 3))
    lock = threading.Lock()

    def clock():
        with lock:
            return next(ticks)

    with Recorder(tmp_path / "h.jsonl", clock=clock) as rec:
        def work(p):
            for i in range(500):
                rec.record(type="invoke", process=p, f="r")
                rec.record(type="ok", process=p, f="r", value=i)
        threads = [threading.Thread(target=work, args=(p,)) for p in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    h = read_jsonl(tmp_path / "h.jsonl")
    assert len(h.ops) == 8000
    assert [o.index for o in h.ops] == list(range(8000))
    times = [o.time for o in h.ops]
    assert times == sorted(times) and len(set(times)) == 8000
    assert times[0] == 3  # time 0 is the clock at construction
    assert rec.counts == {"invoke": 4000, "ok": 4000, "fail": 0, "info": 0}
    assert h.ops == tuple(rec.events)


def test_fields_round_trip_and_nemesis_events_are_kept_apart(tmp_path):
    with Recorder(tmp_path / "h.jsonl") as rec:
        rec.record(type="invoke", process=3, f="cas", value=[1, 2], node="n2")
        rec.record(type="info", process=3, f="cas", value=[1, 2], node="n2", error="timeout")
        rec.record(type="info", process=NEMESIS, f="kill", value={"nodes": ["n1"]})
    lines = [json.loads(s) for s in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert lines[1] == {"index": 1, "time": lines[1]["time"], "process": 3, "type": "info", "f": "cas",
                        "value": [1, 2], "node": "n2", "error": "timeout"}
    assert [o.f for o in rec.nemesis_events] == ["kill"]


def test_a_value_that_is_not_json_is_recorded_as_its_repr(tmp_path):
    with Recorder(tmp_path / "h.jsonl") as rec:
        op = rec.record(type="ok", process=0, f="read", value=b"\x00raw")
    assert op.value == "b'\\x00raw'" and "not JSON-serialisable" in op.error
    assert read_jsonl(tmp_path / "h.jsonl").ops[0].value == "b'\\x00raw'"


def test_recording_after_close_is_refused_with_the_file_named(tmp_path):
    rec = Recorder(tmp_path / "h.jsonl")
    rec.close()
    rec.close()  # idempotent
    with pytest.raises(ValueError, match="h.jsonl: recorder is closed"):
        rec.record(type="invoke", process=0, f="r")
