"""The recorder: real files, real threads, and a real process killed with SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.history import NEMESIS, read_jsonl
from harness.recorder import Recorder


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
    assert rec.counts == {"invoke": 4000, "ok": 4000, "fail": 0, "info": 0} and len(rec) == 8000


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


# --- bounded memory: the file is the only copy of the history --------------------------

def test_memory_held_does_not_grow_with_the_number_of_events(tmp_path):
    import tracemalloc

    value = {"k": 3, "pad": "x" * 40}
    with Recorder(tmp_path / "h.jsonl", hold=64) as rec:
        def feed(n):
            for i in range(n):
                rec.record(type="invoke" if i % 2 == 0 else "ok", process=i // 2 % 10, f="write", value=value,
                           node="n1")
                if i % 500 == 0:
                    rec.record(type="info", process=NEMESIS, f="kill", value={"nodes": ["n2"]})
        feed(2_000)  # warm up: counters, the held list, the kept nemesis tail reach their size
        rec.flush()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            feed(20_000)
            rec.flush()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    # 20,000 events and 40 nemesis events: keeping even 8 bytes an event would be 160 kB
    assert grown < 48_000, f"{grown} bytes held after 20,000 more events"
    assert len(rec) == 22_000 + 44 and rec.counts["invoke"] == rec.counts["ok"] == 11_000
    assert rec.nemesis_count == 44 and len(rec.nemesis_events) == 44  # under KEEP_NEMESIS: all kept
    h = read_jsonl(tmp_path / "h.jsonl")
    assert [o.index for o in h.ops] == list(range(22_044)) and len(h.operations) == 11_000


def test_only_the_latest_nemesis_events_are_kept_a_pair_at_a_time_and_the_file_has_them_all(tmp_path):
    from harness.recorder import recorded_nemesis

    with Recorder(tmp_path / "h.jsonl", keep_nemesis=7) as rec:  # 7: rounded down to 6, three pairs
        for i in range(10):
            rec.record(type="invoke", process=0, f="read")
            rec.record(type="info", process=NEMESIS, f="kill", value={"nodes": [f"n{i}"]})
            rec.record(type="ok", process=0, f="read", value=i)
            rec.record(type="info", process=NEMESIS, f="kill", value={"nodes": [f"n{i}"], "done": True})
        assert rec.nemesis_count == 20
        assert [(o.value["nodes"], "done" in o.value) for o in rec.nemesis_events] == [
            (["n7"], False), (["n7"], True), (["n8"], False), (["n8"], True), (["n9"], False), (["n9"], True)]
        assert rec.read_nemesis() == recorded_nemesis(rec.path)  # readable while open
    on_disk = [o for o in read_jsonl(tmp_path / "h.jsonl").ops if o.process == NEMESIS]
    assert len(on_disk) == 20 and recorded_nemesis(tmp_path / "h.jsonl") == tuple(on_disk)


def test_reading_back_the_nemesis_events_decodes_only_theirs_across_blocks(tmp_path, monkeypatch):
    import harness.recorder as recorder_module
    from harness.history import HistoryError
    from harness.recorder import recorded_nemesis

    path = tmp_path / "h.jsonl"
    with Recorder(path) as rec:
        for i in range(300):
            # a client value that looks like a nemesis event: decoded, then left out
            rec.record(type="ok", process=i % 4, f="read", value={"process": "nemesis", "i": i, "pad": "y" * (i % 37)})
            if i % 7 == 0:
                rec.record(type="info", process=NEMESIS, f="start-partition", value={"i": i})
    want = tuple(o for o in read_jsonl(path).ops if o.process == NEMESIS)
    assert len(want) == 43
    for block in (64, 97, 1000, 1 << 22):  # lines cut at every kind of place
        monkeypatch.setattr(recorder_module, "_BLOCK", block)
        assert recorded_nemesis(path) == want, block
    # a torn last line (killed mid-write) is dropped; a broken line elsewhere is an error with its line
    with path.open("ab") as fh:
        fh.write(b'{"index":343,"time":5,"process":"nemesis","type":"in')
    assert recorded_nemesis(path) == want
    lines = path.read_bytes().split(b"\n")
    assert b'"process":"nemesis"' in lines[9]  # line 10: the event of i = 7
    lines[9] = lines[9][:-3]
    path.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(recorder_module, "_BLOCK", 128)
    with pytest.raises(HistoryError, match="h.jsonl:10: "):
        recorded_nemesis(path)


# A child that records as fast as it can and says, now and then, which index it
# has recorded (with hold > 0: after a flush). A SIGKILL at any moment (the OOM
# killer) must leave a readable history holding every event it said it had
# recorded, each pair intact, and a torn tail at most.
ANNOUNCER = r"""
import sys
from harness.history import NEMESIS
from harness.recorder import Recorder
hold = int(sys.argv[2])
rec = Recorder(sys.argv[1], hold=hold)
i = 0
while True:
    p = i % 7
    rec.record(type="invoke", process=p, f="write", value={"k": i, "pad": "x" * (i % 300)})
    rec.record(type="ok", process=p, f="write", value={"k": i, "pad": "x" * (i % 300)})
    if i % 97 == 0:
        rec.record(type="info", process=NEMESIS, f="kill", value=i)
    if i % 200 == 0:
        rec.flush()
        print(len(rec) - 1, flush=True)
    i += 1
"""


@pytest.mark.parametrize("hold", [0, 64])
def test_every_event_recorded_before_a_sigkill_is_on_disk(tmp_path, hold):
    path = tmp_path / "history.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", ANNOUNCER, str(path), str(hold)], cwd=Path(__file__).parents[2],
                            stdout=subprocess.PIPE, text=True)
    said = -1
    try:
        assert proc.stdout is not None
        while said < 20_000:
            line = proc.stdout.readline()
            assert line, "the writer died"
            said = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    h = read_jsonl(path, tolerate_torn_tail=True)
    assert len(h.ops) > said  # every event announced, and maybe some after it
    assert [o.index for o in h.ops] == list(range(len(h.ops)))
    assert sum(1 for o in h.operations if o.completion is None) <= 1
    assert [o.value for o in h.nemesis] == list(range(0, len(h.nemesis) * 97, 97))


def test_read_nemesis_falls_back_to_the_kept_events_when_the_file_cannot_be_read_back(tmp_path):
    path = tmp_path / "h.jsonl"
    with Recorder(path, hold=8) as rec:
        rec.record(type="info", process=NEMESIS, f="kill", value=1)
        rec.record(type="invoke", process=0, f="read")  # held
        assert [o.value for o in rec.read_nemesis()] == [1]
        assert path.read_text().count("\n") == 2  # read_nemesis wrote what was held first
        with path.open("ab") as fh:  # what a disk that filled mid-line leaves, then more lines
            fh.write(b'{"index":2,"process":"nemesis","ty')
        rec.record(type="info", process=NEMESIS, f="kill", value=2)
        assert [o.value for o in rec.read_nemesis()] == [1, 2]  # from memory: the file has a torn line inside
