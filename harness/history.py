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
vectors and lists become lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

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
    "op_to_json",
    "op_from_json",
]

NEMESIS = "nemesis"
"""The process of fault-injection events."""

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: tuple[str, ...] = ("invoke", "ok", "fail", "info")
Process = int | str


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """One event of a history (see the module docstring for each field)."""

    index: int
    type: OpType
    process: Process
    f: str
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
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
    a checker can name the line of an op it cannot use (see :meth:`line_of`).
    """

    ops: tuple[Op, ...]
    operations: tuple[Operation, ...]
    nemesis: tuple[Op, ...]
    source: str | None = None
    lines: tuple[int, ...] | None = None

    @classmethod
    def of(cls, ops: Iterable[Op], *, source: str | Path | None = None,
           lines: Sequence[int] | None = None) -> "History":
        """Pair ``ops`` (see :func:`pair`); ``lines`` maps each op to its file line for errors."""
        ops = tuple(ops)
        operations, nemesis = pair(ops, source=source, lines=lines)
        return cls(ops=ops, operations=operations, nemesis=nemesis,
                   source=None if source is None else str(source),
                   lines=None if lines is None else tuple(lines))

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
    """Pair invocations with completions by Jepsen's rules.

    Raises :class:`HistoryError` when a process invokes while it has an op open
    (naming the file line when ``lines`` is given). Completions with nothing
    open for their process, and every ``nemesis`` event, go to the second list.
    """
    open_: dict[Process, int] = {}
    slots: list[list[Op | None]] = []
    stray: list[Op] = []
    for i, op in enumerate(ops):
        if op.process == NEMESIS:
            stray.append(op)
            continue
        if op.type == "invoke":
            if op.process in open_:
                prev = slots[open_[op.process]][0]
                assert prev is not None
                raise HistoryError(
                    f"process {op.process} invokes {op.f!r} while its {prev.f!r} "
                    f"(index {prev.index}) is still open",
                    file=source, line=lines[i] if lines else None)
            open_[op.process] = len(slots)
            slots.append([op, None])
        else:
            j = open_.pop(op.process, None)
            if j is None:
                stray.append(op)
            else:
                slots[j][1] = op
    operations = tuple(Operation(invoke=s[0], completion=s[1]) for s in slots)  # type: ignore[arg-type]
    return operations, tuple(stray)


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


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Op]]:
    """Yield ``(line_number, op)`` from a JSON Lines history; blank lines are skipped.

    A torn last line (a run killed mid-write) is reported like any other bad
    line: the caller decides whether to tolerate it (see :func:`read_jsonl`).
    """
    path = Path(path)
    with path.open("r", encoding="utf-8") as fh:
        n = 0
        for lineno, raw in enumerate(fh, start=1):
            s = raw.strip()
            if not s:
                continue
            try:
                d = json.loads(s)
            except json.JSONDecodeError as e:
                raise HistoryError(f"not JSON: {e.msg} (column {e.colno})", file=path, line=lineno) from None
            yield lineno, op_from_json(d, file=path, line=lineno, default_index=n)
            n += 1


def read_jsonl(path: str | Path, *, tolerate_torn_tail: bool = False) -> History:
    """Read and pair a native history file.

    With ``tolerate_torn_tail`` a final line that is not valid JSON and has no
    newline (the recorder was killed while writing it) is dropped.
    """
    path = Path(path)
    ops: list[Op] = []
    lines: list[int] = []
    try:
        for lineno, op in iter_jsonl(path):
            ops.append(op)
            lines.append(lineno)
    except HistoryError as e:
        if not (tolerate_torn_tail and _is_torn_tail(path, e.line)):
            raise
    except OSError as e:
        raise HistoryError(f"cannot read: {e.strerror}", file=path) from None
    return History.of(ops, source=path, lines=lines)


def _is_torn_tail(path: Path, line: int | None) -> bool:
    if line is None:
        return False
    data = path.read_bytes()
    return not data.endswith(b"\n") and data.count(b"\n") == line - 1
