"""The shared op model: Jepsen pairing rules, JSON Lines reading, errors by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.history import NEMESIS, History, HistoryError, Op, op_from_json, op_to_json, read_jsonl


def op(i: int, p: int | str, t: str, f: str = "read", v: object = None) -> Op:
    return Op(index=i, process=p, type=t, f=f, value=v)  # type: ignore[arg-type]


def test_pairing_follows_jepsen() -> None:
    h = History.of([op(0, 0, "invoke", "write", 1), op(1, 1, "invoke"), op(2, NEMESIS, "info", "kill"),
                    op(3, 0, "ok", "write", 1), op(4, 1, "fail"), op(5, 2, "invoke", "write", 2),
                    op(6, 2, "info", "write", 2), op(7, 3, "invoke", "write", 3), op(8, 4, "ok")])
    w, r, info, open_ = h.operations
    assert (w.status, w.call_index, w.return_index) == ("ok", 0, 3)
    assert r.status == "fail"
    assert info.status == "info" and info.value == 2
    assert open_.status == "info" and open_.completion is None and open_.return_index is None
    assert [o.index for o in h.nemesis] == [2, 8]  # the nemesis event and the stray completion


def test_ok_value_is_the_result() -> None:
    h = History.of([op(0, 0, "invoke", "read", None), op(1, 0, "ok", "read", 5)])
    assert h.operations[0].value == 5


def test_invoking_with_an_op_open_names_the_line() -> None:
    with pytest.raises(HistoryError) as e:
        History.of([op(0, 0, "invoke"), op(1, 0, "invoke", "write")], source="h.jsonl", lines=[3, 7])
    assert str(e.value).startswith("h.jsonl:7: process 0 invokes 'write'")


def test_line_of() -> None:
    ops = [op(0, 0, "invoke"), op(1, 0, "ok")]
    h = History.of(ops, lines=[4, 9])
    assert h.line_of(ops[1]) == 9
    assert History.of(ops).line_of(ops[0]) is None


def test_jsonl_round_trip_and_torn_tail(tmp_path: Path) -> None:
    ops = [Op(index=0, time=5, process=0, type="invoke", f="write", value=[1, "a"], node="n1"),
           Op(index=1, time=9, process=0, type="ok", f="write", value=[1, "a"], error={"why": "x"})]
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(op_to_json(o) for o in ops) + "\n")
    assert read_jsonl(p).ops == tuple(ops)
    p.write_text(p.read_text() + '{"index": 2, "proc')
    with pytest.raises(HistoryError) as e:
        read_jsonl(p)
    assert e.value.line == 3
    assert read_jsonl(p, tolerate_torn_tail=True).ops == tuple(ops)


@pytest.mark.parametrize("d, words", [
    ({"process": 0, "type": "done", "f": "read"}, "unknown type"),
    ({"process": -1, "type": "ok", "f": "read"}, "process must be"),
    ({"process": 0, "type": "ok", "f": ""}, "f must be"),
    ({"process": 0, "type": "ok", "f": "read", "bogus": 1}, "unknown field"),
    ({"process": 0, "type": "ok", "f": "read", "time": 1.5}, "time must be"),
    ([1], "expected a JSON object"),
])
def test_op_from_json_errors(d: object, words: str) -> None:
    with pytest.raises(HistoryError, match=words):
        op_from_json(d, file="f.jsonl", line=3)


def _line(**fields: object) -> str:
    d = {"index": 0, "process": 0, "type": "invoke", "f": "write", "value": 1}
    d.update(fields)
    return json.dumps(d)


@pytest.mark.parametrize("raw, words", [
    (_line(value="X").replace('"X"', "[" * 2000 + "]" * 2000), "more than 100 deep"),
    (_line(value="X").replace('"X"', "[" * 101 + "]" * 101), "more than 100 deep"),
    (_line(value="X").replace('"X"', "7" * 4400), "more than 4300 digits"),
    (_line(value="X").replace('"X"', '"caf\udce9"'), "not UTF-8 text (byte"),  # a raw 0xE9 byte
    (_line(value="X").replace('"X"', '"\\ud800"'), "lone surrogate"),
])
def test_bounds_are_errors_with_the_line(tmp_path: Path, raw: str, words: str) -> None:
    p = tmp_path / "h.jsonl"
    p.write_bytes((_line() + "\n" + _line(index=1, type="ok") + "\n" + raw + "\n").encode("utf-8", "surrogateescape"))
    with pytest.raises(HistoryError) as e:
        read_jsonl(p)
    assert str(e.value).startswith(f"{p}:3: ") and words in str(e.value)


def test_what_msgspec_refuses_the_json_module_reads(tmp_path: Path) -> None:
    """NaN, an integer past 64 bits, a missing index, 100 levels of nesting: read as the json module reads them."""
    lines = [_line(value="N").replace('"N"', "NaN"), '{"process": 0, "type": "ok", "f": "write"}',
             _line(index=2, value=2**70), _line(index=3, process=0, type="ok", value="X").replace('"X"', "[" * 100 + "]" * 100)]
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(lines) + "\n")
    ops = read_jsonl(p).ops
    assert ops[0].value != ops[0].value and ops[1].index == 1 and ops[2].value == 2**70
    assert len(repr(ops[3].value)) == 200


def test_reading_shares_equal_data_and_lines_cost_nothing(tmp_path: Path) -> None:
    ops = [Op(index=0, process=0, type="invoke", f="write", value=["k", "a"]),
           Op(index=1, process=0, type="ok", f="write", value=["k", "a"]),
           Op(index=2, process=1, type="invoke", f="read", value=["k", None])]
    p = tmp_path / "h.jsonl"
    p.write_text("".join(op_to_json(o) + "\n" for o in ops))
    h = read_jsonl(p)
    assert h.ops == tuple(ops)
    assert h.ops[1].value is h.ops[0].value and h.ops[2].value[0] is h.ops[0].value[0]
    assert h.lines == range(1, 4) and h.line_of(h.ops[2]) == 3
    p.write_text("\n" + p.read_text())  # a blank first line: the lines are listed
    assert read_jsonl(p).lines == (2, 3, 4)


def test_an_op_is_a_frozen_keyword_only_record() -> None:
    o = op(0, 0, "invoke")
    with pytest.raises(AttributeError):
        o.value = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Op(0, "invoke", 0, "read")  # type: ignore[misc]
    assert o == op(0, 0, "invoke") and hash(o) == hash(op(0, 0, "invoke"))
