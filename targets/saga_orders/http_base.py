"""Moved to the harness: :mod:`harness.node.http` and :mod:`harness.node.crashpoints` (re-exported here).

The saga and 2PC nodes (and users' own targets) import the node-side
plumbing from the harness; this name stays for code that still imports it.
"""

from __future__ import annotations

from harness.node.crashpoints import BOOT_DELAY_ENV, CrashPoints
from harness.node.http import HttpError, Refused, Unreachable, call, int_pairs, log, peer_addresses, serve

__all__ = [
    "BOOT_DELAY_ENV", "CrashPoints", "HttpError", "Refused", "Unreachable", "call", "int_pairs", "log",
    "peer_addresses", "serve",
]
