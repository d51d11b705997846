"""The clock nemesis without real nodes: the timestamp file, offset arithmetic, verification, history.

A :class:`ClockCluster` keeps each node's offset in memory and its probe reads
"the node's clock" as the host's plus that offset; ``ineffective`` nodes take
the file but not the offset (a node started without libfaketime), which the
nemesis must report. The slow tests with real nodes are in test_clock_runs.py.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Collection

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.linearizability import Linearizability
from harness.clock_offsets import clock_spans, offset_during, offset_text
from harness.cluster import Address, EnvironmentError_
from harness.faketime import node_env, parse_timestamp, timestamp_text, write_timestamp
from harness.history import NEMESIS, History, Op
from harness.report.charts import axis_for
from harness.report.clock_chart import clock_figure
from nemesis import package
from nemesis.clock import BUMP, OFFSET, RESET, STROBE, ClockNemesis, apply, draw, measure, within
from nemesis.core import Validate
from nemesis.windows import fault_windows

FIVE = ("n1", "n2", "n3", "n4", "n5")
MS = 1_000_000


class ClockCluster:
    """Node clocks in memory; ``ineffective`` nodes ignore their offsets, ``silent`` ones never answer."""

    def __init__(self, *, ineffective: Collection[str] = (), silent: Collection[str] = ()) -> None:
        self.nodes = FIVE
        self.offsets: dict[str, float] = {}
        self.writes: list[tuple[str, float]] = []
        self.ineffective, self.silent = set(ineffective), set(silent)

    def start(self, node: str) -> None: ...
    def stop(self, node: str) -> None: ...
    def alive(self, node: str) -> bool: return True

    def address(self, node: str) -> Address:
        return Address(host="127.0.0.1", port=1 + FIVE.index(node))

    def set_clock_offset(self, node: str, offset_ms: float) -> None:
        self.writes.append((node, offset_ms))
        if node not in self.ineffective:
            self.offsets[node] = offset_ms

    def probe(self, address: Address) -> float:
        node = FIVE[address.port - 1]
        if node in self.silent:
            raise OSError("connection refused")
        return time.time() + self.offsets.get(node, 0.0) / 1000.0


def nemesis_for(c: ClockCluster) -> Validate:
    return Validate(ClockNemesis(probe=c.probe)).setup(c)


def op(f: str, value: object, index: int = 0) -> Op:
    return Op(index=index, time=index * MS, process=NEMESIS, type="info", f=f, value=value)


# --- the timestamp file ------------------------------------------------------------

def test_the_timestamp_file_holds_a_signed_offset_in_seconds_with_ms() -> None:
    assert timestamp_text(1500) == "+1.500\n"
    assert timestamp_text(-250) == "-0.250\n"
    assert timestamp_text(0.4) == "+0.000\n"
    assert timestamp_text(-12_345_678) == "-12345.678\n"
    assert parse_timestamp("+2m") == 120_000 and parse_timestamp("-1.5h") == -5_400_000
    for bad in ("1.5", "+", "2020-01-01 00:00:00", "@2020-01-01 00:00:00", "+1.5 x2"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)
    with pytest.raises(ValueError):
        timestamp_text(float("nan"))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-10**10, max_value=10**10))
def test_any_whole_ms_offset_reads_back_as_written(ms: int) -> None:
    assert parse_timestamp(timestamp_text(ms)) == pytest.approx(ms, abs=1e-6 * max(1, abs(ms)))


def test_the_file_is_replaced_whole_and_the_environment_keeps_what_was_there(tmp_path: Path) -> None:
    f = tmp_path / "faketime"
    write_timestamp(f, 5000)
    write_timestamp(f, -20)
    assert f.read_text() == "-0.020\n" and sorted(os.listdir(tmp_path)) == ["faketime"]
    env = node_env(clock_file=str(f), library="/lib/ft.so", site_dir="/site",
                   base={"LD_PRELOAD": "/other.so", "PYTHONPATH": "/proj"})
    assert env["LD_PRELOAD"] == "/lib/ft.so /other.so" and env["PYTHONPATH"] == f"/site{os.pathsep}/proj"
    assert env["FAKETIME_TIMESTAMP_FILE"] == str(f) and env["FAKETIME_NO_CACHE"] == "1"
    assert env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1" and env["FAKETIME_FORCE_MONOTONIC_FIX"] == "0"


# --- offset arithmetic and measurement -------------------------------------------

def test_offsets_bumps_strobes_and_resets_compute_the_offsets_they_ask_for() -> None:
    now = {"n1": 100.0, "n2": -50.0}
    assert apply(OFFSET, {"offsets_ms": {"n3": 2000}}, now, FIVE) == {"n3": 2000.0}
    assert apply(BUMP, {"deltas_ms": {"n1": 250, "n4": -10}}, now, FIVE) == {"n1": 350.0, "n4": -10.0}
    assert apply(STROBE, {"nodes": ["n2"]}, now, FIVE) == {"n2": -50.0}  # its base: the current offset
    assert apply(RESET, {"nodes": ["n1"]}, now, FIVE) == {"n1": 0.0}
    assert apply(RESET, "all", now, FIVE) == {n: 0.0 for n in FIVE}
    for f, bad in ((OFFSET, {"offsets_ms": {"n9": 1}}), (BUMP, {"deltas_ms": {"n1": "x"}}),
                   (BUMP, {"nodes": ["n1"]}), (OFFSET, {"offsets_ms": {"n1": float("inf")}}), (STROBE, {})):
        with pytest.raises(ValueError):
            apply(f, bad, now, FIVE)


def test_a_probe_measures_against_the_middle_of_its_round_trip() -> None:
    offset, uncertainty = measure(100.000, 105.010, 100.020)
    assert offset == pytest.approx(5000.0) and uncertainty == pytest.approx(10.0)
    assert within(5000, offset, uncertainty, tolerance_ms=50)
    assert not within(5000, 0.0, uncertainty, tolerance_ms=50)
    assert within(5000, 5055, 10, tolerance_ms=50) and not within(5000, 5061, 10, tolerance_ms=50)


def test_the_schedule_draws_bumps_and_strobes_and_heals_with_a_reset() -> None:
    kinds = set()
    for seed in range(40):
        (f, v), (g, w) = draw(random.Random(seed), ["n2"], 3_000_000_000)
        kinds.add(f)
        assert g == RESET and w == {"nodes": ["n2"]}
        if f == BUMP:
            assert 128 <= abs(v["deltas_ms"]["n2"]) <= 16384
        else:
            assert v["nodes"] == ["n2"] and v["period_ms"] > 0 and 1500 <= v["duration_ms"] <= 4500
    assert kinds == {BUMP, STROBE}
    p = package("clock:node", nodes=FIVE, seed=3, interval_s=1.0)
    assert p.faults == ("clock:node",) and RESET in p.nemesis.fs


# --- the nemesis --------------------------------------------------------------------

def test_a_verified_skew_records_the_offsets_requested_and_measured() -> None:
    c = ClockCluster()
    nem = nemesis_for(c)
    got = nem.invoke(op(OFFSET, {"offsets_ms": {"n1": 5000}}))
    assert got.error is None and got.value["verified"] is True
    assert got.value["offsets_ms"] == {"n1": 5000.0}
    assert got.value["measured_ms"]["n1"] == pytest.approx(5000, abs=60)
    got = nem.invoke(op(BUMP, {"deltas_ms": {"n1": -1500, "n2": 300}}))
    assert got.value["offsets_ms"] == {"n1": 3500.0, "n2": 300.0} and c.offsets == {"n1": 3500.0, "n2": 300.0}
    got = nem.invoke(op(RESET, "all"))
    assert got.error is None and set(got.value["offsets_ms"]) == set(FIVE) and set(c.offsets.values()) == {0.0}


def test_a_skew_that_does_not_take_effect_is_an_error_naming_the_node_and_both_offsets() -> None:
    c = ClockCluster(ineffective={"n2"})
    got = nemesis_for(c).invoke(op(OFFSET, {"offsets_ms": {"n1": 2000, "n2": 2000}}))
    assert got.value["verified"] is False and got.error is not None
    assert "n2: offset +2000 ms requested, +0 ms" in got.error and "did not take effect" in got.error
    assert got.value["offsets_ms"] == {"n1": 2000.0} and set(got.value["failed"]) == {"n2"}
    assert not fault_windows([op(OFFSET, None, 0), Op(index=1, time=MS, process=NEMESIS, type="info",
                                                      f=OFFSET, value=got.value, error=got.error)])


def test_a_node_whose_clock_cannot_be_read_is_unverified_not_assumed() -> None:
    got = nemesis_for(ClockCluster(silent={"n3"})).invoke(op(BUMP, {"deltas_ms": {"n3": 700}}))
    assert got.error and "n3: its clock could not be read" in got.error and got.value["verified"] is False


def test_the_nemesis_refuses_a_target_without_a_clock_probe_and_malformed_ops() -> None:
    with pytest.raises(EnvironmentError_, match="no clock probe"):
        ClockNemesis(probe=None).setup(ClockCluster())
    got = nemesis_for(ClockCluster()).invoke(op(BUMP, {"deltas_ms": {"n7": 1}}))
    assert got.error and "unknown node" in got.error


def test_a_strobe_flips_in_the_background_until_its_duration_or_the_next_op() -> None:
    c = ClockCluster()
    nem = nemesis_for(c)
    got = nem.invoke(op(STROBE, {"nodes": ["n4"], "delta_ms": 800, "period_ms": 20, "duration_ms": 10_000}))
    assert got.error is None and got.value["measured_ms"]["n4"] == pytest.approx(800, abs=60)
    assert got.value["offsets_ms"] == {"n4": 0.0} and got.value["strobe"]["delta_ms"] == 800
    time.sleep(0.2)
    done = nem.invoke(op(RESET, {"nodes": ["n4"]}))
    assert done.error is None and done.value["strobe_toggles"] >= 4
    seen = {ms for n, ms in c.writes if n == "n4"}
    assert seen == {0.0, 800.0} and c.offsets["n4"] == 0.0
    nem.teardown()


# --- the history: spans, windows, the explanation, the chart --------------------------

def clock_history() -> list[Op]:
    return [op(BUMP, {"deltas_ms": {"n1": 5000}}, 1),
            Op(index=2, time=3 * MS, process=NEMESIS, type="info", f=BUMP,
               value={"offsets_ms": {"n1": 5000.0}, "verified": True}),
            op(RESET, {"nodes": ["n1"]}, 900),
            Op(index=901, time=905 * MS, process=NEMESIS, type="info", f=RESET,
               value={"offsets_ms": {"n1": 0.0}, "verified": True})]


def test_offsets_over_time_are_exact_between_ops_and_a_range_while_one_is_applied() -> None:
    spans = clock_spans(clock_history())
    assert offset_during(spans, "n1", 10 * MS, 20 * MS) == (5000.0, 5000.0)
    assert offset_during(spans, "n1", 2 * MS, 2 * MS) == (0.0, 5000.0)
    assert offset_during(spans, "n2", 10 * MS, 20 * MS) == (0.0, 0.0)
    assert offset_during(spans, "n1", 950 * MS, None) == (0.0, 0.0)
    assert offset_during({}, "n1", 0, 1) is None
    assert offset_text(5000) == "+5000 ms" and offset_text(0, 800) == "+0..+800 ms"
    (w,) = fault_windows(clock_history())
    assert (w.kind, w.nodes, w.start_ns, w.end_ns) == ("clock", ("n1",), 3 * MS, 905 * MS)
    assert w.detail == {"offsets_ms": {"n1": 5000.0}}


def lww_history(fast: float) -> History:
    """n1 (clock ``fast`` ms ahead) writes 1; n2 writes 2 later; every read returns the older 1."""
    client = [(100, 0, "invoke", "write", 1, "n1"), (110, 0, "ok", "write", 1, "n1"),
              (300, 1, "invoke", "write", 2, "n2"), (310, 1, "ok", "write", 2, "n2"),
              (400, 2, "invoke", "read", None, "n3"), (410, 2, "ok", "read", 1, "n3")]
    ops = [o for o in clock_history() if o.index < 900]
    ops += [Op(index=10 + i, time=t * MS, process=p, type=ty, f=f, value=v, node=n)  # type: ignore[arg-type]
            for i, (t, p, ty, f, v, n) in enumerate(client)]
    if not fast:
        ops = [o for o in ops if o.process != NEMESIS]
    return History.of(sorted(ops, key=lambda o: o.index))


def test_an_older_write_that_won_by_a_fast_clock_is_explained_with_both_offsets() -> None:
    (a,) = Linearizability(model="register").check(lww_history(5000)).anomalies
    assert a.data["cause"]["pattern"] == "lost-write"
    text = a.data["cause"]["text"]
    assert "write 1 (p0 via n1) was versioned by n1's clock, then +5000 ms off the host's" in text
    assert "write 2 (p1 via n2), begun 0.200 s later, by n2's, at +0 ms" in text
    assert "last-write-wins kept it" in text
    roles = {w["invoke_index"]: w["role"] for w in a.data["witness"]}
    assert roles[10] == "wrote the value read (n1 clock +5000 ms)"
    (plain,) = Linearizability(model="register").check(lww_history(0)).anomalies
    assert "clock" not in plain.data["cause"]["text"]


def test_a_clock_that_was_not_ahead_by_more_than_the_gap_explains_nothing() -> None:
    h = lww_history(5000)
    slow = [o if o.process != NEMESIS or not isinstance(o.value, dict) or "offsets_ms" not in o.value
            else Op(index=o.index, time=o.time, process=NEMESIS, type="info", f=o.f,
                    value={"offsets_ms": {"n1": 150.0}, "verified": True}) for o in h.ops]
    (a,) = Linearizability(model="register").check(History.of(slow)).anomalies
    assert "clock" not in a.data["cause"]["text"]


def test_the_report_plots_each_skewed_node_over_the_run() -> None:
    h = History.of(clock_history())
    fig = clock_figure(h, [], axis_for(h))
    assert fig is not None
    trace, low = fig["data"]  # the offset (its top while applied) and the low end of the ranges
    assert trace["name"] == "n1" and max(trace["y"]) == 5000.0 and trace["y"][-1] == 0.0
    assert low["legendgroup"] == "n1" and min(low["y"]) == 0.0 and low["line"]["dash"] == "dot"
    assert clock_figure(History.of([]), [], axis_for(History.of([]))) is None
