"""``time.sleep`` that works under libfaketime with ``FAKETIME_DONT_FAKE_MONOTONIC`` (Python 3.11+).

Only on ``PYTHONPATH`` of a node started with per-node clocks
(:func:`harness.faketime.node_env`). Python 3.11's ``time.sleep`` sleeps with
``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, which libfaketime 0.9.10
turns into EINVAL when the monotonic clock is not faked (its issue 426). A
``select`` with a relative timeout is not touched, so the sleep is one,
repeated until the monotonic deadline (``select`` itself resumes after a
signal, PEP 475). Any other ``sitecustomize`` on the path is still imported.
"""

from __future__ import annotations

import os
import select
import sys
import time

_real_sleep = time.sleep


def _sleep(secs: float) -> None:
    secs = float(secs)
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        select.select([], [], [], left)


def _chain() -> None:
    """Import the ``sitecustomize`` this one shadows, if there is one."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if "faketime" in os.environ.get("LD_PRELOAD", "") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":
    time.sleep = _sleep
_chain()
