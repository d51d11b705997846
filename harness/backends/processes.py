"""A node's service as a process group of the harness: spawn, signal, end, wait until ready.

Shared by the backends whose nodes are processes the harness starts itself
(``local``, ``netns``), so that a kill, a pause and cleanup mean the same on
both. A node is started with ``start_new_session=True``: it leads its own
process group, which is what every signal goes to, so a node's children are
hit too, and a Ctrl-C in the terminal (sent to the harness's foreground group)
does not reach the nodes before the harness has decided what to do. Each
started group is listed in the run's :class:`~harness.leftovers.RunRecord`
until it is gone, so that ``splitbrain clean`` can remove it after a SIGKILL of
the harness.

Clocks. In a run with per-node clocks (``ClusterSpec.clock``) the backend
calls :meth:`NodeProcess.use_clock` once: every start then runs the node under
libfaketime, reading its offset from a timestamp file beside its log
(:class:`harness.faketime.HostClock`), which :meth:`NodeProcess.set_clock`
rewrites, also while the node runs.

A :class:`NodeProcess` is not thread-safe by itself: its backend serialises
calls per node (its per-node lock).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from harness.backends._interrupts import deferred_interrupts
from harness.cluster import EnvironmentError_
from harness.faketime import HostClock
from harness.leftovers import RunRecord, group_members

__all__ = ["NodeDownError", "NodeProcess", "NodeStartError"]

_LOG_TAIL_LINES = 20


class NodeStartError(EnvironmentError_):
    """A node exited, or did not become ready in time, while being started."""


class NodeDownError(RuntimeError):
    """An operation needs a running node (e.g. pause) and the node is not running."""


class NodeProcess:
    """One node's service: at most one live process group at a time, logging to ``log_path``."""

    def __init__(self, *, name: str, log_path: Path, record: RunRecord, label: str,
                 stop_grace: float) -> None:
        self.name = name
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._record = record
        self._label = label
        self._stop_grace = stop_grace
        self._clock: HostClock | None = None
        self._clock_library: str | None = None

    def use_clock(self) -> None:
        """Start the node under libfaketime from now on; ``EnvironmentError_`` when it is not installed."""
        try:
            self._clock_library = HostClock.require()
        except RuntimeError as e:
            raise EnvironmentError_(f"node {self.name}: {e}") from None
        self._clock = self._clock or HostClock(self.log_path.parent)

    def set_clock(self, offset_ms: float) -> None:
        """Write the node's timestamp file (made on first use: a node started without
        :meth:`use_clock` keeps the host's clock, which the clock nemesis then reports)."""
        self._clock = self._clock or HostClock(self.log_path.parent)
        self._clock.set(offset_ms)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int | None:
        return self.proc.pid if self.running() else None  # type: ignore[union-attr]

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], what: str) -> None:
        """Start ``argv`` as a new process group appending to the log; ``what`` names it in errors."""
        if self._clock is not None and self._clock_library is not None:
            env = {**env, **self._clock.env(self._clock_library, env)}
        with open(self.log_path, "ab") as log:
            log.write(f"=== splitbrain: starting {self.name} at {time.strftime('%Y-%m-%dT%H:%M:%S')}: "
                      f"{' '.join(argv)}\n".encode())
            log.flush()
            with deferred_interrupts():
                try:
                    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=cwd, env=dict(env),
                                            start_new_session=True, close_fds=True)
                except OSError as e:
                    raise NodeStartError(f"cannot start node {self.name} of {what}: {e} "
                                         f"(command: {list(argv)!r}); check the target's node_command") from e
                self.proc = proc
                self._record.add_process(proc.pid, label=self._label)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole group; nothing when there is none."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def pause(self) -> None:
        if not self.running():
            raise NodeDownError(f"cannot pause {self.name}: it is not running (start it first)")
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.running():
            self.signal(signal.SIGCONT)

    def end(self, *, graceful: bool, wait_first: float = 0.0) -> None:
        """Make the process group disappear; return when it has.

        ``graceful``: SIGTERM (+SIGCONT) and wait ``stop_grace``; otherwise wait
        ``wait_first`` (an earlier SIGTERM's grace). Then SIGKILL the group.
        """
        proc = self.proc
        if proc is None:
            return
        if graceful:
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGCONT)
            wait_first = self._stop_grace
        if wait_first > 0:
            try:
                proc.wait(wait_first)
            except subprocess.TimeoutExpired:
                pass
        self.signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5.0
        while group_members(proc.pid):  # children of the node, reparented but in its group
            if time.monotonic() > deadline:
                raise EnvironmentError_(f"node {self.name}: processes of group {proc.pid} survived "
                                        f"SIGKILL; run `splitbrain clean` or kill them by hand")
            self.signal(signal.SIGKILL)
            time.sleep(0.02)
        self.proc = None
        self._record.remove_process(proc.pid)

    def wait_ready(self, ready: Callable[[], bool], *, timeout: float, closing: Callable[[], bool],
                   where: str) -> None:
        """Poll ``ready`` until True; ``NodeStartError`` when the node exits, times out or the cluster closes."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            if closing():
                raise NodeStartError(f"node {self.name}: start abandoned, the cluster is closing")
            code = self.proc.poll()
            if code is not None:
                raise NodeStartError(
                    f"node {self.name} exited with code {code} before it was ready; last lines of "
                    f"{self.log_path}:\n{self.tail()}")
            try:
                if ready():
                    return
            except Exception:
                pass  # not ready yet; a target's probe should not raise, but be lenient
            if time.monotonic() > deadline:
                raise NodeStartError(
                    f"node {self.name} did not become ready at {where} within {timeout:g} s; "
                    f"last lines of {self.log_path}:\n{self.tail()}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "  (no log)"
        return "\n".join(f"  {line}" for line in lines[-_LOG_TAIL_LINES:]) or "  (empty log)"


def stop_all(procs: Sequence[tuple[object, NodeProcess]], *, grace: float) -> None:
    """SIGTERM every group at once, wait up to ``grace`` in all, then SIGKILL what is left.

    ``procs``: (lock, process) pairs; each lock is held while its process is signalled.
    """
    for lock, p in procs:
        with lock:  # type: ignore[attr-defined]
            p.signal(signal.SIGTERM)
            p.signal(signal.SIGCONT)
    deadline = time.monotonic() + grace
    for lock, p in procs:
        with lock:  # type: ignore[attr-defined]
            p.end(graceful=False, wait_first=max(0.0, deadline - time.monotonic()))
