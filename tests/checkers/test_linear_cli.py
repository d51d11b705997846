"""``splitbrain check`` and ``splitbrain convert``: exit codes, output, engines."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.formats import write_history
from harness.history import Op

CORPUS = Path("/work/shared/corpus")
GOOD = CORPUS / "knossos/cas-register/good/memstress3-1.edn"
BAD = CORPUS / "knossos/cas-register/bad/bad-analysis.edn"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_and_invalid_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(GOOD), "--model", "cas-register", "--init", "0", "--nil-read-unknown")
    assert code == 0 and "linearizable as a cas-register" in out
    code, out, _ = run(capsys, "check", str(BAD), "--model", "cas-register", "--init", "0", "--nil-read-unknown")
    assert code == 1 and "NOT linearizable" in out
    assert "process 21 read 2 (index 13..14) cannot be linearized" in out
    assert "concurrent with it" in out
    # without the Knossos convention, ok reads of nil are real values and the good file fails
    code, _, _ = run(capsys, "check", str(GOOD), "--model", "cas-register", "--init", "0")
    assert code == 1


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(BAD), "--model", "cas-register", "--init", "0",
                       "--nil-read-unknown", "--json")
    doc = json.loads(out)
    assert code == 1
    assert set(doc) == {"valid", "model", "ops", "elapsed_s", "anomaly"}
    assert doc["valid"] is False and doc["model"] == "cas-register" and doc["ops"] == 9
    assert doc["anomaly"]["data"]["op"]["complete_index"] == 14
    code, out, _ = run(capsys, "check", str(GOOD), "--model", "cas-register", "--init", "0",
                       "--nil-read-unknown", "--json")
    assert code == 0 and json.loads(out)["valid"] is True and json.loads(out)["anomaly"] is None


def test_timeout_gives_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 24
    ops = [Op(index=i, process=i, type="invoke", f="add", value=1) for i in range(n)]
    ops += [Op(index=n + i, process=i, type="ok", f="add", value=1) for i in range(n)]
    ops += [Op(index=2 * n, process=n, type="invoke", f="read"), Op(index=2 * n + 1, process=n, type="ok", f="read", value=99)]
    p = write_history(ops, tmp_path / "h.jsonl")
    code, out, _ = run(capsys, "check", str(p), "--model", "counter", "--timeout", "0.05", "--json")
    assert code == 2
    doc = json.loads(out)
    assert doc["valid"] == "unknown" and "time budget" in doc["error"]


@pytest.mark.parametrize("init", ["{:x 0 :y 0}", '{"x": 0, "y": 0}'])
def test_init_as_edn_or_json(capsys: pytest.CaptureFixture[str], init: str) -> None:
    path = CORPUS / "knossos/multi-register/good/multi-register.edn"
    code, _, _ = run(capsys, "check", str(path), "--model", "multi-register", "--init", init, "--nil-read-unknown")
    assert code == 0


@pytest.mark.parametrize("argv, words", [
    (["--model", "cas-register", "--init", "{:x"], "neither JSON nor EDN"),
    ([], "--model is required"),
    (["--model", "no-such-model"], "Invalid value for '--model'"),
    (["--model", "kv"], "the kv model needs [key value]"),
    (["--model", "register", "--timeout", "-1"], "Invalid value for '--timeout'"),
])
def test_usage_errors_exit_3(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    code, out, err = run(capsys, "check", str(BAD), *argv)
    assert code == 3
    assert words in err and "Traceback" not in err


def test_value_the_model_cannot_use_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "h.edn"
    p.write_text("{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n"
                 "{:process 1 :type :invoke :f :cas :value 7}\n")
    code, _, err = run(capsys, "check", str(p), "--model", "cas-register")
    assert code == 3
    assert f"{p}:3: op index 2 (cas): the cas-register model needs cas values [old new], got 7" in err


def test_knossos_engine_not_installed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(BAD), "--model", "cas-register", "--engine", "knossos",
                       "--knossos-cmd", "/nonexistent/knossos")
    assert code == 3 and "Knossos is not installed" in err
    assert err.strip().count("\n") == 0  # one sentence, one line


def fake_knossos(tmp_path: Path, answer: str) -> str:
    """A stand-in for ``knossos.cli``: checks it got --model M FILE with EDN, prints ``FILE<TAB>answer``."""
    script = tmp_path / "fake-knossos"
    script.write_text(f"""#!{sys.executable}
import sys
args = sys.argv[1:]
assert args[0] == "--model", args
text = open(args[2]).read()
assert ":type :invoke" in text and ":f :read" in text, text[:200]
print(args[2] + "\t" + "{answer}")
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize("answer, code", [("true", 0), ("false", 1), (":unknown", 2)])
def test_knossos_engine_maps_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str], answer: str,
                                   code: int) -> None:
    got, out, _ = run(capsys, "check", str(BAD), "--model", "cas-register", "--engine", "knossos",
                      "--knossos-cmd", fake_knossos(tmp_path, answer), "--json")
    assert got == code
    assert json.loads(out)["valid"] == {0: True, 1: False, 2: "unknown"}[code]


def test_knossos_engine_refuses_models_its_cli_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(CORPUS / "porcupine/kv/c01-ok.edn"), "--model", "kv",
                       "--engine", "knossos", "--knossos-cmd", fake_knossos(tmp_path, "true"))
    assert code == 3 and "Knossos's CLI has no 'kv' model" in err


def test_a_directory_is_rechecked_as_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(tmp_path))
    assert code == 3  # not a run folder: harness.store says so
    assert str(tmp_path) in out + err


def test_convert_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "convert", str(BAD), str(tmp_path / "h.jsonl"))
    assert code == 0 and "wrote" in out
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    first: dict[str, Any] = json.loads(lines[0])
    assert first == {"index": 0, "process": 4, "type": "invoke", "f": "write", "value": 2}
    code, _, _ = run(capsys, "convert", str(tmp_path / "h.jsonl"), str(tmp_path / "h.edn"))
    assert code == 0
    code, _, _ = run(capsys, "check", str(tmp_path / "h.edn"), "--model", "cas-register", "--init", "0",
                     "--nil-read-unknown")
    assert code == 1
    code, _, err = run(capsys, "convert", str(BAD), str(tmp_path / "h.csv"))
    assert code == 3 and "unknown history format" in err
