"""History files: every EDN layout, JSON Lines, conversion both ways, errors by line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.formats import load_history, read_value, write_history
from harness.history import NEMESIS, History, HistoryError, Op

CORPUS = Path("/work/shared/corpus")

ONE_PER_LINE = """{:process 0, :type :invoke, :f :write, :value 1, :index 0}
{:process 0, :type :ok, :f :write, :value 1, :index 1}
{:process 1, :type :invoke, :f :read, :value nil, :index 2}
{:process 1, :type :ok, :f :read, :value 1, :index 3}
"""

VECTOR = """; a comment first
[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 0 :type :ok :f :write :value 1}  ; commas are optional
 {:type :info, :f :start, :process :nemesis, :value nil}
 {:f :read
  :process 1,
  :type :invoke}
 {:process 1, :type :ok, :f :read, :value 1, :time 12345, :extra "ignored"}]
"""


def test_one_map_per_line(tmp_path: Path) -> None:
    p = tmp_path / "h.edn"
    p.write_text(ONE_PER_LINE)
    h = load_history(p)
    assert [(o.process, o.type, o.f, o.value, o.index) for o in h.ops] == [
        (0, "invoke", "write", 1, 0), (0, "ok", "write", 1, 1),
        (1, "invoke", "read", None, 2), (1, "ok", "read", 1, 3)]
    assert h.lines == (1, 2, 3, 4)
    assert len(h.operations) == 2 and not h.nemesis


@pytest.mark.parametrize("wrap", ["[{}]", "({})"])
def test_one_vector_or_list_with_multiline_maps_and_comments(tmp_path: Path, wrap: str) -> None:
    body = VECTOR.split("[", 1)[1].rsplit("]", 1)[0]
    p = tmp_path / "h.edn"
    p.write_text("; c\n" + wrap.format(body))
    h = load_history(p)
    assert [o.index for o in h.ops] == [0, 1, 2, 3, 4]  # no :index: position in the file
    assert h.ops[2].process == NEMESIS and h.nemesis == (h.ops[2],)
    assert h.ops[3].value is None  # :value absent
    assert h.ops[4].time == 12345
    assert h.lines == (2, 3, 4, 5, 8)
    (w, r) = h.operations
    assert w.status == "ok" and r.value == 1


def test_corpus_layouts_load(tmp_path: Path) -> None:
    for rel, n_ops in [("porcupine/etcd/etcd_000.edn", 85), ("knossos/multi-register/good/multi-register.edn", 123),
                       ("knossos/mutex/bad/etcd.edn", 563), ("knossos/cas-register/bad/bad-analysis.edn", 9)]:
        h = load_history(CORPUS / rel)
        assert sum(1 for o in h.ops if o.type == "invoke") == n_ops, rel


def write(tmp_path: Path, text: str, name: str = "bad.edn") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, line, words", [
    ("{:process 0, :type :invoke, :f :read}\n{:process 0 :type :ok :f :read", 2, "not EDN"),
    ("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :done, :f :read}", 2, "unknown :type 'done'"),
    ("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :invoke, :f :write}", 2, "still open"),
    ("[{:process 0, :type :invoke, :f :read}\n 7]", 2, "expected an op map"),
    ("{:process -1, :type :invoke, :f :read}", 1, ":process must be"),
    ("{:process 1, :type :invoke}", 1, ":f must be a keyword"),
    ("{:process 1, :type :invoke, :f :x, :index :y}", 1, ":index must be an integer"),
])
def test_malformed_edn_names_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(HistoryError) as e:
        load_history(p)
    assert e.value.line == line and e.value.file == str(p)
    assert words in str(e.value)
    assert str(e.value).startswith(f"{p}:{line}: ")


def test_malformed_jsonl_names_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, '{"index":0,"process":0,"type":"invoke","f":"read","value":null}\n{"index":1,\n',
              "bad.jsonl")
    with pytest.raises(HistoryError) as e:
        load_history(p)
    assert e.value.line == 2 and "not JSON" in str(e.value)


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="unknown history format"):
        load_history(write(tmp_path, "", "h.txt"))


@pytest.mark.parametrize("text, words", [
    ("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :what, :f :read}", "bad.edn:2: unknown :type"),
    ("{:process 0, :type :invoke, :f :read}\n{:process 0 :type", "bad.edn:2: not EDN"),
    ("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :invoke, :f :read}", "bad.edn:2: process 0 invokes"),
])
def test_cli_rejects_malformed_input_with_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 text: str, words: str) -> None:
    p = write(tmp_path, text)
    assert main(["convert", str(p), str(tmp_path / "out.jsonl")]) == 3
    assert main(["check", str(p), "--model", "register"]) == 3
    err = capsys.readouterr().err
    assert err.count(words) == 2 and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


def same_ops(a: History, b: History) -> None:
    assert [(o.index, o.time, o.process, o.type, o.f, o.value, o.node, o.error) for o in a.ops] == \
        [(o.index, o.time, o.process, o.type, o.f, o.value, o.node, o.error) for o in b.ops]


@pytest.mark.parametrize("rel", ["porcupine/etcd/etcd_002.edn", "porcupine/kv/c10-bad.edn",
                                 "knossos/multi-register/good/multi-register.edn", "knossos/mutex/bad/etcd.edn",
                                 "knossos/cas-register/good/mongodb-v0-ack-rollback-3.edn"])
def test_corpus_edn_to_jsonl_to_edn_round_trip(tmp_path: Path, rel: str) -> None:
    original = load_history(CORPUS / rel)
    assert main(["convert", str(CORPUS / rel), str(tmp_path / "h.jsonl")]) == 0
    assert main(["convert", str(tmp_path / "h.jsonl"), str(tmp_path / "h.edn")]) == 0
    same_ops(original, load_history(tmp_path / "h.jsonl"))
    back = load_history(tmp_path / "h.edn")
    same_ops(original, back)
    assert len(back.operations) == len(original.operations)


def test_written_edn_uses_jepsen_keywords(tmp_path: Path) -> None:
    ops = [Op(index=0, process=0, type="invoke", f="txn", value=[["read", "x", None]]),
           Op(index=1, process=0, type="ok", f="txn", value=[["read", "x", 3]], error="timed-out"),
           Op(index=2, process=NEMESIS, type="info", f="start-partition", value="majority")]
    text = write_history(ops, tmp_path / "h.edn").read_text()
    assert text.splitlines()[1] == "{:index 1, :process 0, :type :ok, :f :txn, :value [[:read :x 3]], :error :timed-out}"
    assert ":process :nemesis" in text and ':value "majority"' in text


values = st.recursive(st.none() | st.integers(-5, 5) | st.text("ab :\"\\\n", max_size=4),
                      lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@st.composite
def histories(draw: Any) -> list[Op]:
    ops: list[Op] = []
    open_: set[int] = set()
    for i in range(draw(st.integers(0, 12))):
        p = draw(st.integers(0, 3))
        if draw(st.integers(0, 5)) == 0:
            ops.append(Op(index=i, process=NEMESIS, type="info", f="kill", value=draw(values)))
        elif p in open_:
            open_.discard(p)
            ops.append(Op(index=i, process=p, type=draw(st.sampled_from(["ok", "fail", "info"])),
                          f=draw(st.sampled_from(["read", "write", "cas"])), value=draw(values),
                          error=draw(st.none() | st.sampled_from(["timed-out", "a b"])),
                          time=draw(st.none() | st.integers(0, 10**12))))
        else:
            open_.add(p)
            ops.append(Op(index=i, process=p, type="invoke", f=draw(st.sampled_from(["read", "write", "cas"])),
                          value=draw(values), node=draw(st.none() | st.sampled_from(["n1", "n2"]))))
    return ops


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=histories())
def test_edn_jsonl_edn_keeps_any_history(tmp_path: Path, ops: list[Op]) -> None:
    original = History.of(ops)
    write_history(original, tmp_path / "a.edn")
    via_edn = load_history(tmp_path / "a.edn")
    write_history(via_edn, tmp_path / "b.jsonl")
    via_jsonl = load_history(tmp_path / "b.jsonl")
    write_history(via_jsonl, tmp_path / "c.edn")
    for h in (via_edn, via_jsonl, load_history(tmp_path / "c.edn")):
        same_ops(original, h)


@pytest.mark.parametrize("layout", ["ours", "flat", "vector"])
def test_every_edn_reader_reads_the_same_ops(tmp_path: Path, layout: str) -> None:
    """The line regex, the flat-map reader and the general reader agree (the fuzz suite mutates this)."""
    from harness.formats import _read_edn_forms, op_to_edn
    ops = [Op(index=0, time=5, process=0, type="invoke", f="cas", value=[1, "a\\\"b"], node="n1"),
           Op(index=1, time=9, process=0, type="info", f="cas", value=[1, "a\\\"b"], error="timed-out"),
           Op(index=2, process=NEMESIS, type="info", f="kill", value=None),
           Op(index=3, process=1, type="invoke", f="read", value=None),
           Op(index=4, process=1, type="ok", f="read", value=3.5)]
    lines = [op_to_edn(o) for o in ops]
    if layout == "flat":
        lines = [ln.replace("{:index", "{:extra 1, :index") for ln in lines]
    text = "[" + "\n".join(lines) + "]\n" if layout == "vector" else "\n".join(lines) + "\n"
    p = write(tmp_path, text)
    h = load_history(p)
    assert h.ops == tuple(ops) and tuple(h.lines or ()) == (1, 2, 3, 4, 5)
    assert h.ops == tuple(_read_edn_forms(p)[0])


def test_an_output_name_too_long_is_a_history_error(tmp_path: Path) -> None:
    ops = [Op(index=0, process=0, type="invoke", f="read")]
    with pytest.raises(HistoryError, match="cannot write: File name too long"):
        write_history(ops, tmp_path / ("x" * 300 + ".edn"))
    assert list(tmp_path.iterdir()) == []
    assert write_history(ops, tmp_path / ("x" * 245 + ".jsonl")).exists()  # its temporary name is short


@pytest.mark.parametrize("text, value", [("0", 0), ("nil", None), ("{:x 0 :y 0}", {"x": 0, "y": 0}),
                                         ('{"x": [1, 2]}', {"x": [1, 2]}), ("#{1}", [1])])
def test_read_value_takes_json_or_edn(text: str, value: Any) -> None:
    assert read_value(text) == value


@pytest.mark.parametrize("text, words", [("[" * 3000, "deep"), ("[" * 101 + "]" * 101, "deep"),
                                         ("9" * 5000, "digits"), ("{:a", "neither JSON nor EDN")])
def test_read_value_errors(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        read_value(text)
