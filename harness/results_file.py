"""Reading a run's ``results.json``: JSON within the input bounds, its fields of the types written.

``results.json`` is written by the runner (``docs/DESIGN.md``, "results.json")
but read back by ``check RUN_DIR``, ``report`` and ``clean`` from folders that
may have been copied, edited, truncated or planted. :func:`read_results_file`
is the one reader: it takes UTF-8 JSON of one object, within
:mod:`harness.input_limits` (size, depth, digits), and checks the type of each
field the document defines, so that the code that uses a field can trust its
type; fields it does not know are left as they are. Every failure is a
:class:`ResultsFileError` whose text reads ``FILE[:LINE]: what is wrong``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from harness.input_limits import MAX_DEPTH, MAX_INT_DIGITS, MAX_OP_BYTES, decode_utf8, depth_exceeds, too_large

__all__ = ["MAX_RESULTS_BYTES", "ResultsFileError", "check_fields", "read_results_file"]

MAX_RESULTS_BYTES = 4 * MAX_OP_BYTES
"""A results.json samples its history; a quarter of a gigabyte is not one any more."""

_NUM = (int, float)
_STR_OR_NONE = (str, type(None))
# field -> (accepted types, how to say them); see docs/DESIGN.md "results.json"
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "seed": ((int, type(None)), "an integer"),
    "run_id": (_STR_OR_NONE, "a string"), "target": (_STR_OR_NONE, "a string"),
    "variant": (_STR_OR_NONE, "a string"), "backend": (_STR_OR_NONE, "a string"),
    "workload": (_STR_OR_NONE, "a string"), "command": (_STR_OR_NONE, "a string"),
    "seed_fixes": (_STR_OR_NONE, "a string"), "started_at": (_STR_OR_NONE, "a string"),
    "status": (_STR_OR_NONE, "a string"), "error": (_STR_OR_NONE, "a string"),
    "phase": (_STR_OR_NONE, "a string"), "signal": (_STR_OR_NONE, "a string"),
    "nodes": ((list,), "a list of strings"), "nemesis": ((list,), "a list of strings"),
    "time_limit_s": (_NUM + (type(None),), "a number"), "rate": (_NUM + (type(None),), "a number or null"),
    "nemesis_interval_s": (_NUM + (type(None),), "a number or null"),
    "concurrency": ((int, type(None)), "an integer"),
    "checkers": ((dict,), "an object of name -> result"), "stats": ((dict,), "an object"),
    "faults": ((list,), "a list of objects"), "options": ((dict,), "an object"),
}
_CHECKER_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "checker": (_STR_OR_NONE, "a string"), "error": (_STR_OR_NONE, "a string"),
    "stats": ((dict,), "an object"), "anomalies": ((list,), "a list of objects"),
}
_ANOMALY_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "kind": ((str,), "a string"), "summary": ((str,), "a string"),
    "ops": ((list,), "a list"), "data": ((dict,), "an object"),
}


class ResultsFileError(ValueError):
    """A results.json that cannot be used; ``str()`` reads ``FILE[:LINE]: what is wrong``."""


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def _check(d: Mapping[str, Any], fields: Mapping[str, tuple[tuple[type, ...], str]], where: str,
           path: Path) -> None:
    for name, (types, words) in fields.items():
        if name in d and (not isinstance(d[name], types) or (isinstance(d[name], bool) and bool not in types)):
            raise ResultsFileError(f"{path}: {where}{name!r} must be {words}, got {_kind(d[name])}")


def check_fields(d: Mapping[str, Any], path: Path) -> None:
    """Raise :class:`ResultsFileError` unless every known field of ``d`` has its documented type."""
    v = d.get("valid", "unknown")
    if v not in (True, False, "unknown") or isinstance(v, (int, float)) and not isinstance(v, bool):
        raise ResultsFileError(f"{path}: 'valid' must be true, false or \"unknown\", got {json.dumps(v)[:40]}")
    _check(d, _FIELDS, "", path)
    for name in ("nodes", "nemesis"):
        if any(not isinstance(x, str) for x in d.get(name, ())):
            raise ResultsFileError(f"{path}: {name!r} must be a list of strings")
    if any(not isinstance(x, dict) for x in d.get("faults", ())):
        raise ResultsFileError(f"{path}: 'faults' must be a list of objects")
    for cname, res in d.get("checkers", {}).items():
        if not isinstance(res, dict):
            raise ResultsFileError(f"{path}: checker {cname!r}: its result must be an object, got {_kind(res)}")
        _check(res, _CHECKER_FIELDS, f"checker {cname!r}: ", path)
        for a in res.get("anomalies", ()):
            if not isinstance(a, dict):
                raise ResultsFileError(f"{path}: checker {cname!r}: each anomaly must be an object, got {_kind(a)}")
            _check(a, _ANOMALY_FIELDS, f"checker {cname!r}: an anomaly's ", path)


def read_results_file(path: str | Path) -> dict[str, Any]:
    """The object in ``path``; ``FileNotFoundError`` as is (callers word it), else :class:`ResultsFileError`."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_RESULTS_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ResultsFileError(f"{path}: cannot read: {e.strerror}") from None
    if len(data) > MAX_RESULTS_BYTES:
        raise ResultsFileError(f"{path}: {too_large(len(data), 'the file')}")
    text = decode_utf8(data, 1, lambda msg, line: ResultsFileError(f"{path}:{line}: {msg}"))
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsFileError(f"{path}:{e.lineno}: not JSON ({e.msg}); re-run the check to rewrite it") from None
    except RecursionError:
        raise ResultsFileError(f"{path}: nests lists or objects too deep to be a results.json") from None
    except ValueError:
        raise ResultsFileError(f"{path}: a number has more than {MAX_INT_DIGITS} digits") from None
    if not isinstance(d, dict):
        raise ResultsFileError(f"{path}:1: expected a JSON object, got {_kind(d)}")
    if depth_exceeds(d, MAX_DEPTH + 8):  # checkers > result > anomalies > anomaly > data > a value
        raise ResultsFileError(f"{path}: nests lists or objects more than {MAX_DEPTH + 8} deep")
    check_fields(d, path)
    return d
