"""The two-phase commit target: the design guide's 2PC (§3.2) over its order, inventory and payment services.

Four roles, one node each, each its own process with its own SQLite
database, talking JSON over HTTP through the addresses the harness gives
(so partitions and kills hit the real traffic):

``coordinator``  takes the clients and runs each transaction (:mod:`.coordinator`)
``order``, ``inventory``, ``payment``  the participants (:mod:`.participant`)

A transaction places an order: create the order, deduct its items from
stock, charge the user its total. Variants:

``seed``     the guide's code as written: sequential prepare stopping at the
             first NO; prepared state only in the participants' memory; no
             decision log; a commit that fails is logged and the transaction
             still reported COMMITTED; ``abortAll`` calls ``abort()`` without
             the transaction, so nothing is released; after a coordinator
             crash, prepared participants hold their locks for ever.
``durable``  prepare records persisted before the YES vote; the decision
             logged before phase two and driven to completion after a restart;
             participants in doubt ask the coordinator; presumed abort; commits
             retried until acknowledged.

Workloads: ``orders`` (the default: ``place`` an order, checked by
:class:`checkers.atomic_commit.AtomicCommit`), and ``list-append`` and
``rw-register`` (:mod:`.txn_workload`): general multi-key Elle transactions,
their keys sharded across the three participants (:mod:`.kv`), each run
through the variant's own 2PC and checked for strict serializability.

Crash points (:data:`CRASH_POINTS`, declared per role): coordinator
``after-prepare-order``, ``after-prepare-inventory``, ``after-prepare-payment``,
``after-decision``, ``after-commit-<participant>``; participants
``after-vote-yes``. ``--nemesis crash`` (``crash:coordinator``,
``crash:coordinator:after-decision``) arms one at a time at run time and
records ``arm-crash``, ``crash-fired`` (naming the transaction) and
``restart`` in the history; a node that died stays down until the window
ends, then the nemesis starts it (:mod:`nemesis.crashpoints`). Armed at start
instead: ``--option crash_points=all`` or a comma/;-list, ``--option
crash_p=0.02``; a node dies there with that probability; use ``kill`` in
``--nemesis`` so that dead nodes are restarted.

Node code imports only the standard library (and the harness's node-side
modules, harness/node/: HTTP plumbing and crash points), so it runs in a bare python3 container.
"""

from __future__ import annotations

from pathlib import Path

from harness.node.http import ready_as
from harness.target import NodeContext, Role, Target
from targets.two_pc.client import TwoPcClient
from targets.two_pc.txn_workload import LIST_APPEND, RW_REGISTER
from targets.two_pc.workload import ORDERS

__all__ = ["CRASH_POINTS", "ROLES", "TARGET", "node_command", "ready"]

ROLES = ("coordinator", "order", "inventory", "payment")
CRASH_POINTS: dict[str, tuple[str, ...]] = {
    "coordinator": (*(f"after-prepare-{k}" for k in ROLES[1:]), "after-decision",
                    *(f"after-commit-{k}" for k in ROLES[1:])),
    **{k: ("after-vote-yes",) for k in ROLES[1:]},
}
"""Role -> the crash points its nodes reach; ``--nemesis crash`` draws among these."""
_NODE_OPTIONS = {"crash_points": "--crash-points", "crash_p": "--crash-p", "peer_timeout": "--timeout",
                 "stock": "--stock", "balances": "--balances", "prices": "--prices", "budget": "--budget",
                 "inquire_after": "--inquire-after"}


def node_command(ctx: NodeContext) -> list[str]:
    """argv for one node: ``python -m targets.two_pc.server --role R ...``; peers named by role."""
    argv = [ctx.python, "-m", "targets.two_pc.server", "--role", ctx.role, "--name", ctx.name,
            "--host", ctx.listen.host, "--port", str(ctx.listen.port), "--data", ctx.data_dir,
            "--variant", ctx.variant]
    for peer in sorted(ctx.peers):
        a = ctx.peers[peer]
        argv += ["--peer", f"{ctx.roles.get(peer, peer)}={a.host}:{a.port}"]
    for opt, flag in _NODE_OPTIONS.items():
        if opt in ctx.options:
            argv += [flag, str(ctx.options[opt]).replace(";", ",")]
    return argv


ready = ready_as("coordinator")

TARGET = Target(
    name="two-pc",
    description="the design guide's two-phase commit: a coordinator over the order, inventory and payment "
                "participants (each its own SQLite), over HTTP",
    variants={
        "seed": "the guide's 2PC as written: in-memory prepared state, no decision log, failed commits "
                "reported COMMITTED, argument-less abortAll, participants block for ever after a coordinator crash",
        "durable": "recoverable 2PC: persisted prepare records, coordinator decision log driven to completion "
                   "after restart, in-doubt participants ask, presumed abort, commits retried until acknowledged",
    },
    default_variant="seed",
    node_command=node_command,
    ready=ready,
    client=TwoPcClient,
    workloads={"orders": ORDERS, "list-append": LIST_APPEND, "rw-register": RW_REGISTER},
    default_workload="orders",
    default_nodes=len(ROLES),
    source_dir=Path(__file__).parent,
    roles=tuple(Role(name=r, ready=ready_as(r), clients=(r == "coordinator"), crash_points=CRASH_POINTS[r])
                for r in ROLES),
    options={
        "crash_points": "comma- (or ;-) separated crash points to arm, or all (default none)",
        "crash_p": "probability an armed point fires each time it is reached (default 0.02)",
        "peer_timeout": "seconds a node waits for another node (default 0.5)",
        "stock": "initial stock, e.g. p1=60;p2=60;p3=60",
        "balances": "initial balances, e.g. u1=600;u2=600;u3=600;u4=600",
        "prices": "prices, e.g. p1=30;p2=20;p3=10",
        "budget": "durable: seconds a request retries its commits before answering (default 2)",
        "inquire_after": "durable: seconds a participant holds a prepare before asking the coordinator (default 1)",
        "client_timeout": "seconds a client waits for a transaction (default 5)",
        "recovery": "seconds the final read waits for locks to be released (default 6)",
        "active_keys": "list-append/rw-register: keys in use at once (default 6)",
        "writes_per_key": "list-append/rw-register: writes after which a key is retired (default 32)",
        "keys": "list-append/rw-register: key numbers wrap here; the final reads read them all (default 60)",
        "max_txn_len": "list-append/rw-register: micro-ops per transaction, at most (default 4)",
        "lock_bound_s": "checker: seconds a lock may be held before it is reported as blocking (default 5)",
    },
)
