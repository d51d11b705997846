"""``splitbrain check FILE --model list-append|rw-register|...``: EDN, JSONL and elle-cli JSON in, verdicts out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.formats import write_history
from tests.support.txn_histories import TxnLog

# Jepsen's own layout: keywords, one op map per line.
G_SINGLE_EDN = """\
{:index 0 :type :invoke :process 0 :f :txn :value [[:append :x 1] [:append :y 1]]}
{:index 1 :type :invoke :process 1 :f :txn :value [[:r :x nil] [:r :y nil]]}
{:index 2 :type :ok :process 0 :f :txn :value [[:append :x 1] [:append :y 1]]}
{:index 3 :type :ok :process 1 :f :txn :value [[:r :x [1]] [:r :y []]]}
{:index 4 :type :invoke :process 2 :f :txn :value [[:r :y nil]]}
{:index 5 :type :ok :process 2 :f :txn :value [[:r :y [1]]]}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_edn_list_append_invalid_with_explanation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "h.edn"
    p.write_text(G_SINGLE_EDN)
    code, out, _ = run(capsys, "check", str(p), "--model", "list-append")
    assert code == 1
    assert "INVALID as list-append under strict-serializable" in out
    assert "anomalies: G-single x1" in out
    assert "violates: snapshot-isolation, repeatable-read" in out
    assert "T2 observed T1's append of 1 to key :x" in out and "a contradiction!" in out


def test_json_output_and_consistency_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "h.edn"
    p.write_text(G_SINGLE_EDN)
    code, out, _ = run(capsys, "check", str(p), "--model", "list-append", "--consistency-model", "read-committed",
                       "--json")
    doc = json.loads(out)
    assert code == 0 and doc["valid"] is True and doc["model"] == "list-append"
    assert doc["stats"]["models"] == ["read-committed"]   # read skew is allowed there, so not even searched


def test_elle_cli_json_array_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ops = [{"index": 0, "type": "invoke", "process": 0, "f": "txn", "value": [["w", "x", 1], ["r", "y", None]]},
           {"index": 1, "type": "invoke", "process": 1, "f": "txn", "value": [["w", "y", 1], ["r", "x", None]]},
           {"index": 2, "type": "ok", "process": 0, "f": "txn", "value": [["w", "x", 1], ["r", "y", 1]]},
           {"index": 3, "type": "ok", "process": 1, "f": "txn", "value": [["w", "y", 1], ["r", "x", 1]],
            "extra": "ignored"}]
    p = tmp_path / "h.json"
    p.write_text("[\n" + ",\n".join(json.dumps(o) for o in ops) + "\n]\n")
    code, out, _ = run(capsys, "check", str(p), "--model", "rw-register")
    assert code == 1 and "G1c" in out


def test_bad_input_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = TxnLog().txn(0, [["append", "x", 1]]).txn(1, [["append", "x", 1]])
    p = write_history(log.ops, tmp_path / "dup.edn")
    code, _, err = run(capsys, "check", str(p), "--model", "list-append")
    assert code == 3
    assert f"{p}:4: element 1 appended to key :x twice" in err
    p.write_text('{:index 0 :type :invoke :process 0 :f :txn :value [[:write :x 1]]}\n')
    code, _, err = run(capsys, "check", str(p), "--model", "list-append")
    assert code == 3 and f"{p}:1: bad micro-op" in err
    code, _, err = run(capsys, "check", str(p), "--model", "list-append", "--consistency-model", "nonsense")
    assert code == 3 and "unknown consistency model" in err


def test_other_jepsen_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "c.edn"
    p.write_text("{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read :value 1}\n")
    code, out, _ = run(capsys, "check", str(p), "--model", "jepsen-counter")
    assert code == 1 and "counter-out-of-bounds" in out
    p.write_text("{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read :value {0 5 1 4}}\n")
    code, out, _ = run(capsys, "check", str(p), "--model", "bank", "--init", "10")
    assert code == 1 and "sums to 9, not 10" in out
    p.write_text("{:process 0 :type :invoke :f :enqueue :value 1}\n{:process 0 :type :ok :f :enqueue :value 1}\n")
    code, out, _ = run(capsys, "check", str(p), "--model", "total-queue")
    assert code == 1 and "lost" in out
    code, out, _ = run(capsys, "check", str(p), "--model", "set-full")
    assert code == 0 or code == 2
