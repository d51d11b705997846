"""A nemesis package under the real runner's interpreter (threads, wall clock, recorder).

Checks the contract between the two sides: the schedule hears the invocation
and the completion of each nemesis op, alternates fault and quiet in real time,
and the final heal leaves the (in-memory) cluster whole.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from harness import generators as gen
from harness.history import NEMESIS, read_jsonl
from harness.recorder import Recorder
from harness.runner import Interpreter
from nemesis.package import package
from nemesis.windows import fault_windows

FIVE = ("n1", "n2", "n3", "n4", "n5")


@pytest.mark.slow
def test_schedule_and_final_heal_under_the_interpreter(make_cluster: Any, tmp_path: Path) -> None:
    c = make_cluster(FIVE)
    p = package("partition,kill,pause", nodes=FIVE, interval_s=0.08, seed=9,
                probe_timeout_s=0.001, verify_s=0.05)
    nem = p.nemesis.setup(c)
    try:
        with Recorder(tmp_path / "history.jsonl") as rec:
            with Interpreter(recorder=rec, clients=[], nemesis=nem, rng=random.Random(0)) as interp:
                interp.run(gen.phases(gen.time_limit(1.5, p.generator)))
                interp.run(gen.phases(p.final_generator))
            rec.fsync()
    finally:
        nem.teardown()
    ops = read_jsonl(tmp_path / "history.jsonl").ops
    ev = [op for op in ops if op.process == NEMESIS]
    assert len(ev) >= 8 and all(op.type == "info" for op in ev)
    assert all(a.f == b.f for a, b in zip(ev[0::2], ev[1::2]))  # each op's two events are adjacent
    assert all(op.error is None for op in ev), [op for op in ev if op.error]
    ws = fault_windows(ops)
    assert len(ws) >= 2 and all(w.end_ns is not None for w in ws)
    assert all(a.end_ns <= b.start_ns for a, b in zip(ws, ws[1:]))  # one fault at a time
    assert not c.cut_links and not c.dead and not c.paused
