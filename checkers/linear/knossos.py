"""Knossos as an alternative engine, run as a subprocess (``--engine knossos``).

We write the history as EDN (:func:`harness.formats.write_history`) to a temp
file, run ``CMD --model MODEL FILE`` (``CMD`` defaults to a ``knossos``
command on ``PATH``; e.g. ``--knossos-cmd "lein run -m knossos.cli"`` inside a
Knossos checkout) and map the ``:valid?`` it prints (``knossos.cli`` prints
``FILE<TAB>true``; a printed analysis map ``{:valid? ...}`` is read too):
``true`` -> valid, ``false`` -> invalid, anything else (``:unknown``, a crash,
the time budget) -> unknown. ``knossos.cli`` knows the ``register``,
``cas-register`` and ``mutex`` models and starts them from their own
defaults (``nil``, free), so a non-default ``init`` is reported in the
stats, not passed on.

Where no Knossos is installed, :class:`EngineUnavailable` says so in one
sentence (the CLI exits 3); the default engine never needs Java.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from checkers.api import Anomaly, CheckResult, Verdict
from harness.formats import write_history
from harness.history import History

__all__ = ["EngineUnavailable", "KNOSSOS_MODELS", "check_with_knossos", "knossos_command"]

_VALID = re.compile(r"(?::valid\?\s+|\t)(true|false|:unknown|nil)\b")
KNOSSOS_MODELS = ("register", "cas-register", "mutex")


class EngineUnavailable(RuntimeError):
    """The requested external engine is not installed."""


def knossos_command(cmd: str | None) -> list[str]:
    """The command line prefix to run Knossos, or :class:`EngineUnavailable`."""
    argv = shlex.split(cmd) if cmd else ["knossos"]
    if not argv or shutil.which(argv[0]) is None:
        raise EngineUnavailable(
            f"Knossos is not installed ({argv[0] if argv else 'empty command'!r} not found on PATH); "
            f"install it or pass --knossos-cmd, e.g. \"lein run -m knossos.cli\" in a Knossos checkout.")
    return argv


def check_with_knossos(history: History, *, model: str, init: Any = None, cmd: str | None = None,
                       timeout_s: float | None = None, independent: bool = False,
                       name: str = "linearizability") -> CheckResult:
    """Check ``history`` with Knossos; see the module docstring."""
    if model not in KNOSSOS_MODELS:
        raise ValueError(f"Knossos's CLI has no {model!r} model (only {', '.join(KNOSSOS_MODELS)}); "
                         f"use the default engine")
    argv = knossos_command(cmd)
    t0 = time.monotonic()
    stats: dict[str, Any] = {"engine": "knossos", "model": model, "ops": len(history.operations)}
    if init is not None:
        stats["init_not_passed"] = init
    if independent:
        stats["independent_not_passed"] = True
    with tempfile.TemporaryDirectory(prefix="splitbrain-knossos-") as tmp:
        path = write_history(history, Path(tmp) / "history.edn")
        try:
            proc = subprocess.run([*argv, "--model", model, str(path)], capture_output=True, text=True,
                                  timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            stats["elapsed_s"] = round(time.monotonic() - t0, 6)
            return CheckResult(checker=name, verdict=Verdict.UNKNOWN, stats=stats,
                               error=f"knossos did not answer within {timeout_s} s")
    stats["elapsed_s"] = round(time.monotonic() - t0, 6)
    m = _VALID.search(proc.stdout)
    if m is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return CheckResult(checker=name, verdict=Verdict.UNKNOWN, stats=stats,
                           error=f"knossos exited {proc.returncode} without a :valid? answer: {tail[0]}")
    answer = m.group(1)
    if answer == "true":
        return CheckResult(checker=name, verdict=Verdict.VALID, stats=stats)
    if answer == "false":
        anomaly = Anomaly(kind="nonlinearizable", summary="Knossos found no linearization of the history.",
                          data={"knossos_output": proc.stdout[-4000:]})
        return CheckResult(checker=name, verdict=Verdict.INVALID, anomalies=(anomaly,), stats=stats)
    return CheckResult(checker=name, verdict=Verdict.UNKNOWN, stats=stats,
                       error="knossos answered :valid? :unknown")
