"""Driving a real ``splitbrain run`` in a child process, for the shutdown tests.

:class:`RunUnderTest` starts ``python -m harness.cli run quorum-store`` (the
``abd`` variant, which is linearizable, so every history it leaves must check
as valid) on a given backend with its own temporary directory, state dir and
store under one test folder, so that "nothing left" can be checked exactly:
no process naming that folder, no ``splitbrain-*`` directory in its TMPDIR,
no run record. Phases are observed through the run's own ``results.json``
(``"phase"``) and, for phases too short to catch, the test-only hold of
:mod:`harness.commands.run` (``SPLITBRAIN_TEST_HOLD_PHASE``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ROOT", "RunUnderTest", "processes_naming", "wait_for"]


def wait_for(pred: Callable[[], Any], timeout: float, what: str, *, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def processes_naming(text: str) -> list[tuple[int, str]]:
    """Live (non-zombie) processes whose command line contains ``text``, except this one."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state not in ("Z", "X"):
            found.append((int(entry.name), cmd))
    return found


class RunUnderTest:
    """One ``splitbrain run`` child; ``base`` is the test's own folder."""

    def __init__(self, base: Path, *, backend: str = "local", time_limit: float = 1.5,
                 hold: str | None = None, store: Path | None = None, rate: float = 50,
                 sigint_ignored: bool = False, pipe: bool = False, extra: tuple[str, ...] = ()) -> None:
        """``pipe``: stdout and stderr to a pipe (``proc.stdout``) the test may close, as a
        terminal goes away on SIGHUP; else to ``out.txt``."""
        self.base = base
        self.tmp = base / "tmp"
        self.state = base / "state"
        self.store = store or base / "store"
        self.hold_dir = base / "hold"
        for d in (self.tmp, self.state, self.hold_dir):
            d.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TMPDIR=str(self.tmp), SPLITBRAIN_STATE_DIR=str(self.state),
                   PYTHONPATH=str(ROOT))
        env.pop("SPLITBRAIN_TEST_HOLD_PHASE", None)
        if hold is not None:
            env.update(SPLITBRAIN_TEST_HOLD_PHASE=hold, SPLITBRAIN_TEST_HOLD_DIR=str(self.hold_dir))
        argv = [sys.executable, "-m", "harness.cli", "run", "quorum-store", "--backend", backend,
                "--variant", "abd", "--nodes", "3", "--concurrency", "3", "--nemesis", "partition",
                "--nemesis-interval", "0.4", "--time-limit", str(time_limit), "--rate", str(rate),
                "--seed", "5", "--store", str(self.store), *extra]
        if sigint_ignored:  # what `cmd &` in a shell script does to its background jobs
            argv = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *argv]
        self.out_path = base / "out.txt"
        self._out = open(self.out_path, "w")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE if pipe else self._out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    # -- observing ------------------------------------------------------------------

    def run_dir(self) -> Path | None:
        found = [p for p in self.store.glob("quorum-store/*") if p.is_dir() and not p.is_symlink()]
        return found[0] if found else None

    def results(self) -> dict[str, Any]:
        rd = self.run_dir()
        if rd is None:
            return {}
        try:
            return json.loads((rd / "results.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_phase(self, phase: str, timeout: float = 60) -> None:
        wait_for(lambda: self.results().get("phase") == phase or self.proc.poll() is not None, timeout,
                 f"phase {phase!r}")
        assert self.proc.poll() is None, f"the run ended before {phase!r}:\n{self.output()}"

    def wait_held(self, timeout: float = 60) -> str:
        held = self.hold_dir / "held"
        wait_for(lambda: held.exists() or self.proc.poll() is not None, timeout, "the test hold")
        assert self.proc.poll() is None, f"the run ended before its hold:\n{self.output()}"
        return held.read_text()

    def release(self) -> None:
        (self.hold_dir / "release").write_text("go")

    def history_lines(self) -> int:
        rd = self.run_dir()
        try:
            return (rd / "history.jsonl").read_bytes().count(b"\n") if rd else 0
        except OSError:
            return 0

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.out_path.read_text(errors="replace")

    # -- ending -----------------------------------------------------------------------

    def signal(self, *signums: int, gap_s: float = 0.1) -> None:
        for i, s in enumerate(signums):
            if i:
                time.sleep(gap_s)
            self.proc.send_signal(s)

    def wait(self, timeout: float = 90) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        """Kill what is still ours (a failed test must not leave its nodes to the next one)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        for pid, _ in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not self._out.closed:
            self._out.close()

    def processes(self) -> list[tuple[int, str]]:
        """Processes of this run: naming its folder, or (a netns holder, which anchors the
        run's namespaces) naming the harness as its parent."""
        return processes_naming(f"{self.base}/") + processes_naming(f'"parent": {self.proc.pid},')

    def leftovers(self) -> list[str]:
        """What of this run is still there: processes, temp dirs, run records, reserve/temp files."""
        left = [f"process {pid}: {cmd}" for pid, cmd in self.processes()]
        left += [f"temp dir {p}" for p in self.tmp.glob("splitbrain-*")]
        left += [f"run record {p}" for p in (self.state / "runs").glob("*")] if (self.state / "runs").exists() else []
        rd = self.run_dir()
        if rd is not None:
            left += [f"file {p}" for p in rd.iterdir() if p.name.startswith(".")]
        return left
