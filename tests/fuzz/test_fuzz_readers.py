"""Fuzz: every history reader, on mutated real files, answers a History or a HistoryError naming FILE:LINE.

And the fast paths decide exactly what the reference readers decide: the
msgspec JSON Lines path against the json module line by line, the EDN line
path against the general EDN reader. What a reader accepts, both writers
write or refuse with a HistoryError, and it reads back the same.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.formats import _read_edn_forms, _read_edn_lines, load_history, read_value, write_history
from harness.history import History, HistoryError, Op, _reference_op, read_jsonl
from harness.results_file import ResultsFileError, read_results_file
from tests.fuzz.mutations import SEED_RUN, fuzz_settings, mutated_bytes, mutated_jsonl, mutated_results, seed_lines

JSONL_SEED = seed_lines(80)
_SEED_HISTORY = History.of(op for _, op in zip(range(79), (read_jsonl(SEED_RUN / "history.jsonl").ops)))


def _edn_seed(layout: str) -> bytes:
    from harness.formats import op_to_edn
    lines = [op_to_edn(o) for o in _SEED_HISTORY.ops[:60]]
    if layout == "vector":  # Knossos's layout: one vector, maps over several lines, comments
        return ("; a history\n[" + "\n ".join(lines) + "]\n").encode()
    if layout == "jepsen":  # another key order: the line path's second tier
        return "".join(l.replace("{:index", "{:x 1, :index") + "\n" for l in lines).encode()
    return "".join(l + "\n" for l in lines).encode()


EDN_SEEDS = {k: _edn_seed(k) for k in ("lines", "vector", "jepsen")}


def fields(h: History) -> list[str]:
    return [repr((o.index, o.time, o.process, o.type, o.f, o.value, o.node, o.error)) for o in h.ops]


def outcome(read: Any, path: Path) -> Any:
    """The ops read, or the error's class: what both paths must agree on."""
    try:
        got = read(path)
        if got is None:  # the EDN line path passing a file on to the general reader
            return None
        h = got if isinstance(got, History) else History.of(got[0], source=path, lines=got[1])
    except HistoryError as e:
        assert_names_file_and_line(e, path)
        return "error"
    return fields(h)


def assert_names_file_and_line(e: HistoryError, path: Path) -> None:
    assert str(e).startswith(f"{path}:"), str(e)
    assert e.line is not None or e.message.startswith("cannot read"), str(e)
    assert "\n" not in str(e)[:500]


def reference_jsonl(path: Path) -> History:
    """JSON Lines read by the json module line by line: what the fast path must match."""
    ops: list[Op] = []
    lines: list[int] = []
    for n, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if raw.strip():
            ops.append(_reference_op(raw, file=path, line=n, position=len(ops)))
            lines.append(n)
    return History.of(ops, source=path, lines=lines)


def round_trips(h: History, tmp: Path) -> None:
    """Both writers write ``h`` or refuse with a HistoryError; what they write reads back the same."""
    for name in ("back.jsonl", "back.edn"):
        try:
            out = write_history(h, tmp / name)
        except HistoryError as e:
            assert str(e).startswith(str(tmp / name)), str(e)
            continue
        again = load_history(out)
        if any(isinstance(o.value, float) and math.isnan(o.value) for o in h.ops):
            continue  # NaN is not equal to itself; its line was read, that is enough
        assert fields(again) == fields(h), name


@fuzz_settings(300)
@given(data=mutated_jsonl(JSONL_SEED))
def test_jsonl_reader_answers_history_or_file_line_error(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "h.jsonl"
    p.write_bytes(data)
    fast = outcome(load_history, p)
    assert fast == outcome(reference_jsonl, p)
    if fast != "error":
        round_trips(load_history(p), tmp_path)


@fuzz_settings(60)
@given(data=mutated_jsonl(JSONL_SEED))
def test_a_torn_tail_is_dropped_only_when_asked(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "h.jsonl"
    p.write_bytes(data.rstrip(b"\n") + b'\n{"index": 9999, "proc')
    assert outcome(read_jsonl, p) == "error"
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(data.rstrip(b"\n") + b"\n")
    tolerant = outcome(lambda q: read_jsonl(q, tolerate_torn_tail=True), p)
    assert tolerant == outcome(read_jsonl, whole)


@pytest.mark.parametrize("layout", sorted(EDN_SEEDS))
@fuzz_settings(120)
@given(data=st.data())
def test_edn_reader_answers_history_or_file_line_error(tmp_path: Path, layout: str, data: Any) -> None:
    p = tmp_path / "h.edn"
    p.write_bytes(data.draw(mutated_bytes(EDN_SEEDS[layout])))
    got = outcome(load_history, p)
    lines = outcome(_read_edn_lines, p)
    if lines is not None:  # the line path took the file: the general reader must agree
        assert lines == outcome(_read_edn_forms, p) == got
    if got != "error":
        round_trips(load_history(p), tmp_path)


@fuzz_settings(150)
@given(text=st.sampled_from(["0", "nil", "{:x 0 :y 0}", "[1 2]", '"a"', "#{1 2}", "{\"x\": [1]}"])
       .flatmap(lambda s: mutated_bytes(s.encode()))
       .map(lambda b: b.decode("utf-8", "replace")))
def test_init_values_are_data_or_a_value_error(text: str) -> None:
    try:
        v = read_value(text)
    except ValueError as e:
        assert len(str(e)) < 300 and "\n" not in str(e)
        return
    json.dumps(v, default=repr)  # plain data, shallow enough to walk


@fuzz_settings(200)
@given(data=mutated_results(json.loads((SEED_RUN / "results.json").read_text())))
def test_results_json_reader_answers_object_or_file_error(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "results.json"
    p.write_bytes(data)
    try:
        d = read_results_file(p)
    except ResultsFileError as e:
        assert str(e).startswith(str(p)), str(e)
        return
    assert isinstance(d, dict) and isinstance(d.get("checkers", {}), dict)
    assert isinstance(d.get("stats", {}), dict)


def test_the_seeds_are_read_as_they_are(tmp_path: Path) -> None:
    """The unmutated seeds load (else the fuzzing above only ever tests errors)."""
    assert len(read_jsonl(SEED_RUN / "history.jsonl").operations) > 200
    read_results_file(SEED_RUN / "results.json")
    for layout, data in EDN_SEEDS.items():
        p = tmp_path / f"{layout}.edn"
        p.write_bytes(data)
        assert fields(load_history(p)) == fields(History.of(_SEED_HISTORY.ops[:60])), layout
