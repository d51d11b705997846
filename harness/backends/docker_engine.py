"""Reaching the Docker engine, and removing what crashed runs left behind.

Every container, network and volume a Docker run makes carries the label
``splitbrain.run=<run id>``, and ``splitbrain.owner=<host>:<pid>:<start>``
naming the harness process that made it. :func:`clean_leftovers` removes those
labelled resources whose owner is no longer alive (a run that is still going
on this machine, say in another terminal, is left alone unless
``include_live``), or one run's by id; it never touches anything without the
label: the engine is shared with whatever else the user runs on it.

:func:`connect` turns an unreachable engine into
:class:`~harness.cluster.EnvironmentError_` with one sentence on what to do,
which the CLI prints before exiting 4.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Mapping

from harness.cluster import EnvironmentError_
from harness.leftovers import process_start

if TYPE_CHECKING:
    import docker

__all__ = ["OWNER_LABEL", "RUN_LABEL", "clean_leftovers", "connect", "run_labels"]

RUN_LABEL = "splitbrain.run"
OWNER_LABEL = "splitbrain.owner"


def run_labels(run_id: str) -> dict[str, str]:
    """The labels of every resource of run ``run_id`` made by this process."""
    pid = os.getpid()
    return {RUN_LABEL: run_id,
            OWNER_LABEL: f"{socket.gethostname()}:{pid}:{process_start(pid) or 0}"}


def _owner_alive(labels: Mapping[str, str]) -> bool:
    """Whether the harness process named by ``labels`` still runs (on this host)."""
    try:
        host, pid, start = labels[OWNER_LABEL].rsplit(":", 2)
        if host != socket.gethostname():
            return False  # another machine's run on a shared engine: treated as a leftover
        return process_start(int(pid)) == int(start)
    except (KeyError, ValueError):
        return False


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
                    *, include_live: bool = False) -> list[str]:
    """Remove containers, then networks, then volumes labelled ``splitbrain.run``.

    With ``run_id``, exactly that run's (whoever owns it). Without, every
    labelled resource whose owning harness process is gone, plus the live
    ones too when ``include_live``. Returns one line per removed resource
    (``container splitbrain-<id>-n1``...). Resources that vanish meanwhile
    (another cleaner, the run's own teardown) are skipped silently.
    """
    import docker.errors

    client = client or connect()
    label = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL

    def spare(labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        if RUN_LABEL not in labels:
            return True  # belt and braces: the filter already required the label
        return run_id is None and not include_live and _owner_alive(labels)

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
            try:
                r.remove(**remove_kw)
                removed.append(f"{kind} {r.name}")
            except docker.errors.NotFound:
                pass
    return removed
