"""The registry of what a run made, so that a crashed harness's leftovers can be removed.

A cluster removes everything it made when its ``with`` block ends, also on
Ctrl-C. What it cannot survive is its own death: a harness killed with
SIGKILL (or by the OOM killer) leaves node processes running and temporary
directories on disk. So, while a run is up, it keeps a record file::

    <state dir>/runs/<run_id>.json
    {"run_id": ..., "harness": {"pid": ..., "start": ...},
     "processes": [{"pid": ..., "pgid": ..., "start": ..., "label": ...}],
     "dirs": ["/tmp/splitbrain-..."]}

and deletes it at a clean close. :func:`sweep` (run by ``splitbrain clean``
and at the start of every local run) handles each record whose harness is no
longer alive: it kills the recorded process groups and removes the recorded
directories, then deletes the record.

Safety: a pid may have been reused since it was recorded, so a process is
only killed when its start time (``/proc/<pid>/stat`` field 22, clock ticks
since boot) equals the recorded one; a group whose leader is gone is only
killed when its remaining members started after the leader (the kernel does
not reuse a pid while it names a live process group). Only directories whose
name starts with ``splitbrain-`` are removed. This needs Linux's ``/proc``.

The state dir is ``$SPLITBRAIN_STATE_DIR`` if set, else
``$XDG_STATE_HOME/splitbrain``, else ``~/.local/state/splitbrain``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Removed", "RunRecord", "group_members", "kill_group", "process_start", "state_dir", "sweep"]

DIR_PREFIX = "splitbrain-"


def state_dir(override: Path | None = None) -> Path:
    """Where run records live (see the module docstring)."""
    if override is not None:
        return Path(override)
    if env := os.environ.get("SPLITBRAIN_STATE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "splitbrain"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` from field 3 (state) on, or None if gone/zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = raw[raw.rfind(")") + 2:].split()  # comm may contain spaces and parentheses
    if not rest or rest[0] in ("Z", "X"):
        return None  # a zombie has released everything; it only waits to be reaped
    return rest


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    f = _stat_fields(pid)
    return int(f[19]) if f else None


def _pgid_of(fields: list[str]) -> int:
    return int(fields[2])


def group_members(pgid: int) -> list[tuple[int, int]]:
    """(pid, start) of every live, non-zombie process in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        f = _stat_fields(int(entry.name))
        if f and _pgid_of(f) == pgid:
            found.append((int(entry.name), int(f[19])))
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Removed:
    """One thing :func:`sweep` removed (or failed to), for printing."""

    run_id: str
    kind: str  # "process group" | "directory" | "record"
    what: str
    ok: bool = True

    def __str__(self) -> str:
        verb = "removed" if self.ok else "could not remove"
        return f"{self.run_id}: {verb} {self.kind} {self.what}"


class RunRecord:
    """The record file of one live run. Thread-safe; every change is written atomically.

    ``discard()`` deletes it at a clean close; a record that is never
    discarded is found by :func:`sweep` once this process is dead.
    """

    def __init__(self, run_id: str, *, directory: Path | None = None) -> None:
        self.run_id = run_id
        runs = state_dir(directory) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        self.path = runs / f"{_safe(run_id)}.json"
        self._lock = threading.Lock()
        me = os.getpid()
        self._data: dict = {"run_id": run_id,
                            "harness": {"pid": me, "start": process_start(me)},
                            "processes": [], "dirs": []}
        self._write()

    def add_process(self, pid: int, *, label: str) -> None:
        """Record a process started in its own session (so its pgid is its pid)."""
        with self._lock:
            self._data["processes"].append(
                {"pid": pid, "pgid": pid, "start": process_start(pid), "label": label})
            self._write()

    def remove_process(self, pid: int) -> None:
        """Forget ``pid`` once its whole group is gone."""
        with self._lock:
            self._data["processes"] = [p for p in self._data["processes"] if p["pid"] != pid]
            self._write()

    def add_dir(self, path: Path) -> None:
        if not Path(path).name.startswith(DIR_PREFIX):
            raise ValueError(f"{path}: run directories must be named {DIR_PREFIX}* so clean can "
                             f"tell them from the user's files")
        with self._lock:
            self._data["dirs"].append(str(path))
            self._write()

    def discard(self) -> None:
        """Delete the record: everything it lists is gone."""
        with self._lock:
            self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self._data, indent=1))
        os.replace(tmp, self.path)


def _safe(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)


def _harness_alive(rec: dict) -> bool:
    h = rec.get("harness") or {}
    pid, start = h.get("pid"), h.get("start")
    if not isinstance(pid, int):
        return False
    if start is None:  # no start time was recorded: all we can ask is whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return process_start(pid) == start


def kill_group(pgid: int, recorded_start: int | None, *, timeout: float = 5.0) -> bool:
    """SIGKILL group ``pgid`` if it is still the one recorded; True once none of it is left."""
    members = group_members(pgid)
    if not members:
        return True
    leader_start = process_start(pgid)
    if leader_start is not None:
        ours = recorded_start is not None and leader_start == recorded_start
    else:
        ours = recorded_start is not None and all(s >= recorded_start for _, s in members)
    if not ours:
        return True  # the pid now names someone else's process: not ours to kill
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def sweep(directory: Path | None = None) -> list[Removed]:
    """Remove the leftovers of every recorded run whose harness is dead."""
    runs = state_dir(directory) / "runs"
    if not runs.is_dir():
        return []
    removed: list[Removed] = []
    for path in sorted(runs.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written, or not ours; a later sweep looks again
        if not isinstance(rec, dict) or _harness_alive(rec):
            continue
        run_id = str(rec.get("run_id", path.stem))
        all_ok = True
        for p in rec.get("processes", []):
            pgid = int(p.get("pgid", p["pid"]))
            had = bool(group_members(pgid))
            ok = kill_group(pgid, p.get("start"))
            all_ok &= ok
            if had or not ok:
                removed.append(Removed(run_id=run_id, kind="process group",
                                       what=f"{pgid} ({p.get('label', '?')})", ok=ok))
        for d in rec.get("dirs", []):
            dp = Path(d)
            if not dp.name.startswith(DIR_PREFIX) or not dp.exists():
                continue
            shutil.rmtree(dp, ignore_errors=True)
            ok = not dp.exists()
            all_ok &= ok
            removed.append(Removed(run_id=run_id, kind="directory", what=str(dp), ok=ok))
        if all_ok:
            path.unlink(missing_ok=True)
            removed.append(Removed(run_id=run_id, kind="record", what=str(path)))
    return removed
