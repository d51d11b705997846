"""A run's watchdog: a small process that cleans up after a harness that died without doing it.

Every signal the harness can catch ends a run through its one shutdown path
(:mod:`harness.commands.run`). SIGKILL, the OOM killer or a crash of the
interpreter cannot be caught; the nodes, in their own sessions so that a
terminal's Ctrl-C does not reach them first, would then keep running. So each
run starts ``python -m harness.watchdog`` in a session of its own, holding
the read end of a pipe whose only write end is the harness's. When the
harness ends its run it writes ``released`` and closes the pipe; the watchdog
exits. If the pipe reaches end-of-file without that word, the harness is dead
(the kernel closes a dying process's descriptors), and the watchdog does what
``splitbrain clean`` does, for this run only: kills the node process groups
recorded in its run record (checking each is still the recorded process),
saves their logs into the run folder, removes the temporary directory, removes
the run's Docker containers and network, and marks ``results.json`` as
``"killed"`` (:func:`recover`). Idle, it costs one sleeping process and no CPU.

Why not ``PR_SET_PDEATHSIG``: the kernel sends it when the *thread* that
forked the child exits, not the process, and nodes are restarted by the
nemesis worker thread, which ends before the run does, so a restarted node
would die mid-run; it also needs ``preexec_fn``, which is unsafe in a
threaded program, and it covers neither containers, nor temporary
directories, nor the logs and ``results.json``. If the watchdog is killed
too, ``splitbrain clean`` finds the same run record and does the same.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["recover", "watchdog"]

log = logging.getLogger(__name__)

RELEASED = b"released\n"
_GONE_WAIT_S = 30.0


@contextmanager
def watchdog(*, run_id: str, run_dir: Path, backend: str) -> Iterator[None]:
    """Watch over the block: if this process dies inside it, the run is cleaned up after it."""
    from harness.backends._interrupts import deferred_interrupts
    from harness.leftovers import process_start

    me = os.getpid()
    argv = [sys.executable, "-m", "harness.watchdog", run_id, str(Path(run_dir).resolve()), backend,
            str(me), str(process_start(me) or 0)]
    proc: subprocess.Popen[bytes] | None = None
    with deferred_interrupts():
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as e:  # no watchdog is a weaker run, not a failed one
            log.warning("no watchdog for run %s (%s): if the harness is SIGKILLed, run `splitbrain clean`",
                        run_id, e)
    try:
        yield
    finally:
        if proc is not None:
            with deferred_interrupts():
                _release(proc)


def _release(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(RELEASED)
        proc.stdin.close()
    except OSError:
        pass  # it died already: nothing to release
    try:
        proc.wait(10.0)
    except subprocess.TimeoutExpired:  # pragma: no cover - it only reads a pipe and exits
        proc.kill()
        proc.wait()


def recover(run_id: str, run_dir: Path | None, backend: str) -> list[str]:
    """Clean up run ``run_id`` whose harness is dead; one line per thing done."""
    from harness import store as st
    from harness.leftovers import sweep

    done = [str(r) for r in sweep(run_id=run_id)]
    if backend == "docker":
        try:
            from harness.backends.docker import clean_leftovers
        except ImportError:
            pass
        else:
            try:
                done += [f"docker: {r}" for r in clean_leftovers(run_id)]
            except Exception as e:  # noqa: BLE001 - no engine: nothing of ours can run there
                done.append(f"docker: could not clean: {type(e).__name__}: {e}")
    if run_dir is not None and st.mark_killed(run_dir):
        done.append(f"{run_id}: marked {Path(run_dir) / 'results.json'} as killed")
    return done


def _main(argv: list[str]) -> int:
    run_id, run_dir, backend, pid, start = argv
    data = b""
    try:
        while chunk := os.read(0, 64):
            data += chunk
    except OSError:
        pass
    if data.startswith(RELEASED):
        return 0
    from harness.leftovers import process_start

    deadline = time.monotonic() + _GONE_WAIT_S
    while process_start(int(pid)) == int(start) and int(start) and time.monotonic() < deadline:
        time.sleep(0.05)  # the descriptors close a moment before the process is gone
    for line in recover(run_id, Path(run_dir), backend):
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
