"""Per-node wall clocks with libfaketime: the timestamp file, the node environment, the library.

The clock nemesis (:mod:`nemesis.clock`) skews one node's wall clock without
touching the host's: every backend starts a node of a run with clocks
(``ClusterSpec.clock``) under Debian's libfaketime (package ``faketime``),
``LD_PRELOAD``-ed, reading its offset from a *timestamp file* the nemesis
rewrites while the node runs. One mechanism for all backends: this module
builds the environment (:func:`node_env`) and the file's text
(:func:`timestamp_text`); a backend only says where the file lives (host
backends: beside the node's data directory, :class:`HostClock`; Docker: inside
the container, :data:`CONTAINER_CLOCK_FILE`) and how to rewrite it.

The settings, and why each (measured with libfaketime 0.9.10, Debian 12's,
and Python 3.11):

``FAKETIME_TIMESTAMP_FILE``  the file; one line, an offset in seconds with a
                             sign: ``+1.500``, ``-0.250`` (libfaketime's
                             relative format; ``.`` is the decimal point in
                             the C locale a Python node runs in).
``FAKETIME_NO_CACHE=1``      read the file on every call, so a rewrite takes
                             effect at once (the default cache holds an offset
                             for 10 s). Costs about 8-16 us per ``time.time()``
                             (0.1 us without the preload): nothing beside a
                             network request, which is why the preload is only
                             there in runs with the clock nemesis.
``FAKETIME_DONT_FAKE_MONOTONIC=1``  leave ``CLOCK_MONOTONIC`` alone. Faked,
                             it jumps with every rewrite and a thread's
                             ``Event.wait(timeout)`` never returns (glibc hands
                             the faked absolute time to the kernel).
``FAKETIME_FORCE_MONOTONIC_FIX=0``  leave condition variables' timed waits
                             alone. With the fix on, a thread woken by another
                             (a future's result, the GIL's hand-over) waited
                             100-800 ms instead of 0.03 ms, and a 5-node quorum
                             store timed out nine requests in ten; off, a node's
                             latency is the same as without the preload.
``NO_FAKE_STAT=1``           file times stay real (SQLite and logs need not care).

Python 3.11's ``time.sleep`` calls ``clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME)``, which libfaketime 0.9.10 breaks under
``DONT_FAKE_MONOTONIC`` (``OSError: [Errno 22]``; libfaketime issue 426, fixed
after 0.9.10). So the environment also puts :data:`SITE_DIR` first on
``PYTHONPATH``: its ``sitecustomize`` replaces ``time.sleep`` by a
``select``-based sleep in nodes that run under the preload, and nowhere else.
A node that is not a Python program gets the preload and the file, not the
shim.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

__all__ = [
    "CONTAINER_CLOCK_FILE", "HostClock", "LIBRARY_GLOB", "LIBRARY_PATHS", "SITE_DIR", "find_library",
    "node_env", "parse_timestamp", "timestamp_text", "write_timestamp",
]

LIBRARY_PATHS: tuple[str, ...] = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
)
"""Where Debian (per architecture) and a source install put the library."""

LIBRARY_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"
"""The same, as a shell glob (to find it inside a container)."""

CLOCK_FILE_NAME = "faketime"
"""A host node's timestamp file, beside its ``data/`` directory and ``node.log``."""

CONTAINER_CLOCK_FILE = "/var/lib/splitbrain/faketime"
"""A container node's timestamp file (the container's own layer: kept across restarts)."""

SITE_DIR = Path(__file__).resolve().parent / "faketime_site"
"""The ``sitecustomize`` that mends ``time.sleep`` under the preload (see the module docstring)."""

INSTALL_HINT = "install Debian's faketime package (apt-get install -y faketime)"

_TIMESTAMP = re.compile(r"^\s*([+-])(\d+(?:\.\d*)?)([mhdy]?)\s*$")
_UNITS_S = {"": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "y": 365 * 86400.0}


def timestamp_text(offset_ms: float) -> str:
    """The timestamp file's text for ``offset_ms``: ``+1.500\\n``, ``-0.250\\n`` (ms precision).

    ``ValueError`` for a non-finite offset.
    """
    offset_ms = float(offset_ms)
    if offset_ms != offset_ms or offset_ms in (float("inf"), float("-inf")):
        raise ValueError(f"a clock offset must be a finite number of ms (not {offset_ms!r})")
    ms = round(offset_ms)
    sign = "-" if ms < 0 else "+"
    whole, frac = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{frac:03d}\n"


def parse_timestamp(text: str) -> float:
    """The offset in ms a timestamp file holds (libfaketime's relative format); ``ValueError`` otherwise.

    Accepts what :func:`timestamp_text` writes and libfaketime's unit suffixes
    (``+2m``, ``-1.5h``); not absolute dates, which stop the clock.
    """
    m = _TIMESTAMP.match(text)
    if m is None:
        raise ValueError(f"not a relative libfaketime offset (+S.mmm or -S.mmm): {text.strip()!r}")
    sign, number, unit = m.groups()
    value = float(number) * _UNITS_S[unit] * 1000.0
    return -value if sign == "-" else value


def write_timestamp(path: Path, offset_ms: float) -> None:
    """Replace ``path``'s offset atomically: the node reads either the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(timestamp_text(offset_ms), encoding="ascii")
    os.replace(tmp, path)


def find_library(paths: Sequence[str] = LIBRARY_PATHS) -> str | None:
    """The first libfaketime among ``paths`` that exists; None when it is not installed."""
    return next((p for p in paths if os.path.isfile(p)), None)


def node_env(*, clock_file: str, library: str, site_dir: str = str(SITE_DIR),
             base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a node is started with so that ``clock_file`` sets its wall clock.

    ``base``: the environment they are added to (its ``LD_PRELOAD`` and
    ``PYTHONPATH`` are kept, after ours). Returns only the variables to set.
    """
    base = base or {}
    preload = " ".join(p for p in (library, base.get("LD_PRELOAD", "")) if p)
    pythonpath = os.pathsep.join(p for p in (site_dir, base.get("PYTHONPATH", "")) if p)
    return {"LD_PRELOAD": preload, "FAKETIME_TIMESTAMP_FILE": clock_file, "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_FORCE_MONOTONIC_FIX": "0", "NO_FAKE_STAT": "1",
            "PYTHONPATH": pythonpath}


class HostClock:
    """One node's timestamp file on the host (local and netns backends), created at offset 0.

    ``library`` is found once per cluster (:func:`find_library`); a cluster
    asked for clocks on a machine without it fails to open, saying what to
    install (the caller's job: see :meth:`require`).
    """

    def __init__(self, node_dir: Path) -> None:
        self.path = node_dir / CLOCK_FILE_NAME
        write_timestamp(self.path, 0.0)

    def set(self, offset_ms: float) -> None:
        write_timestamp(self.path, offset_ms)

    def env(self, library: str, base: Mapping[str, str]) -> dict[str, str]:
        return node_env(clock_file=str(self.path), library=library, base=base)

    @staticmethod
    def require() -> str:
        """The library's path; ``RuntimeError`` naming the package when it is missing."""
        lib = find_library()
        if lib is None:
            raise RuntimeError(f"the clock nemesis needs libfaketime, which is not installed: {INSTALL_HINT}")
        return lib
