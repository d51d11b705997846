"""Holding Ctrl-C back while a resource is between "made" and "recorded".

Backends use :func:`deferred_interrupts` around the few steps where an
interrupt would leak something (spawning a process or container and recording
it; cleanup itself). The interrupt is not lost: it is raised when the block ends.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["deferred_interrupts"]


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C back until the block is done (main thread only), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if got and old is not signal.SIG_IGN:
            raise KeyboardInterrupt
