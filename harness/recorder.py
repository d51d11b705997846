"""The recorder: every event of a run, appended to ``history.jsonl`` as it happens.

The history file is the one artefact a run must never lose, so the recorder
writes each event as one JSON line (:func:`harness.history.op_to_json`) and
hands it to the OS before ``record`` returns (or, with ``hold``, as soon as the
runner waits, at most ``hold`` events later). A run stopped by Ctrl-C or by an
exception therefore leaves every event recorded so far, and one stopped by
SIGKILL (the OOM killer) all but at most ``hold``; at worst the last line is torn, which
``read_jsonl(path, tolerate_torn_tail=True)`` drops. Nemesis events and
``close`` also ``fsync``, so that a machine crash loses at most the client ops
since the last fault. A write that fails (a full disk) raises ``OSError``
naming the history file; every event before it is on disk, so the run's
shutdown path can say which disk filled and still re-check what was recorded.

The recorder assigns ``index`` (position in the file) and ``time`` (ns since
the run began, from the injected monotonic ``clock``) under one lock, so index
order and time order agree and both match real-time order: an event is
recorded by the interpreter thread when it issues an invocation or takes a
completion from its workers (see :mod:`harness.runner`).

Bounded memory (issue 15). The file is the only copy of the history: a run of
an hour at several thousand ops/s records millions of events, and the
recorder's memory must not follow them. It holds, whatever the run's length:
the events not yet written (at most ``hold + 1``), counters of client events
by type and of nemesis events (``counts``, ``nemesis_count``, read by the
progress display and the run's stats), and the most recent nemesis events
(``nemesis_events``, at most ``keep_nemesis``: what the progress display
shows as the faults so far). Whoever needs the events afterwards reads them
back from the file: :func:`recorded_nemesis` for the fault events (a scan that
decodes only their lines), ``harness.formats.load_history`` for the whole
history, as the end-of-run check does, so that it judges exactly what is on
disk. Cost per event is one ``json`` encoding and, without ``hold``, one
``write`` syscall; see ``bench/bench_recorder.py``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from harness.history import NEMESIS, HistoryError, Op, Process, op_from_json, op_to_json

__all__ = ["KEEP_NEMESIS", "Recorder", "recorded_nemesis"]

KEEP_NEMESIS = 4096
"""How many of the latest nemesis events a recorder keeps in memory for the progress display.

A nemesis acts every few seconds (two events an op), so this is hours of
faults; past it the oldest are let go two at a time (an op's pair together),
and the display counts the faults of the kept ones. The history file keeps them all.
"""


class Recorder:
    """Appends events to a JSON Lines history; thread-safe; memory independent of the number of events.

    Use as a context manager (or call :meth:`close`). ``clock`` returns
    monotonic nanoseconds; the run's time 0 is the clock's value at construction.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], int] = time.monotonic_ns,
                 hold: int = 0, keep_nemesis: int = KEEP_NEMESIS) -> None:
        """``hold``: how many client events may wait in memory for one ``write``
        (0: none, each event is written before ``record`` returns). The runner
        holds up to a few dozen while it is saturated and calls :meth:`flush`
        whenever it waits, so a write syscall (which hands the GIL to another
        thread) is not paid per event at 10,000 ops/s; a SIGKILL then loses at
        most ``hold`` events, and the file stays readable. Nemesis events,
        :meth:`flush` and :meth:`close` write everything held.

        ``keep_nemesis``: how many of the latest nemesis events
        :attr:`nemesis_events` keeps (see :data:`KEEP_NEMESIS`); at least 2.
        """
        if hold < 0 or keep_nemesis < 2:
            raise ValueError(f"hold must be >= 0 and keep_nemesis >= 2, got {hold} and {keep_nemesis}")
        self.path = Path(path)
        self._clock = clock
        self._t0 = clock()
        self._lock = threading.Lock()
        # Unbuffered binary: one write syscall per event, nothing held back in
        # Python buffers that a SIGKILL would lose.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        self._closed = False
        self.counts: dict[str, int] = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}  # client events
        self.nemesis_count = 0
        # A list, not a deque: readers in other threads copy it with list(),
        # which is atomic for a list; trimmed in place, a pair at a time.
        self.nemesis_events: list[Op] = []
        self._keep_nemesis = keep_nemesis - keep_nemesis % 2
        self._n = 0
        self._hold = hold
        self._held: list[str] = []

    # -- time -------------------------------------------------------------------

    def now(self) -> int:
        """ns since the run began, on the recorder's clock."""
        return self._clock() - self._t0

    # -- recording --------------------------------------------------------------

    def record(self, *, type: str, process: Process, f: str, value: Any = None,
               node: str | None = None, error: Any = None) -> Op:
        """Append one event now; returns it with its ``index`` and ``time``."""
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path}: recorder is closed; no event can be added")
            op = Op(index=self._n, time=self._clock() - self._t0, process=process, type=type,  # type: ignore[arg-type]
                    f=f, value=value, node=node, error=error)
            try:
                line = op_to_json(op) + "\n"
            except (TypeError, ValueError) as e:  # a client returned something not JSON-able
                op = Op(index=op.index, time=op.time, process=process, type=type, f=f,  # type: ignore[arg-type]
                        value=repr(value), node=node,
                        error=f"value not JSON-serialisable ({e}); recorded as its repr"
                        if error is None else f"{error}; value not JSON-serialisable, recorded as its repr")
                line = op_to_json(op) + "\n"
            self._held.append(line)
            self._n += 1
            if process == NEMESIS:
                self.nemesis_count += 1
                kept = self.nemesis_events
                kept.append(op)
                if len(kept) > self._keep_nemesis:
                    del kept[:2]
                self._write_held()
                os.fsync(self._fd)
            else:
                self.counts[type] += 1
                if len(self._held) > self._hold:
                    self._write_held()
        return op

    def _write_held(self) -> None:
        data = "".join(self._held).encode("utf-8")
        self._held.clear()
        try:
            while data:  # a regular file takes it all at once; a short write must not lose the rest
                data = data[os.write(self._fd, data):]
        except OSError as e:  # a full disk above all: name the file, so the message can say which disk
            raise OSError(e.errno, e.strerror, str(self.path)) from e

    def flush(self) -> None:
        """Write every held event to the OS (cheap when none is held)."""
        if self._held:
            with self._lock:
                if not self._closed:
                    self._write_held()

    def fsync(self) -> None:
        with self._lock:
            if not self._closed:
                self._write_held()
                os.fsync(self._fd)

    def read_nemesis(self) -> tuple[Op, ...]:
        """Every nemesis event recorded so far, read back from the file (what is held written first).

        For a run's shutdown path, which must say what happened whatever
        failed: if the file cannot be read back (a full disk tore a line), the
        nemesis events still kept in memory.
        """
        try:
            self.flush()
            return recorded_nemesis(self.path)
        except (OSError, HistoryError):
            return tuple(self.nemesis_events)

    def __len__(self) -> int:
        """How many events were recorded (all of them in the file once written)."""
        return self._n

    # -- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._write_held()
                os.fsync(self._fd)
            finally:
                self._held.clear()
                os.close(self._fd)

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- reading back -------------------------------------------------------------------

# How a recorder's line says that its event is the nemesis's (op_to_json's
# compact separators). Inside a JSON string a quote is escaped, so these bytes
# occur only where an object maps "process" to "nemesis": the event itself, or
# a value holding such a map; every candidate is decoded and checked.
_NEMESIS_MARK = b'"process":"nemesis"'
_BLOCK = 1 << 22


def recorded_nemesis(path: str | Path) -> tuple[Op, ...]:
    """Every nemesis event of a history file a :class:`Recorder` wrote, in order.

    A scan of the file a block at a time that decodes only the lines holding
    a nemesis event, so its memory is those events' and its time about that of
    reading the file (``bench/bench_recorder.py``). A torn last line (a run
    killed mid-write) is dropped; any other line that holds the mark but is
    no event is a :class:`HistoryError` with its line.
    """
    p = Path(path)
    found: list[Op] = []
    lines_before = 0  # newlines in the blocks before this one
    rest = b""
    try:
        with p.open("rb") as fh:
            while True:
                chunk = fh.read(_BLOCK)
                data = rest + chunk
                end = len(data) if not chunk else data.rfind(b"\n") + 1
                block, rest = data[:end], data[end:]
                at = block.find(_NEMESIS_MARK)
                counted, line_no = 0, lines_before + 1
                while at >= 0:
                    start = block.rfind(b"\n", 0, at) + 1
                    stop = block.find(b"\n", at)
                    stop = len(block) if stop < 0 else stop
                    line_no += block.count(b"\n", counted, start)
                    counted = start
                    op = _nemesis_line(block[start:stop], p, line_no, torn=not chunk and stop == len(block))
                    if op is not None:
                        found.append(op)
                    at = block.find(_NEMESIS_MARK, stop)
                lines_before += block.count(b"\n")
                if not chunk:
                    return tuple(found)
    except OSError as e:
        raise HistoryError(f"cannot read: {e.strerror}", file=p) from None


def _nemesis_line(raw: bytes, path: Path, line: int, *, torn: bool) -> Op | None:
    """The nemesis event on ``raw``, None if it is a client event's value (or a torn tail)."""
    try:
        op = op_from_json(json.loads(raw), file=path, line=line)
    except (ValueError, RecursionError) as e:  # HistoryError, JSONDecodeError, UnicodeDecodeError
        if torn:
            return None
        raise e if isinstance(e, HistoryError) else HistoryError(
            f"not a recorded event: {e}", file=path, line=line) from None
    return op if op.process == NEMESIS else None
