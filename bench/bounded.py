"""One run of ``splitbrain run`` from a bench script, stopped the way a user would stop it.

A bench that waits on a run with ``subprocess.run(timeout=...)`` SIGKILLs an
overrunning run, which leaves its containers and namespaces for the watchdog
and loses the run's own account of itself. :func:`run_bounded` sends SIGTERM
instead, so the harness unwinds its nodes and records the run as interrupted,
and only SIGKILLs after a further minute.
"""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["run_bounded"]


def run_bounded(argv: list[str], timeout: float, **kw: Any) -> subprocess.CompletedProcess:
    """Run ``argv``; past ``timeout`` s stop it with SIGTERM, then SIGKILL after 60 s more."""
    with subprocess.Popen(argv, **kw) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
