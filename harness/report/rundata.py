"""A run folder, loaded for rendering (``results.json`` plus the history), and atomic writes into it.

Both files are written by the runner (``docs/DESIGN.md``, "results.json"); the
report is a pure function of them, so ``splitbrain report RUN_DIR`` can redo it
at any time. Everything read here came from the system under test or from the
run: it is data to be escaped, never markup.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.history import History, HistoryError, read_jsonl
from harness.results_file import ResultsFileError, read_results_file

__all__ = ["RunData", "RunDirError", "load_results", "load_run", "write_text_atomic"]

RESULTS = "results.json"
HISTORY = "history.jsonl"


class RunDirError(ValueError):
    """A run folder the report cannot use; ``str()`` names the file and the fix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunData:
    """What one report is made of.

    ``history`` is ``None`` when the run folder has no ``history.jsonl`` (the
    report then shows the verdicts and says the charts are missing).
    """

    run_dir: Path
    results: Mapping[str, Any]
    history: History | None


def load_results(run_dir: Path) -> dict[str, Any]:
    """Read ``run_dir/results.json`` (see :mod:`harness.results_file`); raise :class:`RunDirError` saying what is wrong."""
    path = Path(run_dir) / RESULTS
    try:
        return read_results_file(path)
    except FileNotFoundError:
        raise RunDirError(f"{path}: no results.json here; pass a run folder "
                          f"(histories/<target>/<run>/) written by `splitbrain run`") from None
    except ResultsFileError as e:
        raise RunDirError(str(e)) from None


def load_run(run_dir: str | Path) -> RunData:
    """Load a run folder. A torn last history line (run killed mid-write) is dropped."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a folder; pass a run folder such as histories/<target>/<run>/")
    results = load_results(run_dir)
    hpath = run_dir / HISTORY
    history: History | None = None
    if hpath.exists():
        try:
            history = read_jsonl(hpath, tolerate_torn_tail=True)
        except HistoryError as e:
            raise RunDirError(f"{e}; fix or remove the history file to render the verdicts alone") from None
    return RunData(run_dir=run_dir, results=results, history=history)


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary sibling and rename; plain ``open`` so the umask applies (0644 as usual)."""
    # a short name: ``path``'s own may already be as long as a name can be
    tmp = path.with_name(f".splitbrain-{os.getpid()}-{threading.get_ident() % 10**6}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
