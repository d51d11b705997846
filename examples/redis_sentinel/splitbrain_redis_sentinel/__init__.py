"""Redis with Sentinel failover as a splitbrain target, written from the outside.

Six nodes in three roles (:class:`harness.Role`), from Debian's packages:

* ``primary``: ``redis-server``, the initial primary;
* ``replica1``, ``replica2``: ``redis-server --replicaof <primary>``;
* ``sentinel1`` ... ``sentinel3``: ``redis-sentinel`` monitoring the primary
  (quorum 2, ``down-after-milliseconds`` 1000): when the primary is cut off
  they promote a replica and, after the heal, make the old primary a replica
  of the new one.

Replication is asynchronous and a primary keeps acknowledging writes while it
cannot reach its replicas (``min-replicas-to-write 0``, Redis's default), so a
primary cut off from the rest keeps taking its clients' writes until it is
demoted, and then drops them: the lost acknowledged writes Jepsen published
for Redis. Run ``--nemesis partition:primary`` to isolate it, ``kill:primary``
to crash it. Every server uses the append-only file with ``fsync always``, so
a kill alone loses nothing.

Every node reaches its peers only through ``ctx.peers`` (a replica its
primary, a Sentinel the primary), and every node binds its own address, so on
the namespace and Docker backends all of Redis's own traffic (replication,
Sentinel's pings, hellos and its discovery of replicas, which uses the
addresses Redis announces) takes the path the cuts apply to.

Readiness: a server answers ``PING``; a replica has also finished its sync
with the primary (``ROLE`` says ``connected``), so no run starts, and no fault
lands, before the replicas hold the data. ``PING`` alone is the link probe.

Options: ``client_timeout`` (seconds, default 1.0), ``keys`` (default 5),
``down_after_ms`` (Sentinel's failure detector, default 1000).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import Address, NodeContext, Role, Target
from splitbrain_redis_sentinel.client import RedisClient
from splitbrain_redis_sentinel.resp import Connection
from splitbrain_redis_sentinel.workload import REGISTER

__all__ = ["MASTER_NAME", "TARGET", "missing_binaries"]

MASTER_NAME = "splitbrain"  # the name Sentinels know the monitored primary by
BINARIES = ("redis-server", "redis-sentinel")


def missing_binaries() -> list[str]:
    """The Debian binaries this target needs that are not on PATH."""
    return [b for b in BINARIES if shutil.which(b) is None]


def _server_argv(ctx: NodeContext) -> list[str]:
    return ["redis-server", "--bind", ctx.listen.host, "--port", str(ctx.listen.port),
            "--dir", ctx.data_dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--protected-mode", "no", "--daemonize", "no", "--logfile", "", "--loglevel", "notice",
            "--repl-diskless-sync-delay", "0"]  # Redis 7 waits 5 s before a first full sync by default


def primary_command(ctx: NodeContext) -> list[str]:
    return _server_argv(ctx)


def replica_command(ctx: NodeContext) -> list[str]:
    (primary,) = ctx.with_role("primary")
    at = ctx.peers[primary]
    return _server_argv(ctx) + ["--replicaof", at.host, str(at.port)]


def sentinel_command(ctx: NodeContext) -> list[str]:
    """``redis-sentinel`` needs a writable config file: the shell writes it into the data dir, then execs."""
    (primary,) = ctx.with_role("primary")
    at = ctx.peers[primary]
    down = int(ctx.options.get("down_after_ms", "1000"))
    conf = "\n".join([
        f"bind {ctx.listen.host}", f"port {ctx.listen.port}", f"dir {ctx.data_dir}",
        "protected-mode no", "daemonize no", 'logfile ""',
        f"sentinel monitor {MASTER_NAME} {at.host} {at.port} 2",
        f"sentinel down-after-milliseconds {MASTER_NAME} {down}",
        f"sentinel failover-timeout {MASTER_NAME} {max(3 * down, 3000)}",
        f"sentinel parallel-syncs {MASTER_NAME} 1", ""])
    # Written only if absent: Sentinel rewrites it with what it learnt, which a restart must keep.
    script = 'f="$1/sentinel.conf"; [ -s "$f" ] || printf "%s" "$2" > "$f"; exec redis-sentinel "$f"'
    return ["sh", "-c", script, "sh", ctx.data_dir, conf]


def _ask(address: Address, *cmd: str) -> object:
    """One command's reply, or None when the node did not answer."""
    try:
        conn = Connection(address.host, address.port, timeout=0.5)
    except OSError:
        return None
    try:
        return conn.call(*cmd)
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


def ping(address: Address) -> bool:
    """One ``PING``: True on ``PONG``. Any live server or Sentinel answers it, whatever the cluster's
    state, which makes it the link probe (a replica's readiness is not: it depends on its primary)."""
    return _ask(address, "PING") == "PONG"


def replica_ready(address: Address) -> bool:
    """A replica serves once it has synced with its primary (``ROLE``: ``connected``), or is a primary.

    Without this a run could start, and a partition cut, before the first full
    sync: the promoted replica would then be empty, a loss the harness caused.
    """
    role = _ask(address, "ROLE")
    return isinstance(role, list) and bool(role) and (
        role[0] == "master" or (role[0] == "slave" and len(role) > 3 and role[3] == "connected"))


TARGET = Target(
    name="redis-sentinel",
    description="Redis 7 primary + 2 asynchronous replicas + 3 Sentinels (Debian's redis-server, "
                "redis-sentinel): failover loses acknowledged writes",
    variants={"default": "Redis's defaults: asynchronous replication, min-replicas-to-write 0"},
    default_variant="default",
    node_command=primary_command,
    ready=ping,
    link_probe=ping,
    client=RedisClient,
    workloads={"register": REGISTER},
    default_workload="register",
    roles=(Role(name="primary", node_command=primary_command),
           Role(name="replica", count=2, node_command=replica_command, ready=replica_ready),
           Role(name="sentinel", count=3, node_command=sentinel_command, clients=False)),
    source_dir=Path(__file__).parent,
    build_context=Path(__file__).parent,
    options={"client_timeout": "seconds a client waits for its node (default 1.0)",
             "keys": "how many registers the workload uses (default 5)",
             "down_after_ms": "Sentinel's down-after-milliseconds (default 1000)"},
)
