"""The run store: one folder per run, and re-checking a stored run.

Layout (``--store DIR``, default ``./histories``)::

    DIR/<target>/<YYYYmmddTHHMMSS>-<xxxx>/
        history.jsonl   every event, appended as it happened (harness.recorder)
        results.json    verdict, seed, reproducing command, stats, faults (docs/DESIGN.md)
        logs/           node logs, collected by the cluster backend at close
        report.html     written by harness.report, when present
    DIR/<target>/latest -> the newest run folder of that target

``results.json`` is written at the start with ``"valid": "unknown"`` and
``"status": "running"`` (so a run killed mid-way can still be re-checked: the
target, workload and options are on disk), again at each phase (``"phase"``),
and a last time when the run ends, whatever ends it: ``done``, ``interrupted``
(with ``"signal"``), ``environment-error``, ``harness-error``, or ``killed``
(written by ``splitbrain clean`` or the run's watchdog when the harness itself
died: :func:`mark_killed`). Every write is atomic (temporary file, then rename).

A full disk must not keep the last write from happening: while a run is going
its folder holds a reserve file (:func:`reserve_space`), released when the
final ``results.json`` does not fit otherwise; failing that, a short document
is written in place of the old one (:func:`write_results`).

:func:`recheck_run` re-reads a stored history, rebuilds the workload's checker
from ``results.json`` and checks again; it rewrites nothing unless asked.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import secrets
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TextIO

from checkers.api import CheckResult, Verdict, check_safe
from checkers.success import RequireSuccess
from harness.history import HistoryError, read_jsonl
from harness.results_file import ResultsFileError, read_results_file

__all__ = [
    "DEFAULT_STORE", "RunInfo", "RunStoreError", "checkers_json", "discard_unstarted", "disk_full", "during",
    "mark_killed",
    "new_run_dir",
    "read_results", "recheck_run", "replay_command", "reserve_space", "results_document", "verdict_text",
    "write_results",
]

DEFAULT_STORE = Path("histories")
HISTORY = "history.jsonl"
RESULTS = "results.json"
RESERVE = ".space-reserve"
RESERVE_BYTES = 256 * 1024
"""Room kept for the final ``results.json`` while a run goes on (its history may fill the disk)."""
_FULL = (errno.ENOSPC, errno.EDQUOT)


class RunStoreError(ValueError):
    """A run folder that cannot be used; the message names the path and what is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """Everything that defines a run: enough to replay it exactly."""

    run_id: str
    target: str
    variant: str
    backend: str
    workload: str
    nodes: tuple[str, ...]
    nemesis: tuple[str, ...]
    time_limit_s: float
    concurrency: int
    seed: int
    rate: float | None = None
    nemesis_interval_s: float | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    started_at: str = ""


SEED_FIXES = ("the seed fixes the op mix and the fault schedule, not the timing: "
              "the same command may record other ops and find other anomalies, or none")
"""What ``--seed`` does and does not reproduce; in ``results.json`` (``seed_fixes``) and the verdict text."""


def replay_command(info: RunInfo) -> str:
    """The exact ``splitbrain run`` command line that repeats ``info`` (every setting explicit)."""
    argv = ["splitbrain", "run", info.target, "--variant", info.variant, "--backend", info.backend,
            "--nodes", str(len(info.nodes)), "--workload", info.workload,
            "--nemesis", ",".join(info.nemesis) or "none", "--time-limit", _num(info.time_limit_s),
            "--concurrency", str(info.concurrency)]
    if info.rate:
        argv += ["--rate", _num(info.rate)]
    if info.nemesis_interval_s is not None and info.nemesis:
        argv += ["--nemesis-interval", _num(info.nemesis_interval_s)]
    for k in sorted(info.options):
        argv += ["--option", f"{k}={info.options[k]}"]
    argv += ["--seed", str(info.seed)]
    return shlex.join(argv)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def new_run_dir(store: str | Path, target: str, *, now: _dt.datetime | None = None) -> tuple[str, Path]:
    """Create ``store/target/<timestamp>-<xxxx>/`` (and ``logs/``); point ``latest`` at it."""
    now = now or _dt.datetime.now()
    base = Path(store) / target
    try:
        base.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            run_id = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
            path = base / run_id
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 collisions of 16 random bits in one second
            raise RunStoreError(f"{base}: cannot find a free run folder name")
        (path / "logs").mkdir()
        _point_latest(base, run_id)
    except OSError as e:
        if "path" in locals():
            shutil.rmtree(path, ignore_errors=True)  # half made: nothing of it must stay
        if e.errno in _FULL:
            raise  # a full disk is the environment's failure (exit 4), not the user's input
        raise RunStoreError(f"{base}: cannot create a run folder: {e.strerror}; "
                            f"check the permissions or pass another --store") from None
    return run_id, path


def discard_unstarted(run_dir: str | Path) -> bool:
    """Remove a run folder in which nothing was recorded (no event in its history); True if removed.

    For a run that could not even write its ``results.json`` (a disk already
    full): a folder saying nothing must not stay behind, nor ``latest`` pointing at it.
    """
    run_dir = Path(run_dir)
    hist = run_dir / HISTORY
    try:
        if hist.exists() and hist.stat().st_size > 0:
            return False
    except OSError:
        return False
    latest = run_dir.parent / "latest"
    if latest.is_symlink() and os.readlink(latest) == run_dir.name:
        latest.unlink()
    shutil.rmtree(run_dir, ignore_errors=True)
    return not run_dir.exists()


def disk_full(e: BaseException | None) -> OSError | None:
    """The first ENOSPC/EDQUOT error behind ``e`` (``e`` itself or its causes), or None.

    First in time: a full disk fails one write, then the cleanup's writes
    (log copies) fail too; the message should name the write that failed
    first (the first that names a file: a bare ``os.write`` error is often
    the cause of one re-raised with the file's name).
    """
    found, seen = None, 0
    while e is not None and seen < 20:
        if isinstance(e, OSError) and e.errno in _FULL and (found is None or e.filename or not found.filename):
            found = e
        e = e.__cause__ or e.__context__
        seen += 1
    return found


def reserve_space(run_dir: str | Path, nbytes: int = RESERVE_BYTES) -> Path | None:
    """Set ``nbytes`` aside in ``run_dir`` for the final ``results.json``; None if the disk has not even that."""
    path = Path(run_dir) / RESERVE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                os.posix_fallocate(fd, 0, nbytes)
            except OSError as e:
                if e.errno in _FULL:
                    raise
                os.write(fd, b"\0" * nbytes)  # a file system without fallocate: real blocks then
        finally:
            os.close(fd)
    except OSError:
        path.unlink(missing_ok=True)
        return None
    return path


def release_space(run_dir: str | Path) -> None:
    """Remove the reserve (at the end of a run, or to make room for the last write)."""
    (Path(run_dir) / RESERVE).unlink(missing_ok=True)


def _point_latest(base: Path, run_id: str) -> None:
    tmp = base / f".latest-{secrets.token_hex(4)}"
    os.symlink(run_id, tmp)
    os.replace(tmp, base / "latest")


def write_results(run_dir: str | Path, results: Mapping[str, Any], *, final: bool = False) -> Path:
    """Write ``results.json`` atomically.

    ``final``: this is the run's last word, so a full disk must not stop it:
    the reserve is released and the write tried again; if it still does not
    fit, the old file is overwritten in place by the document without its
    ``checkers`` and ``faults`` (it frees its own blocks first), which says so.
    The ``OSError`` of a write that could not be done at all propagates.
    """
    run_dir = Path(run_dir)
    if not final:
        return _write_atomic(run_dir, results)
    try:
        return _write_atomic(run_dir, results)
    except OSError as e:
        if e.errno not in _FULL:
            raise
    release_space(run_dir)
    try:
        return _write_atomic(run_dir, results)
    except OSError as e:
        if e.errno not in _FULL:
            raise
    short = {k: v for k, v in results.items() if k not in ("checkers", "faults")}
    short["checkers"], short["faults"] = {}, []
    short["truncated"] = "the disk was full: checker results and fault windows were left out"
    data = (json.dumps(short, indent=1, ensure_ascii=False, default=repr) + "\n").encode("utf-8")
    with open(run_dir / RESULTS, "r+b" if (run_dir / RESULTS).exists() else "wb") as fh:
        fh.truncate(0)
        fh.write(data)
    return run_dir / RESULTS


def _write_atomic(run_dir: Path, results: Mapping[str, Any]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".tmp", dir=run_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, ensure_ascii=False, default=repr)
            fh.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; CI uploaders and other users must read it
        os.replace(tmp, run_dir / RESULTS)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return run_dir / RESULTS


def read_results(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / RESULTS
    try:
        return read_results_file(path)
    except FileNotFoundError:
        raise RunStoreError(f"{path}: no such file; {run_dir} is not a run folder "
                            f"(expected one made by 'splitbrain run')") from None
    except ResultsFileError as e:
        raise RunStoreError(str(e)) from None


def checkers_json(result: CheckResult) -> dict[str, Any]:
    """``results.json``'s ``checkers``: a composed result's children by name, else the one result."""
    if result.children:
        return {k: v.to_json() for k, v in result.children.items()}
    return {result.checker: result.to_json()}


def results_document(info: RunInfo, *, status: str, check: CheckResult | None = None,
                     stats: Mapping[str, Any] | None = None, faults: list[dict[str, Any]] | None = None,
                     error: str | None = None, phase: str | None = None,
                     signal: str | None = None) -> dict[str, Any]:
    """``results.json`` per docs/DESIGN.md (plus ``status``, ``options``, ``error``, ``phase``, ``signal``).

    ``phase``: the phase the run was in (while running, or when it was
    stopped); ``signal``: the name of the signal that stopped it.
    """
    doc: dict[str, Any] = {
        "valid": check.verdict.to_json() if check is not None else "unknown",
        "status": status,
        "seed": info.seed, "run_id": info.run_id, "target": info.target, "variant": info.variant,
        "backend": info.backend, "workload": info.workload, "nodes": list(info.nodes),
        "nemesis": list(info.nemesis), "nemesis_interval_s": info.nemesis_interval_s,
        "time_limit_s": info.time_limit_s, "concurrency": info.concurrency, "rate": info.rate,
        "options": dict(info.options), "command": replay_command(info), "seed_fixes": SEED_FIXES,
        "started_at": info.started_at,
        "checkers": checkers_json(check) if check is not None else {},
        "stats": dict(stats or {}),
        "faults": list(faults or []),
    }
    if phase is not None:
        doc["phase"] = phase
    if signal is not None:
        doc["signal"] = signal
    if error is not None:
        doc["error"] = error
    return doc


_PHASES = {"starting": "the start", "running": "the workload", "healing": "the heal",
           "waiting for recovery": "the wait for recovery", "final reads": "the final reads",
           "checking": "the check", "writing report": "the report"}


def during(phase: str | None) -> str:
    """``"the final reads"`` for the phase ``"final reads"``: how messages name the phase a run was in."""
    return _PHASES.get(phase or "", phase or "the run")


def mark_killed(run_dir: str | Path) -> bool:
    """Finish the ``results.json`` of a run whose harness died (SIGKILL, OOM killer); True if changed.

    Only a run still ``"running"`` is touched: it becomes ``"killed"``, with
    the stats and fault windows of the history as far as it was written (a
    torn last line is dropped) and an error saying so, so that ``splitbrain
    check RUN_DIR`` and ``splitbrain report`` describe the same unfinished run.
    """
    from harness.runner import stats_of
    from nemesis import fault_windows

    run_dir = Path(run_dir)
    try:
        results = read_results(run_dir)
    except RunStoreError:
        return False
    if results.get("status") != "running":
        return False
    try:
        events = list(read_jsonl(run_dir / HISTORY, tolerate_torn_tail=True).ops)
    except (HistoryError, OSError):
        events = []
    duration = max((e.time for e in events), default=0) / 1e9
    phase = during(results.get("phase"))
    new = dict(results, status="killed", valid="unknown", checkers={},
               stats=stats_of(events, duration), faults=[w.to_json() for w in fault_windows(events)],
               error=f"the harness was killed (SIGKILL or the OOM killer) during {phase}; the history holds "
                     f"every event written until then; check it with: splitbrain check {run_dir}")
    write_results(run_dir, new, final=True)
    release_space(run_dir)
    return True


def verdict_text(results: Mapping[str, Any], run_dir: str | Path, *, max_anomalies: int = 5) -> str:
    """A few lines for people: the verdict, what went wrong, the folder, and how to replay."""
    v = Verdict.from_json(results.get("valid"))
    word = {Verdict.VALID: "VALID", Verdict.INVALID: "INVALID: anomalies found",
            Verdict.UNKNOWN: "UNKNOWN"}[v]
    status = results.get("status")
    if status in ("environment-error", "harness-error"):
        word = "ERROR: the run could not be completed"
    elif status == "interrupted":
        stopped = f"INTERRUPTED ({results.get('signal') or 'signal'}) during {during(results.get('phase'))}"
        word = stopped if v is Verdict.UNKNOWN else f"{stopped}; the verdict stands: {word}"
    elif status == "killed":
        word = f"KILLED: the harness died during {during(results.get('phase'))}"
    lines = [f"{word}  ({results.get('target')}/{results.get('variant')}, "
             f"workload {results.get('workload')}, nemesis {','.join(results.get('nemesis') or []) or 'none'})"]
    st = results.get("stats") or {}
    if st:
        lines.append(f"  ops {st.get('ops', 0)}: ok {st.get('ok', 0)}, fail {st.get('fail', 0)}, "
                     f"info {st.get('info', 0)}; {len(results.get('faults') or [])} fault(s); "
                     f"{st.get('duration_s', '?')} s")
    traffic = st.get("traffic") if isinstance(st.get("traffic"), dict) else {}
    if traffic.get("warning"):
        lines.append(f"  WARNING: {traffic['warning']}")
    for name, r in (results.get("checkers") or {}).items():
        rv = Verdict.from_json(r.get("valid")).value
        anomalies = r.get("anomalies") or []
        extra = f", {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'}" if anomalies else ""
        lines.append(f"  {name}: {rv}{extra}" + (f" ({r['error']})" if r.get("error") else ""))
        for a in anomalies[:max_anomalies]:
            from harness.anomaly_text import anomaly_lines
            first, *rest = anomaly_lines(a, detail=False)
            lines += [f"    - {first}"] + [f"    {x}" for x in rest]
        if len(anomalies) > max_anomalies:
            lines.append(f"    ... and {len(anomalies) - max_anomalies} more (see the report)")
    if results.get("error"):
        lines.append(f"  error: {results['error']}")
    lines.append(f"  run folder: {run_dir}")
    if v is not Verdict.VALID:
        lines.append(f"  seed {results.get('seed')} ({SEED_FIXES}); run it again with:")
        lines.append(f"    {results.get('command')}")
    return "\n".join(lines)


def recheck_run(run_dir: str | Path, json_output: bool = False, *, write: bool = False,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check a stored run's history again with its workload's checker; print and return the exit code.

    ``write=True`` updates ``results.json`` with the new verdict. Errors (not a
    run folder, unknown target, unreadable history) print one line and return 3.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    run_dir = Path(run_dir)
    try:
        results = read_results(run_dir)
        checker = _checker_for(results, run_dir)
        history = read_jsonl(run_dir / HISTORY, tolerate_torn_tail=True)
    except (RunStoreError, HistoryError) as e:
        print(f"error: {e}", file=err)
        return 3
    try:
        result = check_safe(RequireSuccess(checker=checker), history)  # as the run itself did
    except HistoryError as e:
        print(f"error: {e}", file=err)
        return 3
    new = dict(results)
    new["valid"] = result.verdict.to_json()
    new["checkers"] = checkers_json(result)
    if write:
        write_results(run_dir, new)
    if json_output:
        print(json.dumps({"valid": new["valid"], "run_dir": str(run_dir), "checkers": new["checkers"]},
                         indent=2, default=repr), file=out)
    else:
        print(verdict_text(new, run_dir), file=out)
    return result.verdict.exit_code


def _checker_for(results: Mapping[str, Any], run_dir: Path) -> Any:
    from harness.registry import get_target
    from harness.target import WorkloadContext

    where = run_dir / RESULTS
    try:
        target = get_target(str(results["target"]))
        workload = target.workload(results.get("workload"))
        wctx = WorkloadContext(nodes=tuple(results["nodes"]), variant=str(results["variant"]),
                               concurrency=int(results["concurrency"]),
                               options=dict(results.get("options") or {}))
        return workload.checker(wctx)
    except KeyError as e:
        raise RunStoreError(f"{where}: missing field {e.args[0]!r}; was it written by 'splitbrain run'?") from None
    except (ValueError, TypeError) as e:
        raise RunStoreError(f"{where}: {e}") from None

