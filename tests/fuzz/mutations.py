"""What a hostile or unlucky user hands the readers: real files, mutated.

The seeds are real: ``seed_run/`` is the first 600 events and the
``results.json`` of a quorum-store run (``--variant seed``, kill and
partition, seed 7, found invalid), and the EDN seeds are that history written
by ``convert`` in the two layouts Jepsen tools use (one map per line; one
vector of maps). The mutations are those that broke readers before (issue 9):
flipped, inserted and deleted bytes, truncation, lines duplicated, dropped or
swapped, nesting thousands deep, integers of thousands of digits, bytes that
are not UTF-8, a byte-order mark, lone surrogates, NaN, bidirectional
controls, and fields of the wrong type.

``FUZZ_EXAMPLES`` (environment) scales every test's example count; set, the
examples are also random (a longer local hunt) instead of the derandomized,
repeatable set CI runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SEED_RUN = Path(__file__).with_name("seed_run")
_SCALE = float(os.environ.get("FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(examples: int) -> settings:
    """``examples`` per test (times ``FUZZ_EXAMPLES`` when set), no deadline, repeatable unless scaled."""
    n = max(1, int(examples * _SCALE)) if _SCALE else examples
    return settings(max_examples=n, deadline=None, derandomize=not _SCALE, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def seed_lines(n: int = 80) -> list[bytes]:
    """The first ``n`` lines of the seed run's history."""
    return (SEED_RUN / "history.jsonl").read_bytes().split(b"\n")[:n]


# Byte strings that broke, or could break, a reader.
NASTY: tuple[bytes, ...] = (
    b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\r", b"\n", b"\n\n", b" ",
    b"{", b"}", b"[", b"]", b"(", b"#{", b"#_", b"#inst ", b";", b",", b":", b'"', b"\\", b"\\u",
    b"NaN", b"Infinity", b"-", b"1e999", b"true", b"nil", b"null", b":nemesis", b'"nemesis"',
    b"9" * 5000, b"-" + b"7" * 4400, b"[" * 1500, b"{\"a\":" * 1200, b"[" * 150 + b"]" * 150,
    "\u202e".encode(), "\u2066".encode(), b'"\\ud800"', b'"\\u202e"', "é".encode("latin-1"),
    b"\"index\":", b"\"type\":\"invoke\"", b":type :invoke", b":process 0", b"\"process\":-1",
)

# Values of the wrong type, or at the bounds, for structured mutations.
BAD_VALUES: tuple[Any, ...] = (
    None, True, False, -1, 0, 2**70, 10**4000, 1.5, float("nan"), "", "x", "nemesis", "\u202e", [],
    {}, [1, "a"], {"a": None}, "\ud800",
)


@st.composite
def mutated_bytes(draw: Any, seed: bytes, *, max_steps: int = 3) -> bytes:
    """``seed`` after one to ``max_steps`` random byte- or line-level mutations."""
    data = seed
    for _ in range(draw(st.integers(1, max_steps))):
        kind = draw(st.sampled_from(("flip", "insert", "nasty", "delete", "truncate", "dup", "drop", "swap")))
        n = len(data)
        pos = draw(st.integers(0, max(0, n)))
        if kind == "flip" and n:
            pos = min(pos, n - 1)
            data = data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1:]
        elif kind == "insert":
            data = data[:pos] + draw(st.binary(min_size=1, max_size=4)) + data[pos:]
        elif kind == "nasty":
            data = data[:pos] + draw(st.sampled_from(NASTY)) + data[pos:]
        elif kind == "delete":
            data = data[:pos] + data[pos + draw(st.integers(1, 40)):]
        elif kind == "truncate":
            data = data[:pos]
        else:
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "dup":
                lines.insert(j, lines[i])
            elif kind == "drop":
                del lines[i]
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
    return data


@st.composite
def mutated_jsonl(draw: Any, lines: list[bytes]) -> bytes:
    """A JSON Lines history with one field of one line set to a bad value, or nested deep, then byte-mutated."""
    lines = list(lines)
    i = draw(st.integers(0, len(lines) - 1))
    try:
        d = json.loads(lines[i])
    except ValueError:
        d = None
    if isinstance(d, dict) and draw(st.booleans()):
        field = draw(st.sampled_from(("index", "time", "process", "type", "f", "value", "node", "error", "extra")))
        d[field] = draw(st.sampled_from(BAD_VALUES + (_DEEP,)))
        lines[i] = _deepen(json.dumps(d, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"),
                           draw(st.integers(1, 3000)))
    data = b"\n".join(lines) + b"\n"
    return draw(mutated_bytes(data)) if draw(st.booleans()) else data


_DEEP = "<deep>"  # replaced, once encoded, by a value nested n deep (json.dumps itself would recurse)


def _deepen(data: bytes, n: int) -> bytes:
    return data.replace(b'"<deep>"', b"[" * n + b"0" + b"]" * n)


@st.composite
def mutated_results(draw: Any, results: dict[str, Any]) -> bytes:
    """``results.json`` with one field (top level, or in a checker's result) of a wrong type, or byte-mutated."""
    d = json.loads(json.dumps(results))
    target: dict[str, Any] = d
    if draw(st.booleans()) and d.get("checkers"):
        name = draw(st.sampled_from(sorted(d["checkers"])))
        target = d["checkers"][name]
        if draw(st.booleans()) and target.get("anomalies"):
            target = target["anomalies"][0]
    field = draw(st.sampled_from(sorted(target) + ["valid", "stats", "checkers", "faults", "nodes"]))
    target[field] = draw(st.sampled_from(BAD_VALUES + ("a string", [1, 2], {"x": [3]}, _DEEP)))
    data = _deepen(json.dumps(d, indent=2, ensure_ascii=False).encode("utf-8", "surrogatepass"),
                   draw(st.integers(1, 3000)))
    return draw(mutated_bytes(data)) if draw(st.booleans()) else data


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path

