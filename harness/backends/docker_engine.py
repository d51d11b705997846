"""Reaching the Docker engine, and removing what crashed runs left behind.

Every container, network and volume a Docker run makes carries the label
``splitbrain.run=<run id>``. :func:`clean_leftovers` removes exactly those
(all of them, or one run's) and never anything without the label: the engine
is shared with whatever else the user runs on it.

:func:`connect` turns an unreachable engine into
:class:`~harness.cluster.EnvironmentError_` with one sentence on what to do,
which the CLI prints before exiting 4.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from harness.cluster import EnvironmentError_

if TYPE_CHECKING:
    import docker

__all__ = ["RUN_LABEL", "clean_leftovers", "connect"]

RUN_LABEL = "splitbrain.run"


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


def clean_leftovers(run_id: str | None = None,
                    client: "docker.DockerClient | None" = None) -> list[str]:
    """Remove containers, then networks, then volumes labelled ``splitbrain.run``.

    With ``run_id``, only that run's. Returns one line per removed resource
    (``container splitbrain-<id>-n1``...). Resources that vanish meanwhile
    (another cleaner, the run's own teardown) are skipped silently.
    """
    import docker.errors

    client = client or connect()
    label = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    removed: list[str] = []
    for c in client.containers.list(all=True, filters={"label": label}):
        if RUN_LABEL not in (c.labels or {}):
            continue  # belt and braces: the filter already required the label
        try:
            c.remove(force=True, v=True)
            removed.append(f"container {c.name}")
        except docker.errors.NotFound:
            pass
    for n in client.networks.list(filters={"label": label}):
        if RUN_LABEL not in (n.attrs.get("Labels") or {}):
            continue
        try:
            n.remove()
            removed.append(f"network {n.name}")
        except docker.errors.NotFound:
            pass
    for v in client.volumes.list(filters={"label": label}):
        if RUN_LABEL not in (v.attrs.get("Labels") or {}):
            continue
        try:
            v.remove(force=True)
            removed.append(f"volume {v.name}")
        except docker.errors.NotFound:
            pass
    return removed
