"""Cluster backends, by name. ``open_cluster`` is the one way to get a cluster.

``netns``   plain processes, each in its own network namespace, iptables faults (the
            default where user namespaces work; else it falls back to ``local``).
``local``   plain processes on 127.0.0.1, links through fault-injecting proxies.
``docker``  one container per node on a private bridge network, iptables faults.

A backend is one entry in :data:`BACKENDS` (name -> ``"module:function"``,
imported on first use); only backends that exist are listed, since the CLI
offers every name here.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from typing import Any

from harness.cluster import ClusterSpec

__all__ = ["BACKENDS", "open_cluster"]

BACKENDS: dict[str, str] = {
    "netns": "harness.backends.netns:open_netns_cluster",
    "local": "harness.backends.local:open_local_cluster",
    "docker": "harness.backends.docker:open_docker_cluster",
}


def open_cluster(backend: str, spec: ClusterSpec) -> AbstractContextManager[Any]:
    """A context manager yielding a started cluster; leaving it removes everything."""
    try:
        mod, attr = BACKENDS[backend].split(":")
    except KeyError:
        raise ValueError(f"unknown backend {backend!r}; expected one of {sorted(BACKENDS)}") from None
    return getattr(importlib.import_module(mod), attr)(spec)
