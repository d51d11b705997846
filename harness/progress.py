"""The live progress display of ``splitbrain run``.

On a terminal: one rich ``Live`` panel, refreshed a few times a second by rich's
own thread, showing the phase, elapsed / time limit, client ops by outcome
(ok / fail / info) and the faults in effect. It reads the recorder's counters
and its list of nemesis events; it adds nothing to the per-op path.

Not on a terminal (CI logs, pipes): a plain line at each phase change and
every ``plain_every_s`` seconds, so a log shows that the run is alive without
drowning the verdict.

Faults in effect are computed by ``nemesis.fault_windows`` (windows with no end
yet), the same function ``results.json`` and the report use, so the three agree.
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


def _active_faults(recorder: Recorder) -> list[str]:
    events = list(recorder.nemesis_events)
    if not events:
        return []
    try:
        from nemesis import fault_windows
    except ImportError:  # the nemesis package is optional for the display
        return []
    out = []
    for w in fault_windows(events):
        if w.end_ns is None:
            nodes = ",".join(getattr(w, "nodes", ()) or ())
            out.append(f"{w.kind}" + (f" [{nodes}]" if nodes else ""))
    return out


class Progress:
    """Context manager; ``phase(name)`` is the runner's ``on_phase`` callback."""

    def __init__(self, recorder: Recorder, *, time_limit_s: float, title: str = "",
                 console: Console | None = None, live: bool | None = None,
                 plain_every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._rec = recorder
        self._limit = time_limit_s
        self._title = title
        self._console = console or Console()
        self._live_on = self._console.is_terminal if live is None else live
        self._every = plain_every_s
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
        faults = _active_faults(self._rec)
        el = self._clock() - self._t0
        return (f"[{el:6.1f}s / {self._limit:g}s] {self._phase}: {ops} ops "
                f"(ok {ok}, fail {fail}, info {info}); faults: {', '.join(faults) or 'none'}")

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
        faults = _active_faults(self._rec)
        t.add_row("faults", Text(", ".join(faults) or "none", style="bold red" if faults else "dim"))
        return t

    # -- lifetime -------------------------------------------------------------------

    def phase(self, name: str) -> None:
        self._phase = name
        if not self._live_on:
            self._console.print(self.line(), highlight=False, markup=False, soft_wrap=True)

    def __enter__(self) -> "Progress":
        self._t0 = self._clock()
        if self._live_on:
            self._live = Live(self, console=self._console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        elif self._every > 0:
            self._thread = threading.Thread(target=self._plain_loop, name="splitbrain-progress", daemon=True)
            self._thread.start()
        return self

    def _plain_loop(self) -> None:
        while not self._stop.wait(self._every):
            self._console.print(self.line(), highlight=False, markup=False, soft_wrap=True)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
        self._phase = "done" if exc[0] is None else f"stopped in {self._phase}"
        self._console.print(self.line(), highlight=False, markup=False, soft_wrap=True)
