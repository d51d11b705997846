"""The signals that end a run, and holding them back while a resource is half made.

One shutdown path for every way a run is asked to stop. :func:`stop_signals`
installs one handler for SIGINT (Ctrl-C), SIGTERM (``kill``, a supervisor,
CI) and SIGHUP (the terminal or SSH session closed); the first of them raises
:class:`Interrupted` in the main thread, so every ``with`` block and
``ExitStack`` above unwinds exactly as for Ctrl-C: nodes stopped, rules and
containers removed, logs saved. Once stopping has begun, later signals (a
second Ctrl-C, SIGTERM from an impatient supervisor) are only noted, with one
line on stderr: cleanup is never cut short, and it is bounded by its own
timeouts (SIGKILL is there for the truly impatient; see :mod:`harness.watchdog`).
Only a step that leaks nothing when cut, such as writing the report once the
record is final, may be skipped by one more signal (:meth:`StopSignals.skippable`).

SIGINT is handled even when it was inherited as ignored: a shell script that
starts ``splitbrain run ... &`` hands its background jobs SIGINT set to
``SIG_IGN``, and a harness that cannot be stopped with ``kill -INT`` leaks a
cluster. (Node processes run in their own sessions: a signal for the
terminal's process group never reaches them before the harness decides.)

:func:`deferred_interrupts` wraps the few steps where a signal would leak
something (spawning a process or container and recording it; cleanup
itself): the signals are held and delivered, to whatever handler was in
place, when the block ends. Backends (local, docker, namespaces) share these
two pieces; none installs handlers of its own.

The exit code of a run stopped by a signal is ``128 + signum`` (130 SIGINT,
143 SIGTERM, 129 SIGHUP): what a shell reports for a process that signal
killed, so supervisors and CI read it the same way, and still distinct from
the harness's own codes 0-4.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["STOP_SIGNALS", "Interrupted", "StopSignals", "deferred_interrupts", "exit_code_for",
           "interrupt_in", "signal_name", "stop_signals"]

STOP_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code_for(signum: int) -> int:
    """The exit code of a run stopped by ``signum``: 128 + signum (130 for Ctrl-C)."""
    return 128 + int(signum)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; raised once, in the main thread.

    A ``KeyboardInterrupt``, so code that already unwinds on Ctrl-C unwinds on
    SIGTERM and SIGHUP too, and ``except Exception`` never swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = int(signum)

    @property
    def name(self) -> str:
        return signal_name(self.signum)

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.signum)


def interrupt_in(e: BaseException | None) -> KeyboardInterrupt | None:
    """The interrupt behind ``e``: ``e`` itself, or one it was raised while handling.

    A signal starts the unwinding; a step of it may fail in turn (a write to
    the terminal that SIGHUP closed), and that error then hides the signal.
    The run still ended because of the signal, and says so.
    """
    seen = 0
    while e is not None and seen < 20:
        if isinstance(e, KeyboardInterrupt):
            return e
        e = e.__cause__ or e.__context__
        seen += 1
    return None


class StopSignals:
    """The handler :func:`stop_signals` installs: raise once, then only note.

    ``received`` lists every stop signal so far, in order; ``stopping`` is
    True once :class:`Interrupted` was raised or :meth:`begin_stopping` was
    called (a run ending for another reason: from then on a signal must not
    cut its cleanup short either).
    """

    def __init__(self, *, note: Callable[[str], None] | None = None) -> None:
        self.received: list[int] = []
        self.stopping = False
        self._skippable = False
        self._note = note or (lambda line: print(line, file=sys.stderr, flush=True))

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    def begin_stopping(self) -> None:
        self.stopping = True

    @contextmanager
    def skippable(self) -> Iterator[None]:
        """A last step of stopping that a further signal may cut short (the report: nothing leaks).

        Inside, the next signal raises :class:`Interrupted` even while stopping;
        outside, signals are only noted again.
        """
        self._skippable = True
        try:
            yield
        finally:
            self._skippable = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        if self.stopping and self._skippable:
            self._skippable = False
            raise Interrupted(signum)
        if self.stopping:
            self._note(f"splitbrain: {signal_name(signum)} again: still stopping (nodes, network rules, "
                       f"logs); this ends by itself in a few seconds")
            return
        self.stopping = True
        raise Interrupted(signum)


@contextmanager
def stop_signals(*, note: Callable[[str], None] | None = None) -> Iterator[StopSignals]:
    """Handle SIGINT, SIGTERM and SIGHUP as :class:`StopSignals` inside the block (main thread).

    The previous handlers come back when the block ends. Off the main thread
    (embedded use) nothing is installed: the yielded object then never fires.
    """
    handler = StopSignals(note=note)
    if threading.current_thread() is not threading.main_thread():
        yield handler
        return
    old = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield handler
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back until the block is done (main thread only).

    Held signals are then delivered, in order, to the handlers that were in
    place (which, under :func:`stop_signals`, raise :class:`Interrupted` for
    the first and note the others). Where no handler was installed, the
    default action applies: ``KeyboardInterrupt`` for SIGINT, the signal
    itself re-raised for the others.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        for s in got:
            _deliver(s, old[s])


def _deliver(signum: int, handler: Any) -> None:
    if handler is signal.SIG_IGN:
        return
    if callable(handler):
        handler(signum, None)
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:
        os.kill(os.getpid(), signum)  # SIG_DFL: what would have happened without the block
