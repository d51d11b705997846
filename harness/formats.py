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

``history_blocks(path)`` reads what ``load_history`` reads a block of ops at a
time, without holding them (for :mod:`checkers.linear.stream`).

Errors are :class:`~harness.history.HistoryError` naming the file and line.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from harness.edn import EDNError, FlatMaps, Keyword, dumps, loads, parse
from harness.history import (NEMESIS, OP_TYPES, History, HistoryError, LineNumbers, Op, Pairing, _gc_paused,
                             jsonl_blocks, op_to_json, read_jsonl)
from harness.input_limits import MAX_OP_BYTES, decode_utf8, depth_exceeds, line_blocks, too_deep, too_large

__all__ = ["load_history", "history_blocks", "NotLineLayout", "write_history", "read_edn", "read_value", "op_to_edn", "FORMATS"]

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
    """Read a Jepsen EDN history in any of the layouts in the module docstring.

    A file of one op map per line is read a block of lines at a time, each
    line by the first of: a regular expression for the layout
    :func:`op_to_edn` writes (one match per line, no map built), the flat-map
    reader of :class:`~harness.edn.FlatMaps`; any other layout is read whole
    by :func:`harness.edn.parse`.
    """
    p = Path(path)
    try:
        h = _read_edn_lines(p)
        if h is None:
            ops, lines = _read_edn_forms(p)
            h = History.of(ops, source=p, lines=lines)
    except OSError as e:
        raise HistoryError(f"cannot read: {e.strerror}", file=p) from None
    return h


def _read_edn_forms(p: Path) -> tuple[list[Op], Sequence[int]]:
    """The general reader: every top-level form of the whole file (see the module docstring)."""
    text = decode_utf8(p.read_bytes(), 1, lambda msg, ln: HistoryError(msg, file=p, line=ln))
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
    return ops, lines


# One line as op_to_edn writes it. The groups: index, time, process, type, f (a keyword's
# name or a string); the value's text, and, for the common shapes, its parts: an atom, a
# string, or a pair [x y] of those (kv, cas, independent keys), else a flat vector; then
# node, error. Numbers of up to 18 digits (int() is then cheap and never near the digit
# limit); strings on one line.
_NAME = r"[A-Za-z*!_?$%&=<>.+\-][A-Za-z0-9*!_?$%&=<>.+\-:#/']*+"
_STR1 = r'"[^"\\\n]*+(?:\\[^\n][^"\\\n]*+)*+"'
_ATOM1 = r"""[^\s,\[\](){}";\\#][^\s,\[\](){}";]*+"""
_FLAT1 = rf"\[ *+(?:(?:{_ATOM1}|{_STR1}) *+)*+\]"
_OUR_LINE = re.compile(
    rf"^\{{:index (\d{{1,18}}), (?::time (\d{{1,18}}), )?:process (?:(\d{{1,18}})|:nemesis), "
    rf":type :(invoke|ok|fail|info), :f (?::({_NAME})|({_STR1})), "
    rf":value ((?:({_ATOM1})|({_STR1})|\[(?:({_ATOM1})|({_STR1})) (?:({_ATOM1})|({_STR1}))\]|{_FLAT1}))"
    rf"(?:, :node ({_STR1}))?(?:, :error ({_ATOM1}|{_STR1}))?\}}\r?$", re.M)
_TYPES = {t: t for t in OP_TYPES}


class _OurLines:
    """Ops from the groups of ``_OUR_LINE``; a completion's value text equal to its
    invocation's shares the invocation's value (half of the values, half the memory)."""

    __slots__ = ("flat", "atoms", "last")

    def __init__(self, flat: FlatMaps) -> None:
        self.flat = flat
        self.atoms = flat.atoms
        self.last: dict[Any, tuple[str, Any]] = {}

    def _scalar(self, a: str, st: str, line: int) -> Any:
        if a:
            v = self.atoms.get(a, self)
            return self.flat.value(a, line) if v is self else v
        return st[1:-1] if "\\" not in st else self.flat.value(st, line)

    def op(self, g: tuple[str, ...], line: int) -> Op:
        idx, tm, proc, typ, fname, fstr, vtext, va, vs, xa, xs, ya, ys, node, err = g
        p: Any = int(proc) if proc else NEMESIS
        prev = self.last.get(p)
        if prev is not None and prev[0] == vtext:
            value = prev[1]
        elif xa or xs:
            value = [self._scalar(xa, xs, line), self._scalar(ya, ys, line)]
        elif va or vs:
            value = self._scalar(va, vs, line)
        else:
            value = self.flat.value(vtext, line)
        if typ == "invoke":
            self.last[p] = (vtext, value)
        f = fname or self.flat.value(fstr, line)
        if not f:
            raise HistoryError(":f must be a keyword, got ''", line=line)
        return Op(index=int(idx), time=int(tm) if tm else None, process=p, type=_TYPES[typ],
                  f=f, value=value,
                  node=self.flat.value(node, line) if node else None,
                  error=self.flat.value(err, line) if err else None)


class NotLineLayout(Exception):
    """Raised by :func:`edn_blocks` at a line that is not one flat op map: read the file whole instead."""


def _read_edn_lines(p: Path) -> History | None:
    """The history in a one-op-map-per-line file, read and paired a block at a time; None if not one."""
    pairing = Pairing(source=p, share=True)
    ops: list[Op] = []
    lines = LineNumbers()
    with _gc_paused():
        try:
            for got, where in edn_blocks(p):
                pairing.feed(got, where)
                ops.extend(got)
                lines.add(where)
        except NotLineLayout:
            return None
    return History.paired(ops, pairing, lines.result())


def edn_blocks(p: Path) -> Iterator[tuple[list[Op], Sequence[int]]]:
    """The ops of a one-op-map-per-line EDN file a block at a time, with the line of each.

    Raises :class:`NotLineLayout` (possibly after some blocks) when the file
    has another layout; errors are those of :func:`read_edn`.
    """
    flat = FlatMaps()
    ours = _OurLines(flat)
    position = 0
    error = lambda msg, ln: HistoryError(msg, file=p, line=ln)  # noqa: E731
    with p.open("rb") as fh:
        for first, raw_lines, _ in line_blocks(fh, error):
            text = decode_utf8(b"\n".join(raw_lines), first, error)
            if not position and text[:1] != "{":
                raise NotLineLayout
            try:
                got = _edn_block(text, first, len(raw_lines), ours, p, position)
            except EDNError as e:
                raise HistoryError(f"not EDN: {e.message}", file=p, line=e.line) from None
            except HistoryError as e:
                if e.file is None:
                    raise HistoryError(e.message, file=p, line=e.line) from None
                raise
            if got is None:
                raise NotLineLayout
            position += len(got[0])
            yield got


def history_blocks(path: str | os.PathLike[str]) -> Iterator[tuple[list[Op], Sequence[int]]]:
    """What :func:`load_history` reads, a block of ops at a time with their lines, without holding it.

    An EDN file in another layout than one op map per line is read whole
    (:func:`read_edn`) and given as one block. Errors are :func:`load_history`'s.
    """
    p = Path(path)
    if _format_of(p) == ".jsonl":
        yield from jsonl_blocks(p)
        return
    got = 0
    try:
        for block in edn_blocks(p):
            got += 1
            yield block
        return
    except NotLineLayout:
        if got:  # ops already given: the caller must start again from a whole read
            raise
    except OSError as e:
        raise HistoryError(f"cannot read: {e.strerror}", file=p) from None
    h = read_edn(p)
    yield list(h.ops), h.lines if h.lines is not None else range(1, len(h.ops) + 1)


def _edn_block(text: str, first: int, count: int, ours: _OurLines, p: Path,
               position: int) -> tuple[list[Op], Sequence[int]] | None:
    """The ops of ``count`` lines from line ``first`` on, and their lines; None if one is not a flat map."""
    found = _OUR_LINE.findall(text)
    if len(found) == count:  # every line in our layout: one match each
        return list(map(ours.op, found, range(first, first + count))), range(first, first + count)
    ops: list[Op] = []
    lines: list[int] = []
    for n, line in enumerate(text.split("\n"), start=first):
        if not line or line.isspace():
            continue
        m = _OUR_LINE.fullmatch(line)
        if m is not None:
            ops.append(ours.op(m.groups(), n))
        else:
            d = ours.flat.map(line, n)
            if d is None:
                return None
            ops.append(_op_from_edn(d, file=p, line=n, position=position + len(ops)))
        lines.append(n)
    return ops, lines


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


def read_value(text: str) -> Any:
    """A value typed on the command line (``--init``), as JSON or else EDN, as plain data.

    Held to the bounds of every history reader (:mod:`harness.input_limits`);
    raises ``ValueError`` saying what is wrong.
    """
    if len(text) > MAX_OP_BYTES:
        raise ValueError(too_large(len(text), "the value"))
    try:
        v = json.loads(text)
    except RecursionError:
        raise ValueError(too_deep()) from None
    except ValueError:  # not JSON (or an integer past the digit limit): EDN then
        try:
            v = _plain(loads(text))
        except EDNError as e:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise ValueError(f"{shown!r} is neither JSON nor EDN ({e.message})") from None
    if depth_exceeds(v):
        raise ValueError(too_deep())
    return v


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
    tmp: Path | None = None
    try:  # a short temporary name: the output's own may already be as long as names go
        tmp = p.parent / f".splitbrain-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        with tmp.open("x", encoding="utf-8") as fh:  # plain open: the umask applies, as to any output
            for op in ops:
                fh.write(render(op))
                fh.write("\n")
        tmp.replace(p)
    except ValueError as e:
        _remove(tmp)
        raise HistoryError(f"cannot write as {ext[1:].upper()}: {e}", file=p) from None
    except OSError as e:
        _remove(tmp)
        raise HistoryError(f"cannot write: {e.strerror}", file=p) from None
    return p


def _remove(path: Path | None) -> None:
    try:
        if path is not None:
            path.unlink(missing_ok=True)
    except OSError:
        pass
