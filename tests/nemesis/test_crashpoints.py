"""Crash points armed at run time: the node side's file protocol, the crash nemesis, its schedule and windows.

The node side (:mod:`harness.node.crashpoints`) is exercised for real: a
child process constructs ``CrashPoints`` on a data dir and hits a point, and
the test reads what it left (its exit code, ``crashes.jsonl``). The nemesis
talks to a :class:`DirCluster`, whose nodes are data dirs on disk reached
through the same ``node_files`` functions the local and netns backends use;
its ``alive`` is what the test says (a node whose child process exited is
dead until ``start``).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import generators as gen
from harness.backends import node_files
from harness.cluster import Address, NodeFiles
from harness.generators import OpSpec
from harness.history import NEMESIS, read_jsonl
from harness.node.crashpoints import (
    CONTROL_FILE, CRASHES_FILE, Arm, CrashPoints, decode_control, encode_control, parse_crashes,
)
from harness.recorder import Recorder
from harness.runner import Interpreter, NemesisEvent
from nemesis.crashpoints import NEVER_REACHED, CrashNemesis, draw_arm
from nemesis.package import package, parse_faults
from nemesis.windows import fault_windows

ROOT = Path(__file__).resolve().parents[2]


class DirCluster:
    """Nodes that are data dirs (``NodeFiles`` as on the local backend); alive as the test sets it."""

    def __init__(self, root: Path, nodes: tuple[str, ...] = ("n1", "n2")) -> None:
        self.nodes = nodes
        self.dirs = {n: root / n for n in nodes}
        for d in self.dirs.values():
            d.mkdir()
        self.dead: set[str] = set()
        self.started: list[str] = []

    def start(self, node: str) -> None:
        self.dead.discard(node)
        self.started.append(node)

    def stop(self, node: str) -> None:
        self.dead.add(node)

    def address(self, node: str) -> Address:
        return Address(host="127.0.0.1", port=9)

    def alive(self, node: str) -> bool:
        return node not in self.dead

    def read_node_file(self, node: str, name: str) -> bytes | None:
        return node_files.read_in(self.dirs[node], name)

    def write_node_file(self, node: str, name: str, data: bytes) -> None:
        node_files.write_in(self.dirs[node], name, data)


def hit_in_child(data: Path, point: str, order: str, *, armed: str = "", p: float = 0.0) -> int:
    """A node process that constructs its crash points and reaches ``point`` once; its exit code."""
    code = ("import sys; from harness.node.crashpoints import CrashPoints; "
            f"CrashPoints({armed!r}, {p!r}, sys.argv[1], 'n1').hit({point!r}, {order!r})")
    return subprocess.run([sys.executable, "-c", code, str(data)], cwd=ROOT, capture_output=True,
                          timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)}).returncode


# --- the file protocol ------------------------------------------------------------------

def test_control_file_round_trips_and_refuses_what_is_not_an_arming() -> None:
    arms = (Arm(point="after-charge", arm="a1", p=1.0), Arm(point="all", arm="a2", p=0.5))
    assert decode_control(encode_control(arms)) == arms
    assert decode_control(b"") == ()
    with pytest.raises(ValueError, match="not JSON"):
        decode_control(b"{")
    with pytest.raises(ValueError, match='"point": str'):
        decode_control(b'{"armed": [{"point": 3, "arm": "a1"}]}')
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        decode_control(b'{"armed": [{"point": "x", "arm": "a1", "p": 2}]}')


def test_a_torn_last_crash_record_is_skipped() -> None:
    data = b'{"point": "a", "order": 1, "at": 1.0, "arm": "a1"}\n{"point": "b", "ord'
    assert [r["point"] for r in parse_crashes(data)] == ["a"]


def test_node_files_are_plain_names_replaced_whole(tmp_path: Path) -> None:
    node_files.write_in(tmp_path, "f.json", b"one")
    node_files.write_in(tmp_path, "f.json", b"two")
    assert node_files.read_in(tmp_path, "f.json") == b"two"
    assert node_files.read_in(tmp_path, "missing") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]  # no temporary left behind
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(ValueError, match="plain file name"):
            node_files.write_in(tmp_path, bad, b"")
    assert node_files.untar_one(node_files.tar_one("x", b"bytes")) == b"bytes"


def test_armed_follows_the_control_file_and_disarm_wins_for_good(tmp_path: Path) -> None:
    c = CrashPoints("", 0.0, str(tmp_path), "n1")
    assert c.armed == frozenset() and not c.is_armed("after-vote-yes")
    node_files.write_in(tmp_path, CONTROL_FILE, encode_control([Arm(point="after-vote-yes", arm="a1")]))
    assert c.is_armed("after-vote-yes") and not c.is_armed("after-decision")
    node_files.write_in(tmp_path, CONTROL_FILE, encode_control([]))
    assert not c.is_armed("after-vote-yes")
    node_files.write_in(tmp_path, CONTROL_FILE, encode_control([Arm(point="all", arm="a2")]))
    assert c.is_armed("after-decision")
    c.disarm()
    assert c.armed == frozenset()
    again = CrashPoints("after-decision", 1.0, str(tmp_path), "n1")  # a restart: still disarmed
    assert again.armed == frozenset()
    again.hit("after-decision", "t1")  # would exit the test process if it fired


@pytest.mark.slow  # a real node process (a second or so to import the harness)
def test_a_run_time_arming_fires_once_records_its_id_and_the_order(tmp_path: Path) -> None:
    node_files.write_in(tmp_path, CONTROL_FILE, encode_control([Arm(point="after-charge", arm="a7")]))
    here = CrashPoints("", 0, str(tmp_path), "n1")
    assert not here.is_armed("after-reserve")
    here.hit("after-reserve", "o1")  # another point: nothing (in this process: it would end the test)
    assert hit_in_child(tmp_path, "after-charge", "o2") == 70
    recs = parse_crashes((tmp_path / CRASHES_FILE).read_bytes())
    assert [(r["node"], r["point"], r["order"], r["arm"]) for r in recs] == [("n1", "after-charge", "o2", "a7")]
    restarted = CrashPoints("", 0, str(tmp_path), "n1")  # the control file still arms a7, but it is spent
    assert restarted.armed == frozenset() and not restarted.is_armed("after-charge")


@pytest.mark.slow  # a real node process (a second or so to import the harness)
def test_start_time_points_still_fire_without_an_arming_id(tmp_path: Path) -> None:
    assert hit_in_child(tmp_path, "after-decision", "t9", armed="after-decision", p=1.0) == 70
    (rec,) = parse_crashes((tmp_path / CRASHES_FILE).read_bytes())
    assert rec["point"] == "after-decision" and rec["order"] == "t9" and rec["arm"] is None


# --- the nemesis ---------------------------------------------------------------------------

@pytest.mark.slow  # a real node process (a second or so to import the harness)
def test_arm_fire_restart_disarm_with_a_real_node_process(tmp_path: Path) -> None:
    c = DirCluster(tmp_path)
    assert isinstance(c, NodeFiles)
    nem = CrashNemesis().setup(c)
    from tests.nemesis.conftest import nemesis_op

    got = nem.invoke(nemesis_op(0, "arm-crash", {"node": "n1", "point": "after-charge"}))
    assert got.error is None and got.value["arm"] == "a1"
    assert decode_control(c.read_node_file("n1", CONTROL_FILE) or b"") == (Arm(point="after-charge", arm="a1"),)
    assert nem.poll() == []  # armed, not reached yet
    assert hit_in_child(c.dirs["n1"], "after-charge", "o17") == 70
    c.dead.add("n1")  # it exited
    (fired,) = nem.poll()
    assert fired.f == "crash-fired" and fired.value["order"] == "o17" and fired.value["node"] == "n1"
    assert nem.poll() == []  # dead: no restart yet, and the fire is reported once
    done = nem.invoke(nemesis_op(1, "disarm-crash", {"node": "n1", "point": "after-charge"}))
    assert done.error is None and c.started == ["n1"]
    assert done.value["disarmed"] == [{"node": "n1", "point": "after-charge", "arm": "a1", "outcome": "fired"}]
    (back,) = nem.poll()
    assert back.f == "restart" and back.value["started"] is True and back.value["down_s"] >= 0
    assert decode_control(c.read_node_file("n1", CONTROL_FILE) or b"") == ()


def test_a_window_whose_point_is_never_reached_says_so(tmp_path: Path) -> None:
    c = DirCluster(tmp_path)
    nem = CrashNemesis().setup(c)
    from tests.nemesis.conftest import nemesis_op

    nem.invoke(nemesis_op(0, "arm-crash", {"node": "n2", "point": "before-compensate"}))
    done = nem.invoke(nemesis_op(1, "disarm-crash", "all"))
    assert done.value["disarmed"][0]["outcome"] == NEVER_REACHED
    assert nem.poll() == [] and c.started == []


def test_arm_crash_refuses_an_unknown_node(tmp_path: Path) -> None:
    nem = CrashNemesis().setup(DirCluster(tmp_path))
    from tests.nemesis.conftest import nemesis_op

    got = nem.invoke(nemesis_op(0, "arm-crash", {"node": "n9", "point": "x"}))
    assert got.error is not None and "n9" in str(got.error) and "'n1', 'n2'" in str(got.error)


# --- the schedule ------------------------------------------------------------------------------

def _saga() -> Any:
    from targets.saga_orders import TARGET
    from harness.nodes import node_names, role_map

    names = node_names(TARGET)
    return TARGET, names, role_map(TARGET, names)


def test_crash_aims_draw_declared_points_of_the_role() -> None:
    target, names, roles = _saga()
    points = {r.name: r.crash_points for r in target.roles if r.crash_points}
    rng = random.Random(3)
    for _ in range(30):
        v = draw_arm(rng, "crash:orchestrator", roles, points)
        assert v["node"] == "orchestrator" and v["point"] in points["orchestrator"]
        anywhere = draw_arm(rng, "crash", roles, points)
        assert anywhere["node"] != "bus" and anywhere["point"] in points[roles[anywhere["node"]]]
    assert draw_arm(rng, "crash::after-deduct", roles, points) == {"node": "inventory", "point": "after-deduct"}
    assert parse_faults("crash:orchestrator:after-charge") == ("crash:orchestrator:after-charge",)


def test_crash_faults_that_could_arm_nothing_are_refused() -> None:
    target, names, roles = _saga()
    with pytest.raises(ValueError, match="role 'bus' declares no crash points"):
        package("crash:bus", nodes=names, roles=roles, target=target)
    with pytest.raises(ValueError, match="declares no crash point 'nope'"):
        package("crash:orchestrator:nope", nodes=names, roles=roles, target=target)
    with pytest.raises(ValueError, match="no node has role 'leader'"):
        package("crash:leader", nodes=names, roles=roles, target=target)
    with pytest.raises(ValueError, match="the target declares no crash points"):
        package("crash", nodes=names, roles=roles)


def test_an_episode_arms_then_disarms_and_the_final_heal_disarms_all(driver_for: Any, tmp_path: Path) -> None:
    target, names, roles = _saga()
    c = DirCluster(tmp_path, names)
    p = package("crash:orchestrator", nodes=names, roles=roles, target=target, seed=5, interval_s=0.5)
    d = driver_for(p.nemesis.setup(c))
    d.run(p.generator, until_ns=2_000_000_000)
    d.run(p.final_generator)
    fs = [op.f for op in d.history]
    assert fs[:4] == ["arm-crash", "arm-crash", "disarm-crash", "disarm-crash"] and fs[-1] == "disarm-crash"
    assert d.history[-1].value["disarmed"] == [] or d.history[-1].value["disarmed"][0]["outcome"] == NEVER_REACHED
    ws = [w for w in fault_windows(d.history) if w.kind == "crash"]
    assert ws and all(w.nodes == ("orchestrator",) and w.end_ns is not None for w in ws)
    assert {w.detail["outcome"] for w in ws} == {NEVER_REACHED}


# --- windows from a hand-built history ------------------------------------------------------------

def test_crash_windows_carry_the_order_and_the_times_of_fire_and_restart() -> None:
    from tests.nemesis.conftest import nemesis_op

    arm = {"node": "n1", "nodes": ["n1"], "point": "after-charge", "arm": "a1", "p": 1.0}
    fired = {"node": "n1", "nodes": ["n1"], "point": "after-charge", "order": "o5", "at": 1.0, "arm": "a1"}
    back = {"node": "n1", "nodes": ["n1"], "point": "after-charge", "arm": "a1", "down_s": 1.2, "started": False}
    h = [nemesis_op(0, "arm-crash", {"node": "n1", "point": "after-charge"}, 10), nemesis_op(1, "arm-crash", arm, 20),
         nemesis_op(2, "crash-fired", fired, 30), nemesis_op(3, "crash-fired", fired, 30),
         nemesis_op(4, "restart", back, 40), nemesis_op(5, "restart", back, 40),
         nemesis_op(6, "disarm-crash", {"node": "n1"}, 50),
         nemesis_op(7, "disarm-crash", {"nodes": ["n1"], "disarmed": [{"node": "n1", "arm": "a1",
                                                                        "point": "after-charge", "outcome": "fired"}]},
                    60),
         nemesis_op(8, "arm-crash", {"node": "n2", "point": "x"}, 70),
         nemesis_op(9, "arm-crash", {"node": "n2", "nodes": ["n2"], "point": "x", "arm": "a2"}, 80)]
    w1, w2 = fault_windows(h)
    assert (w1.kind, w1.start_ns, w1.end_ns) == ("crash", 20, 60)
    assert w1.detail == {"node": "n1", "point": "after-charge", "arm": "a1", "outcome": "fired", "order": "o5",
                         "fired_ns": 30, "restart_ns": 40}
    assert w1.describe() == "crash n1 at after-charge (fired)"
    assert w2.end_ns is None and w2.detail["outcome"] == "armed"  # never disarmed (the run was cut short)


# --- the runner records a nemesis's own events ----------------------------------------------------

class TickNemesis:
    """A nemesis with one op (``tick``) that also reports one event per tick, seen at the next poll."""

    fs = frozenset({"tick"})

    def __init__(self) -> None:
        self.pending: list[NemesisEvent] = []

    def setup(self, cluster: Any) -> "TickNemesis":
        return self

    def teardown(self) -> None:
        return None

    def invoke(self, op: Any) -> Any:
        from nemesis.core import info

        self.pending.append(NemesisEvent(f="crash-fired", value={"after": op.index}))
        return info({"ticked": True})

    def poll(self) -> list[NemesisEvent]:
        out, self.pending = self.pending, []
        return out


def test_the_runner_records_polled_events_as_pairs_unseen_by_the_schedule(tmp_path: Path) -> None:
    from nemesis.core import Compose, Validate

    nem = Validate(Compose([TickNemesis()]))
    schedule = gen.nemesis(gen.seq([OpSpec(f="tick", value=i) for i in range(3)]))
    with Recorder(tmp_path / "history.jsonl") as rec:
        with Interpreter(recorder=rec, clients=[], nemesis=nem, rng=random.Random(0)) as interp:
            interp.run(gen.phases(schedule), deadline_s=10)
            interp.poll_events()
        rec.fsync()
    ev = [op for op in read_jsonl(tmp_path / "history.jsonl").ops if op.process == NEMESIS]
    assert [op.f for op in ev].count("tick") == 6 and [op.f for op in ev].count("crash-fired") == 6
    assert all(a.f == b.f for a, b in zip(ev[0::2], ev[1::2]))  # every pair adjacent
    assert all(a.value == b.value for a, b in zip(ev[0::2], ev[1::2]) if a.f == "crash-fired")
    ticks = [op.index for op in ev if op.f == "tick"]
    fired = [op for op in ev if op.f == "crash-fired"]
    assert all(f.index > ticks[2 * i + 1] for i, f in enumerate(fired[0::2]))  # each after its tick ended
    assert json.dumps([f.value for f in fired[0::2]]) == json.dumps(
        [{"after": ticks[0]}, {"after": ticks[2]}, {"after": ticks[4]}])
