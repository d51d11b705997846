"""The registry of what a run made, so that a crashed harness's leftovers can be removed.

A cluster removes everything it made when its ``with`` block ends, also on
Ctrl-C. What it cannot survive is its own death: a harness killed with
SIGKILL (or by the OOM killer) leaves node processes running and temporary
directories on disk. So, while a run is up, it keeps a record file::

    <state dir>/runs/<run_id>.json
    {"run_id": ..., "host": ..., "harness": {"pid": ..., "start": ...}, "run_dir": ...,
     "processes": [{"pid": ..., "pgid": ..., "start": ..., "label": ...}],
     "dirs": ["/tmp/splitbrain-..."]}

and deletes it at a clean close. :func:`sweep` (run by ``splitbrain clean``,
by the run's watchdog when its harness dies, and at the start of every local
run) handles each record whose harness is provably gone: it kills the
recorded process groups, saves the node logs (``<dir>/<node>/node.log``) into
the run folder's ``logs/``, removes the recorded directories, marks the run's
``results.json`` as ``"killed"``, then deletes the record.

A record made on another host (a state dir in a shared home) says nothing
this host can check, so it is left alone unless ``force``.

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
import socket
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
    kind: str  # "process group" | "directory" | "record" | "logs" | "results"
    what: str
    ok: bool = True
    verb: str = "removed"  # "saved", "marked", "left" (not provably ours to remove)

    def __str__(self) -> str:
        base = {"removed": "remove", "saved": "save", "marked": "mark"}.get(self.verb, self.verb)
        verb = self.verb if self.ok else f"could not {base}"
        return f"{self.run_id}: {verb} {self.kind} {self.what}"


class RunRecord:
    """The record file of one live run. Thread-safe; every change is written atomically.

    ``discard()`` deletes it at a clean close; a record that is never
    discarded is found by :func:`sweep` once this process is dead.
    """

    def __init__(self, run_id: str, *, directory: Path | None = None, run_dir: Path | None = None) -> None:
        """``run_dir``: the run folder, where ``sweep`` saves the node logs of a dead harness."""
        self.run_id = run_id
        runs = state_dir(directory) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        self.path = runs / f"{_safe(run_id)}.json"
        self._lock = threading.Lock()
        me = os.getpid()
        self._data: dict = {"run_id": run_id, "host": socket.gethostname(),
                            "harness": {"pid": me, "start": process_start(me)},
                            "run_dir": None if run_dir is None else str(Path(run_dir).resolve()),
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


def sweep(directory: Path | None = None, *, run_id: str | None = None, force: bool = False) -> list[Removed]:
    """Remove the leftovers of every recorded run whose harness is dead (only ``run_id``'s, if given).

    ``force``: also records made on another host, whose harness cannot be checked from here.
    """
    runs = state_dir(directory) / "runs"
    if not runs.is_dir():
        return []
    removed: list[Removed] = []
    for path in sorted(runs.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written, or not ours; a later sweep looks again
        if not isinstance(rec, dict) or (run_id is not None and rec.get("run_id") != run_id):
            continue
        host = rec.get("host")
        if host not in (None, socket.gethostname()) and not force:
            removed.append(Removed(run_id=str(rec.get("run_id", path.stem)), kind="record",
                                   what=f"{path} (made on host {host}; --force removes it)", verb="left"))
            continue
        if _harness_alive(rec):
            continue
        removed += _sweep_one(path, rec)
    return removed


def _sweep_one(path: Path, rec: dict) -> list[Removed]:
    """Kill, save logs, remove dirs, mark the run killed, drop the record (see the module docstring)."""
    removed: list[Removed] = []
    run_id = str(rec.get("run_id", path.stem))
    run_dir = Path(rec["run_dir"]) if isinstance(rec.get("run_dir"), str) else None
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
        if all_ok and run_dir is not None:
            removed += _save_logs(run_id, dp, run_dir)
        shutil.rmtree(dp, ignore_errors=True)
        ok = not dp.exists()
        all_ok &= ok
        removed.append(Removed(run_id=run_id, kind="directory", what=str(dp), ok=ok))
    if run_dir is not None and run_dir.is_dir():
        removed += _mark_killed(run_id, run_dir)
    if all_ok:
        path.unlink(missing_ok=True)
        removed.append(Removed(run_id=run_id, kind="record", what=str(path)))
    return removed


def _save_logs(run_id: str, root: Path, run_dir: Path) -> list[Removed]:
    """Copy ``root/<node>/node.log`` to ``run_dir/logs/<node>.log`` (what a clean close does)."""
    logs = sorted(root.glob("*/node.log"))
    if not logs or not run_dir.is_dir():
        return []
    dest = run_dir / "logs"
    try:
        dest.mkdir(exist_ok=True)
        for log in logs:
            shutil.copyfile(log, dest / f"{log.parent.name}.log")
    except OSError as e:
        return [Removed(run_id=run_id, kind="logs", what=f"to {dest}: {e.strerror}", ok=False, verb="saved")]
    return [Removed(run_id=run_id, kind="logs", what=f"of {len(logs)} node(s) to {dest}", verb="saved")]


def _mark_killed(run_id: str, run_dir: Path) -> list[Removed]:
    from harness.store import mark_killed

    try:
        changed = mark_killed(run_dir)
    except OSError as e:
        return [Removed(run_id=run_id, kind="results", what=f"{run_dir}: {e.strerror}", ok=False,
                        verb="marked")]
    return [Removed(run_id=run_id, kind="results", what=f"{run_dir / 'results.json'} as killed",
                    verb="marked")] if changed else []
