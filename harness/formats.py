"""History files on disk: load by extension, write JSON Lines or Jepsen EDN.

``load_history(path)`` reads ``.jsonl`` (the native format, see
:mod:`harness.history`) or ``.edn`` (Jepsen's), pairs the ops and returns a
:class:`~harness.history.History` that remembers each op's file line.

EDN files come in every layout Knossos accepts, read the way
``knossos.cli/read-history`` does: read every top-level form; if there is
exactly one and it is a vector or list, its elements are the ops; otherwise
each form is an op. A map without ``:index`` gets its 0-based position in the
file; other keys than the op fields are ignored; ``:value`` may be absent.

``write_history(ops, path)`` writes either format by extension. EDN output uses
keywords for ``:type``, ``:f``, ``:error`` keywords-as-strings and the
``:nemesis`` process, and the micro-op names and keys of ``txn`` values, so
Knossos, Elle and elle-cli read our histories as if Jepsen wrote them; every
other string stays a string.

Errors are :class:`~harness.history.HistoryError` naming the file and line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

from harness.edn import EDNError, Keyword, dumps, parse
from harness.history import NEMESIS, OP_TYPES, History, HistoryError, Op, op_to_json, read_jsonl

__all__ = ["load_history", "write_history", "read_edn", "op_to_edn", "FORMATS"]

FORMATS = (".jsonl", ".edn")

_KEYWORDISH = re.compile(r"[A-Za-z*!_?$%&=<>.+\-][A-Za-z0-9*!_?$%&=<>.+\-:#/']*\Z")


def _format_of(path: Path) -> str:
    ext = path.suffix.lower()
    if ext == ".json":  # a common slip for JSON Lines
        ext = ".jsonl"
    if ext not in FORMATS:
        raise HistoryError(f"unknown history format {path.suffix or '(no extension)'!r}; "
                           f"name the file *.jsonl or *.edn", file=path)
    return ext


def load_history(path: str | os.PathLike[str]) -> History:
    """Read and pair the history at ``path`` (``.jsonl`` or ``.edn``)."""
    p = Path(path)
    if _format_of(p) == ".jsonl":
        return read_jsonl(p)
    return read_edn(p)


def read_edn(path: str | os.PathLike[str]) -> History:
    """Read a Jepsen EDN history in any of the layouts in the module docstring."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise HistoryError(f"cannot read: {e.strerror}", file=p) from None
    except UnicodeDecodeError as e:
        raise HistoryError(f"not UTF-8 text (byte {e.start})", file=p) from None
    try:
        forms = parse(text)
    except EDNError as e:
        raise HistoryError(f"not EDN: {e.message}", file=p, line=e.line) from None
    if len(forms) == 1 and forms[0].kind in ("vector", "list"):
        items: list[Any] = forms[0].value
        lines = list(forms[0].element_lines)
    else:
        items = [f.value for f in forms]
        lines = [f.line for f in forms]
    ops = [_op_from_edn(d, file=p, line=ln, position=i) for i, (d, ln) in enumerate(zip(items, lines))]
    return History.of(ops, source=p, lines=lines)


def _op_from_edn(d: Any, *, file: Path, line: int, position: int) -> Op:
    def bad(msg: str) -> HistoryError:
        return HistoryError(msg, file=file, line=line)

    if not isinstance(d, dict):
        raise bad(f"expected an op map {{:process .., :type .., :f ..}}, got {_describe(d)}")
    t = d.get("type")
    if t not in OP_TYPES:
        raise bad(f"unknown :type {_show(t)}; expected one of :invoke, :ok, :fail, :info")
    p = d.get("process")
    if not ((isinstance(p, int) and not isinstance(p, bool) and p >= 0) or p == NEMESIS):
        raise bad(f":process must be an integer >= 0 or :nemesis, got {_show(p)}")
    f = d.get("f")
    if isinstance(f, (int, bool)) or f is None or (isinstance(f, str) and not f):
        raise bad(f":f must be a keyword, got {_show(f)}")
    if not isinstance(f, str):
        f = dumps(f)
    idx = d.get("index", position)
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise bad(f":index must be an integer, got {_show(idx)}")
    tm = d.get("time")
    if tm is not None and (not isinstance(tm, int) or isinstance(tm, bool)):
        raise bad(f":time must be an integer (ns), got {_show(tm)}")
    node = d.get("node")
    if node is not None and not isinstance(node, str):
        node = dumps(node)
    return Op(index=idx, time=tm, process=p, type=t, f=f, value=_plain(d.get("value")),
              node=node, error=_plain(d.get("error")))


_SCALARS = (type(None), bool, int, float, str)


def _plain(v: Any) -> Any:
    """EDN data as JSON-able data: sets become sorted lists, map keys strings."""
    t = type(v)
    if t in _SCALARS:
        return v
    if t is list:
        for x in v:
            if type(x) not in _SCALARS:
                return [_plain(x) for x in v]
        return v
    if isinstance(v, (frozenset, set)):
        return sorted((_plain(x) for x in v), key=repr)
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else dumps(k)): _plain(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _show(v: Any) -> str:
    return "nil (or nothing)" if v is None else repr(v)


def _describe(v: Any) -> str:
    return {list: "a vector", dict: "a map", str: f"{v!r}"}.get(type(v), repr(v))


# --- writing --------------------------------------------------------------------


def _kw(s: Any) -> Any:
    return Keyword(s) if isinstance(s, str) and _KEYWORDISH.match(s) else s


def _edn_value(f: str, v: Any) -> Any:
    if f == "txn" and isinstance(v, list):  # micro-ops [f k v]: f and k are keywords
        return [[_kw(m[0]), _kw(m[1]), *m[2:]] if isinstance(m, list) and len(m) >= 2 else m
                for m in v]
    return v


def op_to_edn(op: Op) -> str:
    """One op map, Jepsen style (no newline)."""
    parts = [f":index {op.index}"]
    if op.time is not None:
        parts.append(f":time {op.time}")
    parts.append(f":process {':nemesis' if op.process == NEMESIS else dumps(op.process)}")
    parts.append(f":type {dumps(Keyword(op.type))}")
    parts.append(f":f {dumps(_kw(op.f))}")
    parts.append(f":value {dumps(_edn_value(op.f, op.value))}")
    if op.node is not None:
        parts.append(f":node {dumps(op.node)}")
    if op.error is not None:
        parts.append(f":error {dumps(_kw(op.error))}")
    return "{" + ", ".join(parts) + "}"


def write_history(history: History | Iterable[Op], path: str | os.PathLike[str]) -> Path:
    """Write ``history`` to ``path`` as ``.jsonl`` or ``.edn`` (one op per line)."""
    p = Path(path)
    ext = _format_of(p)
    ops = history.ops if isinstance(history, History) else tuple(history)
    render = op_to_json if ext == ".jsonl" else op_to_edn
    tmp = p.with_name(p.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for op in ops:
                fh.write(render(op))
                fh.write("\n")
        tmp.replace(p)
    except ValueError as e:
        tmp.unlink(missing_ok=True)
        raise HistoryError(f"cannot write as {ext[1:].upper()}: {e}", file=p) from None
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise HistoryError(f"cannot write: {e.strerror}", file=p) from None
    return p
