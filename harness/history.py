"""The history: every operation a run performed, in real-time order.

An :class:`Op` is one *event*: an invocation, or the completion of one. Its
fields follow Jepsen's operation maps so that our JSON Lines files convert to
EDN and back without loss:

``index``    position in the history, from 0.
``time``     nanoseconds since the run began (monotonic clock); ``None`` where an
             imported file has no times.
``process``  the logical client, an ``int``; or :data:`NEMESIS` for fault events.
``type``     one of ``"invoke"``, ``"ok"``, ``"fail"``, ``"info"``.
``f``        the operation's name, e.g. ``"read"`` (EDN keywords lose their colon).
``value``    argument on an invocation, result on an ``ok`` completion.
``node``     optional: the node the client talked to.
``error``    optional: why an op failed or is unknown.

Jepsen's pairing rules (also in ``shared/corpus/README.md``) are implemented by
:func:`pair`: an ``invoke`` of process *p* is completed by *p*'s next ``ok``,
``fail`` or ``info``; ``fail`` never happened; ``info``, or an invocation never
completed, may take effect at any instant after it was invoked, or never; a
completion with nothing open for its process (nemesis events) is no client
operation.

Values are plain JSON-able data: ``None``, ``bool``, ``int``, ``float``, ``str``,
``list`` and ``dict`` with string keys. EDN keywords become strings; EDN
vectors and lists become lists. Values are shared, not copied: a reader gives a
completion the very list of its invocation when they are equal, so treat them
as immutable, like the ops that hold them.

Built for size (issue 15): an ``Op`` is a msgspec ``Struct`` (slots, frozen, no
garbage-collector tracking), decoded from its JSON line in C; the reader
(:func:`read_jsonl`) takes a few MiB of lines at a time and pairs them as it
goes (:class:`Pairing`), holding equal data once. A million operations (two
million events) take about 290 bytes an event. Every bound a reader holds is in
:mod:`harness.input_limits`.

A history too long to hold need not be: :func:`jsonl_blocks` gives the ops a
block at a time with their lines, which is how
:class:`checkers.linear.stream.HistoryFile` checks a file as it reads it (no
``Op`` outlives its block; ``splitbrain check`` does so past 32 MiB).
"""

from __future__ import annotations

import gc
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator, Literal, Sequence, Union

import msgspec

from harness.input_limits import (MAX_DEPTH, MAX_INT_DIGITS, MAX_OP_BYTES, decode_utf8, depth_exceeds,
                                  line_blocks, too_deep, too_large)

__all__ = [
    "NEMESIS",
    "OP_TYPES",
    "History",
    "HistoryError",
    "Op",
    "OpType",
    "Operation",
    "Process",
    "pair",
    "read_jsonl",
    "jsonl_blocks",
    "op_to_json",
    "op_from_json",
]

NEMESIS = "nemesis"
"""The process of fault-injection events."""

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: tuple[str, ...] = ("invoke", "ok", "fail", "info")
Process = int | str
# What a JSON line may hold in ``process`` and ``f``: msgspec checks these while decoding.
_ProcessField = Union[Annotated[int, msgspec.Meta(ge=0)], Literal["nemesis"]]
_Name = Annotated[str, msgspec.Meta(min_length=1)]


class HistoryError(ValueError):
    """A history that cannot be used, with where and what.

    ``str(err)`` reads ``FILE:LINE: MESSAGE`` so that the CLI can print it as is.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or "<history>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class Op(msgspec.Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True):
    """One event of a history (see the module docstring for each field).

    A frozen, keyword-only record: ``msgspec`` builds it straight from a JSON
    line, checks the types on the way (see :func:`read_jsonl`), and keeps it
    out of the garbage collector's reach (an op holds data, never itself).
    """

    index: int
    type: OpType
    process: _ProcessField
    f: _Name
    value: Any = None
    time: int | None = None
    node: str | None = None
    error: Any = None

    @property
    def is_invoke(self) -> bool:
        return self.type == "invoke"

    @property
    def is_nemesis(self) -> bool:
        return self.process == NEMESIS


class Operation(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A client operation: its invocation paired with its completion.

    ``completion`` is ``None`` when the invocation never completed. ``status``
    is the completion's type, or ``"info"`` for a missing completion: ``ok``
    took effect exactly once between ``invoke.time`` and ``completion.time``;
    ``info`` may have taken effect at any instant after invocation, or never.
    ``fail`` operations are kept here (reports show them) but checkers drop them.
    """

    invoke: Op
    completion: Op | None

    @property
    def status(self) -> OpType:
        return "info" if self.completion is None else self.completion.type

    @property
    def process(self) -> Process:
        return self.invoke.process

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def value(self) -> Any:
        """The result for ``ok`` operations, else the invocation's argument."""
        if self.completion is not None and self.completion.type == "ok":
            return self.completion.value
        return self.invoke.value

    @property
    def call_index(self) -> int:
        return self.invoke.index

    @property
    def return_index(self) -> int | None:
        """Index of the completion; ``None`` if the op never completed."""
        return None if self.completion is None else self.completion.index


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """A whole history: its events, and the client operations paired from them.

    ``ops`` holds every event in order; ``operations`` the paired client ops in
    invocation order; ``nemesis`` the fault events and stray completions.
    ``lines`` (optional) gives the file line of each event in ``ops``, so that
    a checker can name the line of an op it cannot use (see :meth:`line_of`):
    a tuple, or a ``range`` when line *k* holds op *k - 1* (no memory per op).
    """

    ops: tuple[Op, ...]
    operations: tuple[Operation, ...]
    nemesis: tuple[Op, ...]
    source: str | None = None
    lines: Sequence[int] | None = None

    @classmethod
    def of(cls, ops: Iterable[Op], *, source: str | Path | None = None,
           lines: Sequence[int] | None = None) -> "History":
        """Pair ``ops`` (see :func:`pair`); ``lines`` maps each op to its file line for errors."""
        ops = tuple(ops)
        pairing = Pairing(source=source)
        pairing.feed(ops, lines)
        return cls.paired(ops, pairing, lines)

    @classmethod
    def paired(cls, ops: Sequence[Op], pairing: "Pairing", lines: Sequence[int] | None) -> "History":
        """The history of ``ops`` already fed to ``pairing`` (how readers build one as they read)."""
        operations, nemesis = pairing.result()
        source = pairing.source
        return cls(ops=tuple(ops), operations=operations, nemesis=nemesis,
                   source=None if source is None else str(source),
                   lines=None if lines is None else lines if isinstance(lines, range) else tuple(lines))

    def __len__(self) -> int:
        return len(self.ops)

    def line_of(self, op: Op) -> int | None:
        """The file line of ``op`` (found by identity, then by index), if known."""
        if self.lines is None:
            return None
        for i, o in enumerate(self.ops):
            if o is op:
                return self.lines[i]
        for i, o in enumerate(self.ops):
            if o.index == op.index:
                return self.lines[i]
        return None


def pair(ops: Sequence[Op], *, source: str | Path | None = None,
         lines: Sequence[int] | None = None) -> tuple[tuple[Operation, ...], tuple[Op, ...]]:
    """Pair invocations with completions by Jepsen's rules, in one pass (see :class:`Pairing`).

    Raises :class:`HistoryError` when a process invokes while it has an op open
    (naming the file line when ``lines`` is given). Completions with nothing
    open for their process, and every ``nemesis`` event, go to the second list.
    """
    pairing = Pairing(source=source)
    pairing.feed(ops, lines)
    return pairing.result()


class Pairing:
    """Jepsen's pairing, fed a block of ops at a time, so that a reader pairs as it reads.

    With ``share`` (for readers: the ops were just decoded and no one else holds
    them) equal data is held once on the way: each name's ``f`` string; a
    completion's value equal to its invocation's (a write's ``[k v]``) is the
    invocation's list; the first element of a list value (the key of a ``[k v]``
    pair) when it is a short string or an integer. Over a million ops that is a
    third of the memory, at no extra pass.
    """

    __slots__ = ("source", "share", "open", "invokes", "completions", "stray", "names", "keys")
    MAX_KEYS = 100_000  # past this many distinct keys, new ones are kept as they are

    def __init__(self, *, source: str | Path | None = None, share: bool = False) -> None:
        self.source = source
        self.share = share
        self.open: dict[Process, int] = {}
        self.invokes: list[Op] = []
        self.completions: list[Op | None] = []
        self.stray: list[Op] = []
        self.names: dict[str, str] = {}
        self.keys: dict[Any, Any] = {}

    def feed(self, ops: Sequence[Op], lines: Sequence[int] | None = None) -> None:
        """Pair the next ``ops`` (``lines``: the file line of each, for the error)."""
        open_, invokes, completions = self.open, self.invokes, self.completions
        names, keys = self.names, self.keys
        pop, invoked, completed, strayed = open_.pop, invokes.append, completions.append, self.stray.append
        share = self.share
        n = len(invokes)
        for op in ops:
            p = op.process
            if p.__class__ is not int and p == NEMESIS:
                strayed(op)
                continue
            if op.type == "invoke":
                if p in open_:
                    prev = invokes[open_[p]]
                    raise HistoryError(
                        f"process {p} invokes {op.f!r} while its {prev.f!r} "
                        f"(index {prev.index}) is still open",
                        file=self.source, line=lines[_position(ops, op)] if lines else None)
                open_[p] = n
                n += 1
                invoked(op)
                completed(None)
                if not share:
                    continue
                f = op.f
                f0 = names.get(f)
                if f0 is None:
                    names[f] = f
                elif f0 is not f:
                    _SET(op, "f", f0)
                v = op.value
                if v.__class__ is not list or not v:
                    continue
            else:
                j = pop(p, None)
                if j is None:
                    strayed(op)
                    continue
                completions[j] = op
                if not share:
                    continue
                inv = invokes[j]
                f = inv.f
                if op.f == f:
                    _SET(op, "f", f)
                else:
                    _SET(op, "f", names.setdefault(op.f, op.f))
                v = op.value
                if v.__class__ is not list or not v:
                    continue
                if v == inv.value:
                    _SET(op, "value", inv.value)
                    continue
            k = v[0]  # the key of a [k v] value, held once
            if k.__class__ is str and len(k) <= 32 or k.__class__ is int:
                shared = keys.get(k)
                if shared is None:
                    if len(keys) < self.MAX_KEYS:
                        keys[k] = k
                elif shared is not k and shared.__class__ is k.__class__:
                    v[0] = shared

    def result(self) -> tuple[tuple[Operation, ...], tuple[Op, ...]]:
        """The operations in invocation order, and the stray events."""
        with _gc_paused():
            operations = tuple([Operation(invoke=i, completion=c) for i, c in zip(self.invokes, self.completions)])
        return operations, tuple(self.stray)


def _position(ops: Sequence[Op], op: Op) -> int:
    return next(i for i, o in enumerate(ops) if o is op)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic collection while a reader allocates millions of acyclic objects.

    Each collection walks every tracked object, so with the collector on,
    building a history costs more the longer it already is; ops are never in
    a cycle. The collector's previous state is restored.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# --- JSON Lines --------------------------------------------------------------

_FIELDS = ("index", "time", "process", "type", "f", "value", "node", "error")
# One encoder for every line: json.dumps with non-default options builds a new
# JSONEncoder per call, a noticeable share of the recorder's per-event cost.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def op_to_json(op: Op) -> str:
    """One line of the native format (no newline). ``None`` fields are omitted."""
    d: dict[str, Any] = {"index": op.index}
    if op.time is not None:
        d["time"] = op.time
    d["process"] = op.process
    d["type"] = op.type
    d["f"] = op.f
    d["value"] = op.value
    if op.node is not None:
        d["node"] = op.node
    if op.error is not None:
        d["error"] = op.error
    return _ENCODE(d)


def op_from_json(d: Any, *, file: str | Path | None = None, line: int | None = None,
                 default_index: int = 0) -> Op:
    """Validate one decoded JSON object and build an :class:`Op` from it."""
    def bad(msg: str) -> HistoryError:
        return HistoryError(msg, file=file, line=line)

    if not isinstance(d, dict):
        raise bad(f"expected a JSON object, got {type(d).__name__}")
    unknown = set(d) - set(_FIELDS)
    if unknown:
        raise bad(f"unknown field(s) {sorted(unknown)}; expected {list(_FIELDS)}")
    t = d.get("type")
    if t not in OP_TYPES:
        raise bad(f"unknown type {t!r}; expected one of {list(OP_TYPES)}")
    p = d.get("process")
    if not ((isinstance(p, int) and not isinstance(p, bool) and p >= 0) or p == NEMESIS):
        raise bad(f"process must be an integer >= 0 or {NEMESIS!r}, got {p!r}")
    f = d.get("f")
    if not isinstance(f, str) or not f:
        raise bad(f"f must be a non-empty string, got {f!r}")
    idx = d.get("index", default_index)
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise bad(f"index must be an integer, got {idx!r}")
    tm = d.get("time")
    if tm is not None and (not isinstance(tm, int) or isinstance(tm, bool)):
        raise bad(f"time must be an integer (ns), got {tm!r}")
    node = d.get("node")
    if node is not None and not isinstance(node, str):
        raise bad(f"node must be a string, got {node!r}")
    return Op(index=idx, time=tm, process=p, type=t, f=f, value=d.get("value"),
              node=node, error=d.get("error"))


# The reader. A JSON line is decoded by msgspec straight into an ``Op`` (types,
# ``process`` and ``f`` checked in C): a block of lines per call, about a
# microsecond an event. Whatever msgspec refuses (a bad line, but also what it
# is stricter about than the json module: NaN, a missing ``index``, a lone
# surrogate, an integer past 64 bits) goes to ``_reference_op``, the json
# module and ``op_from_json``, which accepts what it always did and words each
# error; so the fast path only ever decides what the reference would decide.

_DECODE_OP = msgspec.json.Decoder(Op).decode
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# A line shorter than this cannot nest past MAX_DEPTH: each of its brackets needs a closer.
_SHALLOW_BYTES = 2 * MAX_DEPTH + 2
_SET = msgspec.structs.force_setattr  # only to share equal data (see Pairing): half the cost of __set__


def _reference_op(raw: bytes, *, file: Path, line: int, position: int) -> Op:
    """One JSON line read by the json module, within every bound of :mod:`harness.input_limits`."""
    if len(raw) > MAX_OP_BYTES:
        raise HistoryError(too_large(len(raw)), file=file, line=line)
    text = decode_utf8(raw, line, lambda msg, ln: HistoryError(msg, file=file, line=ln))
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise HistoryError(f"not JSON: {e.msg} (column {e.colno})", file=file, line=line) from None
    except RecursionError:
        raise HistoryError(too_deep("the line"), file=file, line=line) from None
    except ValueError:  # int(): past Python's digit limit
        raise HistoryError(f"a number has more than {MAX_INT_DIGITS} digits", file=file, line=line) from None
    op = op_from_json(d, file=file, line=line, default_index=position)
    if depth_exceeds(op.value) or depth_exceeds(op.error):
        raise HistoryError(too_deep(), file=file, line=line)
    if _SURROGATE_ESCAPE.search(text):  # "\ud800" alone decodes, but is no text any file or page can hold
        try:
            _ENCODE(d).encode("utf-8")
        except UnicodeEncodeError:
            raise HistoryError("a string holds a lone surrogate (\\uD800-\\uDFFF), which is not text",
                               file=file, line=line) from None
    return op


def _decode_block(raw_lines: list[bytes], first_line: int, position: int,
                  file: Path) -> tuple[list[Op], Sequence[int]]:
    """The ops of consecutive lines from ``first_line`` on, and the line of each (blank lines hold none)."""
    try:
        ops = list(map(_DECODE_OP, raw_lines))
    except (msgspec.DecodeError, RecursionError):
        return _decode_lines(raw_lines, first_line, position, file)
    if max(map(len, raw_lines), default=0) > _SHALLOW_BYTES:
        for k, raw in enumerate(raw_lines):
            if len(raw) > _SHALLOW_BYTES and (len(raw) > MAX_OP_BYTES
                                              or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH):
                ops[k] = _reference_op(raw, file=file, line=first_line + k, position=position + k)
    return ops, range(first_line, first_line + len(ops))


def _decode_lines(raw_lines: list[bytes], first_line: int, position: int,
                  file: Path) -> tuple[list[Op], list[int]]:
    ops: list[Op] = []
    lines: list[int] = []
    for k, raw in enumerate(raw_lines):
        if not raw.strip():
            continue
        try:
            if len(raw) > _SHALLOW_BYTES:
                raise msgspec.DecodeError  # let the reference check its depth and size
            op = _DECODE_OP(raw)
        except (msgspec.DecodeError, RecursionError):
            op = _reference_op(raw, file=file, line=first_line + k, position=position + len(ops))
        ops.append(op)
        lines.append(first_line + k)
    return ops, lines


class LineNumbers:
    """The file line of each op, as a reader finds them: a ``range`` while line *k* holds op *k - 1*."""

    __slots__ = ("count", "lines")

    def __init__(self) -> None:
        self.count = 0
        self.lines: list[int] | None = None  # None: contiguous so far

    def add(self, where: Sequence[int]) -> None:
        if self.lines is None and not (isinstance(where, range) and where.start == self.count + 1):
            self.lines = list(range(1, self.count + 1))
        if self.lines is not None:
            self.lines.extend(where)
        self.count += len(where)

    def result(self) -> Sequence[int]:
        return range(1, self.count + 1) if self.lines is None else self.lines


def jsonl_blocks(path: str | Path, *, tolerate_torn_tail: bool = False) -> Iterator[tuple[list[Op], Sequence[int]]]:
    """The ops of a JSON Lines file a block of lines at a time, with the file line of each.

    What :func:`read_jsonl` reads, without holding it: a streaming reader
    (:mod:`checkers.linear.stream`) keeps what it needs of each block and lets
    the ops go. Errors are those of :func:`read_jsonl`, raised at their block.
    """
    path = Path(path)
    position = 0
    try:
        with path.open("rb") as fh:
            for first, raw_lines, tail in line_blocks(fh, lambda msg, ln: HistoryError(msg, file=path, line=ln)):
                try:
                    got, where = _decode_block(raw_lines, first, position, path)
                except HistoryError:
                    if tail and tolerate_torn_tail:
                        return
                    raise
                position += len(got)
                yield got, where
    except OSError as e:
        raise HistoryError(f"cannot read: {e.strerror}", file=path) from None


def _read_ops(path: Path, *, tolerate_torn_tail: bool) -> History:
    """A JSON Lines file read and paired a block at a time; ``lines`` a ``range`` when no line is blank."""
    ops: list[Op] = []
    lines = LineNumbers()
    pairing = Pairing(source=path, share=True)
    with _gc_paused():
        for got, where in jsonl_blocks(path, tolerate_torn_tail=tolerate_torn_tail):
            pairing.feed(got, where)
            ops.extend(got)
            lines.add(where)
    return History.paired(ops, pairing, lines.result())


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Op]]:
    """``(line_number, op)`` of every op of a JSON Lines history; blank lines are skipped.

    A torn last line (a run killed mid-write) is reported like any other bad
    line: the caller decides whether to tolerate it (see :func:`read_jsonl`).
    """
    h = _read_ops(Path(path), tolerate_torn_tail=False)
    return zip(h.lines or (), h.ops)


def read_jsonl(path: str | Path, *, tolerate_torn_tail: bool = False) -> History:
    """Read and pair a native history file; errors are :class:`HistoryError` with the line.

    With ``tolerate_torn_tail`` a final line that is not valid JSON and has no
    newline (the recorder was killed while writing it) is dropped. The file
    is read a block at a time; memory is the history's, not the file's.
    """
    return _read_ops(Path(path), tolerate_torn_tail=tolerate_torn_tail)
