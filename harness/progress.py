"""The live progress display of ``splitbrain run``.

On a terminal: one rich ``Live`` panel, refreshed a few times a second by rich's
own thread, showing the phase, elapsed / time limit, client ops by outcome
(ok / fail / info), how many faults so far and those in effect. It reads the
recorder's counters and its list of nemesis events; it adds nothing to the
per-op path.

Not on a terminal (CI logs, pipes): a plain line at each phase change, a line
when a fault takes effect and when it is healed, and a status line every
``plain_every_s`` seconds, so a log shows what happened when without drowning
the verdict.

Faults come from ``nemesis.fault_windows`` (in effect = a window with no end
yet), the same function ``results.json`` and the report use, so the three agree:
"faults: 5" here is the verdict's "5 fault(s)", and a partition shows as its
sides (``partition n1 n2 | n3 n4 n5``, :meth:`FaultWindow.describe`). A fault
still in effect during the final reads (a heal that could not be verified) is
shown as in effect.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harness.recorder import Recorder

__all__ = ["Progress"]


def _windows(recorder: Recorder) -> list[Any]:
    events = list(recorder.nemesis_events)
    if not events:
        return []
    try:
        from nemesis import fault_windows
    except ImportError:  # the nemesis package is optional for the display
        return []
    return fault_windows(events)


def _faults_text(windows: list[Any], *, kept: int | None = None) -> str:
    """``"none"``, or ``"3 (in effect: partition n1 n2 | n3 n4 n5)"``, or ``"3 (none in effect)"``.

    ``kept``: how many nemesis events the count covers, when the recorder has
    let older ones go (a long run; the file has them all): then it says so.
    """
    if not windows:
        return "none"
    active = [w.describe() for w in windows if w.end_ns is None]
    count = f"{len(windows)}" if kept is None else f"{len(windows)} in the latest {kept} nemesis events"
    return f"{count} ({'in effect: ' + ', '.join(active) if active else 'none in effect'})"


def _kept(recorder: Recorder) -> int | None:
    """The nemesis events the recorder still holds, when it let older ones go; else None."""
    held = len(recorder.nemesis_events)
    return held if recorder.nemesis_count > held else None


class Progress:
    """Context manager; ``phase(name)`` is the runner's ``on_phase`` callback."""

    def __init__(self, recorder: Recorder, *, time_limit_s: float, title: str = "",
                 console: Console | None = None, live: bool | None = None,
                 plain_every_s: float = 10.0, poll_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rec = recorder
        self._limit = time_limit_s
        self._title = title
        self._console = console or Console()
        self._live_on = self._console.is_terminal if live is None else live
        self._every = plain_every_s
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._seen_start: set[tuple[str, int]] = set()
        self._seen_end: set[tuple[str, int]] = set()
        self._clock = clock
        self._t0 = clock()
        self._phase = "starting"
        self._live: Live | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what is shown ------------------------------------------------------------

    def _counts(self) -> tuple[int, int, int, int]:
        c = self._rec.counts
        return c["invoke"], c["ok"], c["fail"], c["info"]

    def line(self) -> str:
        """The status as one plain line."""
        ops, ok, fail, info = self._counts()
        return (f"{self._stamp()} {self._phase}: {ops} ops "
                f"(ok {ok}, fail {fail}, info {info}); faults: {_faults_text(_windows(self._rec), kept=_kept(self._rec))}")

    def _stamp(self) -> str:
        return f"[{self._clock() - self._t0:6.1f}s / {self._limit:g}s]"

    def poll(self) -> None:
        """Print a line for each fault that took effect or was healed since the last call (plain mode)."""
        with self._lock:
            for w in _windows(self._rec):
                key = (w.kind, w.start_index)
                if key not in self._seen_start:
                    self._seen_start.add(key)
                    self._print(f"{self._stamp()} fault in effect: {w.describe()}")
                if w.end_ns is not None and key not in self._seen_end:
                    self._seen_end.add(key)
                    held = "" if w.start_ns is None else f" after {(w.end_ns - w.start_ns) / 1e9:.1f} s"
                    self._print(f"{self._stamp()} fault healed: {w.describe()}{held}")

    def _print(self, text: str) -> None:
        self._console.print(text, highlight=False, markup=False, soft_wrap=True)

    def __rich__(self) -> Table:
        ops, ok, fail, info = self._counts()
        el = self._clock() - self._t0
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        t.add_row("splitbrain", Text(self._title))
        t.add_row("phase", self._phase)
        t.add_row("elapsed", f"{el:.1f} s / {self._limit:g} s")
        ops_text = Text(f"{ops}  ")
        ops_text.append(f"ok {ok}", style="green")
        ops_text.append("  ")
        ops_text.append(f"fail {fail}", style="yellow")
        ops_text.append("  ")
        ops_text.append(f"info {info}", style="red" if info else "")
        t.add_row("ops", ops_text)
        windows = _windows(self._rec)
        active = any(w.end_ns is None for w in windows)
        t.add_row("faults", Text(_faults_text(windows, kept=_kept(self._rec)), style="bold red" if active else "dim"))
        return t

    # -- lifetime -------------------------------------------------------------------

    def phase(self, name: str) -> None:
        self._phase = name
        if not self._live_on:
            self.poll()
            self._print(self.line())

    def __enter__(self) -> "Progress":
        self._t0 = self._clock()
        if self._live_on:
            self._live = Live(self, console=self._console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        elif self._poll_s > 0:
            self._thread = threading.Thread(target=self._plain_loop, name="splitbrain-progress", daemon=True)
            self._thread.start()
        return self

    def _plain_loop(self) -> None:
        """Fault lines within ``poll_s`` of the event; a status line every ``plain_every_s``."""
        next_line = self._clock() + self._every
        while not self._stop.wait(self._poll_s):
            self.poll()
            if self._every > 0 and self._clock() >= next_line:
                next_line = self._clock() + self._every
                self._print(self.line())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
        self._phase = "done" if exc[0] is None else f"stopped in {self._phase}"
        if not self._live_on:
            self.poll()
        self._print(self.line())
