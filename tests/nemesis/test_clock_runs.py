"""The clock nemesis with real quorum store nodes: netns (the default backend), local, Docker.

* On netns, a run of the ``seed`` register with n1's clock 10 s fast: last
  write wins by wall clock, so n1's older writes beat newer ones, and the
  linearizability explanation says so with the offsets (the must-show of
  issue 14). Keys are checked one at a time, since the checker explains one
  invalid key and the seed variant also has anomalies no clock causes.
* On local, nodes started without per-node clocks (``ClusterSpec.clock``
  False): the offset is written but cannot take effect, and the nemesis says
  so in the completion.
* On Docker (skipped without an engine or images): the skew takes effect
  inside a container, read through ``GET /time``.

Skipped without libfaketime (``apt-get install -y faketime``).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from harness import generators as gen
from harness.backends import open_cluster
from harness.backends.netns import available
from harness.cluster import ClusterSpec, EnvironmentError_
from harness.faketime import find_library
from harness.generators import OpSpec
from harness.history import NEMESIS, History, Op
from harness.recorder import Recorder
from harness.runner import NemesisPlan, execute
from harness.target import WorkloadContext
from nemesis.clock import OFFSET, RESET, ClockNemesis
from nemesis.core import Validate
from nemesis.windows import fault_windows
from targets.quorum_store import TARGET

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_library() is None, reason="libfaketime is not installed "
                                 "(apt-get install -y faketime)")]

FIVE = ("n1", "n2", "n3", "n4", "n5")
FAST_MS = 10_000


def _spec(tmp_path: Path, *, clock: bool, nodes: tuple[str, ...] = FIVE,
          options: dict[str, str] | None = None) -> ClusterSpec:
    return ClusterSpec(target=TARGET, variant="seed", nodes=nodes, run_id=f"clk{uuid.uuid4().hex[:8]}",
                       run_dir=tmp_path, options=options or {}, clock=clock)


def _offset_op(offsets: dict[str, int]) -> Op:
    return Op(index=0, time=0, process=NEMESIS, type="info", f=OFFSET, value={"offsets_ms": offsets})


def _per_key(h: History) -> dict[object, History]:
    """One history per key of the register workload: each key's client ops, and every nemesis event."""
    keys = {o.value[0] for o in h.ops if o.process != NEMESIS and o.type == "invoke"}
    out = {}
    for k in keys:
        current: dict[object, object] = {}  # process -> the key of its op in flight
        mine: list[Op] = []
        for o in h.ops:
            if o.process != NEMESIS and o.type == "invoke":
                current[o.process] = o.value[0]
            if o.process == NEMESIS or current.get(o.process) == k:
                mine.append(o)
        out[k] = History.of(mine)
    return out


@pytest.mark.skipif(available() is not None, reason=f"netns backend: {available()}")
def test_a_fast_clock_makes_older_writes_win_and_the_explanation_gives_the_offsets(tmp_path: Path) -> None:
    opts = {"keys": "5", "hot": "0"}
    wctx = WorkloadContext(nodes=FIVE, variant="seed", concurrency=10, options=opts)
    workload = TARGET.workload("register")
    with Recorder(tmp_path / "history.jsonl") as rec, open_cluster("netns", _spec(tmp_path, clock=True,
                                                                                  options=opts)) as cluster:
        nem = Validate(ClockNemesis(probe=TARGET.clock)).setup(cluster)
        plan = NemesisPlan(nemesis=nem, final_generator=gen.seq([OpSpec(f=RESET, value="all", process=NEMESIS)]),
                           generator=gen.seq([OpSpec(f=OFFSET, value={"offsets_ms": {"n1": FAST_MS}},
                                                     process=NEMESIS)]))
        out = execute(cluster=cluster, target=TARGET, workload=workload, wctx=wctx, recorder=rec, seed=1,
                      time_limit_s=4, nemesis=plan)
    h = History.of(out.events)
    skew = [o for o in h.nemesis if o.f == OFFSET][1]
    assert skew.error is None and skew.value["measured_ms"]["n1"] == pytest.approx(FAST_MS, abs=100)
    assert [w.kind for w in fault_windows(h.ops)] == ["clock"]
    texts = []
    for key_history in _per_key(h).values():
        texts += [a.data.get("cause", {}).get("text", "") for a in workload.checker(wctx).check(key_history).anomalies]
    explained = [t for t in texts if "The clocks explain it" in t]
    assert explained, f"no anomaly was explained by the clocks among {len(texts)}: {texts[:3]}"
    assert all(f"by n1's clock, then +{FAST_MS} ms off the host's" in t for t in explained)
    assert any("at +0 ms" in t and "last-write-wins kept it" in t for t in explained)


def test_an_offset_on_a_node_started_without_libfaketime_is_reported_as_not_in_effect(tmp_path: Path) -> None:
    with open_cluster("local", _spec(tmp_path, clock=False, nodes=("n1", "n2", "n3"))) as cluster:
        nem = Validate(ClockNemesis(probe=TARGET.clock)).setup(cluster)
        got = nem.invoke(_offset_op({"n2": 3000}))
        reset = nem.invoke(Op(index=2, time=1, process=NEMESIS, type="info", f=RESET, value="all"))
    assert got.value["verified"] is False and got.value["offsets_ms"] == {}
    assert got.error is not None and "n2: offset +3000 ms requested" in got.error
    assert "did not take effect" in got.error and set(got.value["failed"]) == {"n2"}
    assert reset.error is None  # offset 0 is the host's clock: true without the preload too


def test_local_nodes_with_clocks_take_offsets_at_once(tmp_path: Path) -> None:
    with open_cluster("local", _spec(tmp_path, clock=True, nodes=("n1", "n2", "n3"))) as cluster:
        nem = Validate(ClockNemesis(probe=TARGET.clock)).setup(cluster)
        got = nem.invoke(_offset_op({"n3": -2500}))
        measured = TARGET.clock(cluster.address("n3")) - time.time()
        cluster.kill("n3")
        cluster.start("n3")  # a restart keeps its clock: the file is beside its data
        after = TARGET.clock(cluster.address("n3")) - time.time()
    assert got.error is None and got.value["measured_ms"]["n3"] == pytest.approx(-2500, abs=100)
    assert measured == pytest.approx(-2.5, abs=0.2) and after == pytest.approx(-2.5, abs=0.2)


def test_a_skew_takes_effect_inside_a_container(tmp_path: Path) -> None:
    from harness.backends.docker_engine import connect
    from harness.images import ImageBuildError, ensure_base_image, ensure_target_image

    try:
        client = connect(timeout=10)
    except EnvironmentError_ as e:
        pytest.skip(f"no Docker engine: {e}")
    try:
        ensure_target_image(client, TARGET, base=ensure_base_image(client))
    except ImageBuildError as e:
        pytest.skip(f"cannot build the images here: {e}")
    finally:
        client.close()
    with open_cluster("docker", _spec(tmp_path, clock=True, nodes=("n1", "n2", "n3"))) as cluster:
        nem = Validate(ClockNemesis(probe=TARGET.clock)).setup(cluster)
        before = TARGET.clock(cluster.address("n1")) - time.time()
        got = nem.invoke(_offset_op({"n1": 4000}))
        inside = TARGET.clock(cluster.address("n1")) - time.time()
        other = TARGET.clock(cluster.address("n2")) - time.time()
    assert abs(before) < 0.2 and abs(other) < 0.2
    assert got.error is None and got.value["measured_ms"]["n1"] == pytest.approx(4000, abs=150)
    assert inside == pytest.approx(4.0, abs=0.2)


def test_a_python_node_under_the_preload_sleeps_waits_and_reads_the_offset_at_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from harness.faketime import HostClock

    clock = HostClock(tmp_path)
    clock.set(7000)
    lib = HostClock.require()
    script = ("import time, threading, sys; a = time.monotonic(); time.sleep(0.05); "
              "e = threading.Event(); threading.Timer(0.02, e.set).start(); w = time.monotonic(); e.wait(2); "
              "woken = time.monotonic() - w; first = time.time(); open(sys.argv[1], 'w').write('-1.000\\n'); "
              "print(first, time.time(), time.monotonic() - a, woken)")
    env = {**os.environ, **clock.env(lib, dict(os.environ))}
    out = subprocess.run([sys.executable, "-c", script, str(clock.path)], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    first, second, slept, woken = (float(x) for x in out.stdout.split())
    now = time.time()
    assert first - now == pytest.approx(7.0, abs=1.5)   # the offset at start (within the process's run time)
    assert second - first == pytest.approx(-8.0, abs=0.5)  # a rewrite takes effect at the next call
    assert 0.05 <= slept < 2.0 and woken < 0.5  # time.sleep works (the shim), and a woken wait is prompt
