"""The streaming check (:mod:`checkers.linear.stream`) decides what load + check decides, in bounded memory.

``Linearizability.check(HistoryFile(path))`` against
``Linearizability.check(load_history(path))``: the same verdict, stats and
anomaly on every corpus file and on hypothesis-generated histories of every
model (fail, info, never-completed and nemesis events, JSONL and EDN); the
same partitions; the same error, file and line, for bad input; and what it
holds is its partitions' columns, nothing for the events it has read.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.api import CheckResult, Verdict
from checkers.linear.models import make_model
from checkers.linear.partition import partition
from checkers.linear.stream import HistoryFile
from checkers.linearizability import Linearizability
from harness.formats import load_history, write_history
from harness.history import HistoryError, Op
from tests.support.corpus import CORPUS, checker_for, manifest_rows

ROWS = manifest_rows()


def _same(a: CheckResult, b: CheckResult) -> None:
    assert b.verdict is a.verdict
    assert {k: v for k, v in b.stats.items() if k != "elapsed_s"} == {k: v for k, v in a.stats.items()
                                                                      if k != "elapsed_s"}
    assert [x.to_json() for x in b.anomalies] == [x.to_json() for x in a.anomalies]
    assert b.error == a.error


def _outcome(check: Any, source: Any) -> Any:
    try:
        return check(source)
    except HistoryError as e:
        return str(e)


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_the_stream_agrees_with_load_and_check_on_the_corpus(row: dict[str, str]) -> None:
    path = CORPUS / row["path"]
    _same(checker_for(row).check(load_history(path)), checker_for(row).check(HistoryFile(path)))


KV = ("get", "put", "append")
CALLS = {"register": ("read", "write"), "cas-register": ("read", "write", "cas"), "kv": KV,
         "counter": ("read", "add"), "set": ("read", "add"), "mutex": ("acquire", "release")}


@st.composite
def events(draw: Any, model: str) -> list[Op]:
    """Random events: any process may invoke or complete, nemesis events, shuffled indices at times."""
    out = []
    n = draw(st.integers(0, 40))
    for i in range(n):
        p = draw(st.sampled_from([0, 1, 2, 3, "nemesis"]))
        t = draw(st.sampled_from(["invoke", "invoke", "ok", "ok", "fail", "info"]))
        f = draw(st.sampled_from(CALLS[model]))
        v: Any = draw(st.sampled_from([None, 0, 1, 2]))
        if model == "kv":
            v = [draw(st.sampled_from("ab")), draw(st.sampled_from([None, "", "1", "2", "12", "21"]))]
        elif model == "cas-register" and f == "cas":
            v = [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
        elif model == "set" and f == "read" and t == "ok":
            v = draw(st.lists(st.integers(0, 2), max_size=3))
        if draw(st.integers(0, 30)) == 0:
            v = "garbage"  # a value the model cannot use: an error both paths must name alike
        out.append(Op(index=i, process=p, type=t, f=f, value=v))  # type: ignore[arg-type]
    if draw(st.booleans()):  # indices that do not increase: positions are then the event order
        idx = draw(st.permutations(range(len(out))))
        out = [Op(index=j, process=o.process, type=o.type, f=o.f, value=o.value) for j, o in zip(idx, out)]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data(), model=st.sampled_from(sorted(CALLS)), fmt=st.sampled_from([".jsonl", ".edn"]))
def test_the_stream_agrees_with_load_and_check_on_generated_histories(tmp_path: Path, data: Any, model: str,
                                                                       fmt: str) -> None:
    ops = data.draw(events(model))
    path = write_history(ops, tmp_path / f"h{fmt}")
    checker = Linearizability(model=model, init=0 if model in ("register", "cas-register", "counter") else None)
    a = _outcome(lambda p: checker.check(load_history(p)), path)
    b = _outcome(lambda p: checker.check(HistoryFile(p)), path)
    if isinstance(a, str) or isinstance(b, str):
        assert b == a
        return
    _same(a, b)
    m = checker.model
    try:
        loaded = partition(load_history(path), m)
    except HistoryError:
        return
    streamed = HistoryFile(path).partitions(m)
    assert [(p.key, p.calls, [r is None for r in p.rp], p.dropped) for p in streamed] == \
           [(p.key, p.calls, [r is None for r in p.rp], p.dropped) for p in loaded]
    for s, l in zip(streamed, loaded):  # the same real-time order of invocations and completions
        assert _ranks(s) == _ranks(l)
        assert [o.invoke.index for o in s.ops] == [o.invoke.index for o in l.ops]


def _ranks(p: Any) -> list[tuple[int, int | None]]:
    points = sorted([*p.cp, *(r for r in p.rp if r is not None)])
    rank = {x: i for i, x in enumerate(points)}
    return [(rank[c], None if r is None else rank[r]) for c, r in zip(p.cp, p.rp)]


def _lines(ops: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o) + "\n" for o in ops)


def _kv(i: int, p: int, t: str, f: str, v: Any) -> dict[str, Any]:
    return {"index": i, "process": p, "type": t, "f": f, "value": v}


GOOD = [_kv(0, 0, "invoke", "put", ["a", "1"]), _kv(1, 0, "ok", "put", ["a", "1"]),
        _kv(2, 1, "invoke", "get", ["a", None]), _kv(3, 1, "ok", "get", ["a", "1"])]


@pytest.mark.parametrize("bad, line", [
    ('{"index": 4, "process": 0, "type": "invoke", "f": "get", "value": ["a", null]}\n{"index": 5, "process": 0}',
     6),  # not an op: the loader's message
    ('{"index": 4, "process": 1, "type": "invoke", "f": "get", "value": ["a", null]}\n'
     '{"index": 5, "process": 1, "type": "invoke", "f": "get", "value": ["a", null]}', 6),  # invokes while open
    ('{"index": 4, "process": 2, "type": "invoke", "f": "get", "value": "a"}\n'
     '{"index": 5, "process": 2, "type": "ok", "f": "get", "value": "a"}', 5),  # not [k v]: the model's message
    ('{"index": 4, "process": 2, "type": "invoke", "f": "get", "value": ["a", null]}\n'
     '{"index": 5, "process": 2, "type": "ok", "f": "get", "value": 7}', 5),  # named at its invocation
    ('{"index": 4, "process": 2, "type": "invoke", "f": "get", "value": ["a", null]}\n'
     '{"index": 5, "process": 2, "type": "ok", "f": "get", "value": 7}\n'
     '{"index": 6, "process": 3, "type": "invoke", "f": "cas", "value": ["a", "1"]}', 5),  # the first by invocation
    ('{"index": 4, "process": 3, "type": "invoke", "f": "cas", "value": ["a", "1"]}\n'
     '{"index": 5, "process": 2, "type": "invoke", "f": "get", "value": ["a", null]}\n'
     '{"index": 6, "process": 2, "type": "ok", "f": "get", "value": 7}', 5),  # ... even if it never completed
    ('\xff', 5),
])
def test_bad_input_is_the_same_error_at_the_same_line(tmp_path: Path, bad: str, line: int) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_lines(GOOD).encode() + bad.encode("utf-8", "surrogateescape")
                     if bad != "\xff" else _lines(GOOD).encode() + b'{"index": 4, "\xff"}\n')
    checker = Linearizability(model="kv")
    a = _outcome(lambda p: checker.check(load_history(p)), path)
    b = _outcome(lambda p: checker.check(HistoryFile(p)), path)
    assert isinstance(a, str) and b == a
    assert b.startswith(f"{path}:{line}: "), b


def _write_kv(path: Path, n: int, *, fail: bool = False) -> None:
    with path.open("w", encoding="utf-8") as fh:  # lines of some 150 bytes: a 4 MiB block is 14,000 ops
        for i in range(n):
            k, v = str(i % 7), f"x {i} y".ljust(64, ".")
            fh.write(json.dumps(_kv(2 * i, i % 5, "invoke", "append", [k, v])) + "\n")
            fh.write(json.dumps(_kv(2 * i + 1, i % 5, "fail" if fail else "ok", "append", [k, v])) + "\n")


def _held(path: Path) -> tuple[int, int, int]:
    """Bytes held by the partitions of ``path`` once read, the peak while reading, and the ops searched."""
    m = make_model("kv")
    tracemalloc.start()
    try:
        parts = HistoryFile(path).partitions(m)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held, peak, sum(len(p) for p in parts)


def test_what_the_stream_holds_is_its_columns_not_the_events(tmp_path: Path) -> None:
    from checkers.linearizability import ENTRY_BYTES
    sizes = (20_000, 50_000)
    got = []
    for n in sizes:
        path = tmp_path / f"{n}.jsonl"
        _write_kv(path, n)
        got.append(_held(path))
        path.unlink()
    assert [n for _, _, n in got] == list(sizes)
    (held_s, peak_s, _), (held_l, peak_l, _) = got
    per_op = (held_l - held_s) / (sizes[1] - sizes[0])
    value = 49 + 64  # the appended str, held by the call alone
    assert per_op < ENTRY_BYTES + value + 24, per_op  # a call, its value, two positions: no Op, no Operation
    # beyond the columns, a block of lines and its events: the same whatever the length
    assert peak_l - held_l < 48 * 2**20 and peak_l - held_l < 1.3 * (peak_s - held_s)
    failed = tmp_path / "failed.jsonl"
    _write_kv(failed, 30_000, fail=True)
    held_f, _, n_f = _held(failed)
    assert n_f == 0 and held_f < 2**20  # failed ops never happened: nothing is kept of them


def test_an_invalid_key_reads_its_own_operations_again(tmp_path: Path) -> None:
    ops = [*GOOD, _kv(4, 2, "invoke", "put", ["b", "9"]), _kv(5, 2, "fail", "put", ["b", "9"]),
           _kv(6, 3, "invoke", "get", ["b", None]), _kv(7, 3, "ok", "get", ["b", "9"]),
           {"index": 8, "process": "nemesis", "type": "info", "f": "start", "value": None}]
    path = tmp_path / "h.jsonl"
    path.write_text(_lines(ops), encoding="utf-8")
    hf = HistoryFile(path)
    res = Linearizability(model="kv").check(hf)
    assert res.verdict is Verdict.INVALID
    assert res.anomalies == Linearizability(model="kv").check(load_history(path)).anomalies
    (part,) = [p for p in hf.partitions(make_model("kv")) if p.key == "b"]
    sub = hf.history_for(part)
    assert [(o.invoke.index, o.status) for o in sub.operations] == [(4, "fail"), (6, "ok")]  # key b alone
    assert [o.f for o in sub.nemesis] == ["start"] and list(sub.lines or ()) == [5, 6, 7, 8, 9]
    assert part.ops == [sub.operations[1]]  # the failed put is in the history, not searched


def test_the_check_command_streams_a_large_file_with_the_same_answer(tmp_path: Path, monkeypatch: Any,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main
    from harness.commands import check as command

    def run(argv: list[str]) -> tuple[int, str]:
        code = main(['check', *argv])
        out = capsys.readouterr()
        return code, out.out + out.err

    invalid = next(r for r in ROWS if r["expected"] == "not-linearizable" and r["model"] == "kv")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_lines(GOOD) + '{"index": 4, "process": 0, "type": "nope", "f": "get"}\n', encoding="utf-8")
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"index": 0, "process": "nemesis", "type": "info", "f": "start"}\n', encoding="utf-8")
    cases = [[str(CORPUS / invalid["path"]), "--model", "kv", "--json"], [str(bad), "--model", "kv"],
             [str(empty), "--model", "kv", "--json"]]
    loaded = [run(c) for c in cases]
    monkeypatch.setattr(command, "STREAM_BYTES", 0)
    streamed = [run(c) for c in cases]
    assert [code for code, _ in streamed] == [code for code, _ in loaded] == [1, 3, 2], (loaded, streamed)
    docs = [json.loads(loaded[0][1]), json.loads(streamed[0][1])]
    assert docs[1]["anomaly"] == docs[0]["anomaly"] and docs[1]["ops"] == docs[0]["ops"]
    assert streamed[1][1] == loaded[1][1] and f"{bad}:5:" in streamed[1][1]
    assert json.loads(streamed[2][1])["error"] == json.loads(loaded[2][1])["error"]


def test_the_memory_bound_counts_the_values_the_stream_alone_holds(tmp_path: Path) -> None:
    from checkers.linearizability import ENTRY_BYTES
    path = tmp_path / "h.jsonl"
    with path.open("w", encoding="utf-8") as fh:  # 3000 puts of 200-character values, one after another
        for i in range(3000):
            v = f"{i:0200d}"
            fh.write(json.dumps(_kv(2 * i, 0, "invoke", "put", ["k", v])) + "\n")
            fh.write(json.dumps(_kv(2 * i + 1, 0, "ok", "put", ["k", v])) + "\n")
    hf = HistoryFile(path)
    budget = 3000 * (ENTRY_BYTES + 100) / 2**20  # the columns fit, the columns and their values do not
    res = Linearizability(model="kv", max_cache_mb=budget).check(hf)
    assert 240 <= hf.value_bytes < 300  # a 200-character str
    assert res.verdict is Verdict.UNKNOWN and "memory bound" in (res.error or "")
    loaded = Linearizability(model="kv", max_cache_mb=budget).check(load_history(path))
    assert loaded.verdict is Verdict.VALID  # the loaded history holds those values: not the check


def test_an_edn_layout_found_out_past_the_first_block_is_read_whole_and_checked_alike(tmp_path: Path) -> None:
    from harness.formats import op_to_edn
    ops = []
    for i in range(1_200):  # past the reader's 4 MiB block
        v = f"{i % 3}" * 2000
        ops += [Op(index=2 * i, process=0, type="invoke", f="write", value=v),
                Op(index=2 * i + 1, process=0, type="ok", f="write", value=v)]
    ops += [Op(index=2_400, process=1, type="invoke", f="read", value=None),
            Op(index=2_401, process=1, type="ok", f="read", value="7")]
    lines = [op_to_edn(o) for o in ops]
    lines[-1] = lines[-1].replace("{", "{\n", 1)  # the last map over two lines: no longer one op a line
    path = tmp_path / "mixed.edn"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hf = HistoryFile(path)
    _same(Linearizability(model="register").check(load_history(path)), Linearizability(model="register").check(hf))
    assert path.stat().st_size > 4 * 2**20 and hf.operations == 1_201 and hf._loaded is not None
