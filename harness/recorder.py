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

It also keeps the events in memory (the runner checks them at the end without
re-reading the file) and a few counters for the progress display. Cost per
event is one ``json.dumps`` and one ``write`` syscall; see ``bench/bench_harness.py``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from harness.history import NEMESIS, Op, Process, op_to_json

__all__ = ["Recorder"]


class Recorder:
    """Appends events to a JSON Lines history; thread-safe.

    Use as a context manager (or call :meth:`close`). ``clock`` returns
    monotonic nanoseconds; the run's time 0 is the clock's value at construction.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], int] = time.monotonic_ns,
                 keep: bool = True, hold: int = 0) -> None:
        """``hold``: how many client events may wait in memory for one ``write``
        (0: none, each event is written before ``record`` returns). The runner
        holds up to a few dozen while it is saturated and calls :meth:`flush`
        whenever it waits, so a write syscall (which hands the GIL to another
        thread) is not paid per event at 10,000 ops/s; a SIGKILL then loses at
        most ``hold`` events, and the file stays readable. Nemesis events,
        :meth:`flush` and :meth:`close` write everything held.
        """
        self.path = Path(path)
        self._clock = clock
        self._t0 = clock()
        self._lock = threading.Lock()
        # Unbuffered binary: one write syscall per event, nothing held back in
        # Python buffers that a SIGKILL would lose.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        self._closed = False
        self._keep = keep
        self.events: list[Op] = []
        self.counts: dict[str, int] = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}  # client events
        self.nemesis_events: list[Op] = []
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
            if self._keep:
                self.events.append(op)
            if process == NEMESIS:
                self.nemesis_events.append(op)
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

    def __len__(self) -> int:
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
