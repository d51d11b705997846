"""Reaching the Docker engine, and removing what crashed runs left behind.

Every container, network and volume a Docker run makes carries the label
``splitbrain.run=<run id>``, and ``splitbrain.owner=<host>:<pid>:<start>``
naming the harness process that made it, and ``splitbrain.run_dir=<folder>``.
:func:`clean_leftovers` removes those labelled resources whose owner is
provably gone: a process of this host that no longer runs. A run still going
on this machine (say in another terminal) is left alone unless
``include_live``; one whose owner names another host (an engine shared by
several machines) cannot be checked from here and is left unless ``force``.
With a run id, exactly that run's resources go. It never touches anything
without the label: the engine is shared with whatever else the user runs on it.
Before a dead run's container goes, its service log is saved into the run
folder's ``logs/`` and the run's ``results.json`` is marked ``"killed"``
(as ``splitbrain clean`` does for local runs).

:func:`connect` turns an unreachable engine into
:class:`~harness.cluster.EnvironmentError_` with one sentence on what to do,
which the CLI prints before exiting 4.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any, Mapping

from harness.cluster import EnvironmentError_
from harness.leftovers import process_start

if TYPE_CHECKING:
    import docker

__all__ = ["OWNER_LABEL", "RUN_LABEL", "clean_leftovers", "connect", "run_labels"]

RUN_LABEL = "splitbrain.run"
OWNER_LABEL = "splitbrain.owner"
RUN_DIR_LABEL = "splitbrain.run_dir"
SERVICE_LOG = "/var/log/splitbrain/service.log"
"""Where a node's service writes its output inside its container."""


def run_labels(run_id: str, run_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The labels of every resource of run ``run_id`` made by this process."""
    pid = os.getpid()
    labels = {RUN_LABEL: run_id,
              OWNER_LABEL: f"{socket.gethostname()}:{pid}:{process_start(pid) or 0}"}
    if run_dir is not None:
        labels[RUN_DIR_LABEL] = os.path.abspath(run_dir)
    return labels


def _owner_gone(labels: Mapping[str, str]) -> bool | None:
    """True if the harness named by ``labels`` provably no longer runs; False if it runs; None if unknowable.

    Unknowable: another host's process (a shared engine), or no usable owner label.
    """
    try:
        host, pid, start = labels[OWNER_LABEL].rsplit(":", 2)
        if host != socket.gethostname():
            return None
        return process_start(int(pid)) != int(start)
    except (KeyError, ValueError):
        return None


def connect(timeout: float = 60.0) -> "docker.DockerClient":
    """A client for the engine at ``$DOCKER_HOST`` (default: the local socket), pinged once."""
    try:
        import docker
    except ImportError:  # pragma: no cover - a dependency of the package
        raise EnvironmentError_(
            "the Docker SDK for Python is not installed: run `pip install docker`, "
            "or use --backend local.") from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as e:  # DockerException, requests errors, permission denied...
        raise EnvironmentError_(
            f"Docker engine not reachable at {where} ({type(e).__name__}): start it with "
            f"`systemctl start docker` or set DOCKER_HOST, or use --backend local.") from None
    return client


def clean_leftovers(run_id: str | None = None, client: "docker.DockerClient | None" = None,
                    *, include_live: bool = False, force: bool = False) -> list[str]:
    """Remove containers, then networks, then volumes labelled ``splitbrain.run``.

    With ``run_id``, exactly that run's (whoever owns it). Without, every
    labelled resource whose owning harness process is provably gone, plus
    the live ones of this host when ``include_live``, plus those whose owner
    cannot be checked (another host's) when ``force``; the others are listed
    as ``left ...``. A dead run's node logs are saved and its ``results.json``
    marked killed first. Returns one line per resource removed or left
    (``container splitbrain-<id>-n1``...). Resources that vanish meanwhile
    (another cleaner, the run's own teardown) are skipped silently.
    """
    import docker.errors

    client = client or connect()
    label = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    left: list[str] = []
    dead_runs: set[str] = set()

    def spare(labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        if RUN_LABEL not in labels:
            return True  # belt and braces: the filter already required the label
        gone = _owner_gone(labels)
        if gone and labels.get(RUN_DIR_LABEL):
            dead_runs.add(labels[RUN_DIR_LABEL])
        if run_id is not None or gone or (gone is False and include_live) or (gone is None and force):
            return False
        if gone is None:
            left.append(f"{labels[RUN_LABEL]} (owner {labels.get(OWNER_LABEL, 'unknown')} cannot be "
                        f"checked from this host; --force removes it)")
        return True

    # containers first: a network or volume in use by one cannot be removed
    kinds = (
        ("container", lambda: client.containers.list(all=True, filters={"label": label}),
         lambda c: c.labels, {"force": True, "v": True}),
        ("network", lambda: client.networks.list(filters={"label": label}),
         lambda n: n.attrs.get("Labels"), {}),
        ("volume", lambda: client.volumes.list(filters={"label": label}),
         lambda v: v.attrs.get("Labels"), {"force": True}),
    )
    removed: list[str] = []
    for kind, listed, labels_of, remove_kw in kinds:
        for r in listed():
            if spare(labels_of(r)):
                continue
            if kind == "container" and _owner_gone(labels_of(r) or {}):
                removed += _save_log(r)
            try:
                r.remove(**remove_kw)
                removed.append(f"{kind} {r.name}")
            except docker.errors.NotFound:
                pass
    for run_dir in sorted(dead_runs):
        removed += _mark_killed(run_dir)
    return removed + [f"left {x}" for x in dict.fromkeys(left)]


def _save_log(container: "Any") -> list[str]:
    """Copy a dead run's node log out of its container into ``<run_dir>/logs/<node>.log``."""
    import io
    import tarfile
    from pathlib import Path

    run_dir = Path((container.labels or {}).get(RUN_DIR_LABEL, ""))
    node = (container.attrs.get("Config") or {}).get("Hostname") or container.name
    if not str(run_dir) or not run_dir.is_dir():
        return []
    import docker.errors

    try:
        stream, _ = container.get_archive(SERVICE_LOG)
    except docker.errors.NotFound:
        return []  # the service never started: no log
    except Exception as e:  # noqa: BLE001 - engine error: removal goes on
        return [f"log of {node} not saved: {type(e).__name__}: {e}"]
    try:
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            f = tar.extractfile(member) if member is not None else None
            if f is None:
                return []
            (run_dir / "logs").mkdir(exist_ok=True)
            (run_dir / "logs" / f"{node}.log").write_bytes(f.read())
    except (OSError, tarfile.TarError) as e:  # a full disk, a torn archive: removal goes on
        return [f"log of {node} not saved: {e}"]
    return [f"saved log of {node} to {run_dir / 'logs'}"]


def _mark_killed(run_dir: str) -> list[str]:
    from harness.store import mark_killed

    try:
        return [f"marked {run_dir}/results.json as killed"] if mark_killed(run_dir) else []
    except OSError as e:
        return [f"could not mark {run_dir}/results.json as killed: {e.strerror}"]
