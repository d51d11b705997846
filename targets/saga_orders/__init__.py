"""The saga order flow target: the guide's order system (§3.1, §3.3 Saga, §5 ``createOrder``).

Five roles, one node each, each its own process with its own SQLite
database, talking JSON over HTTP through the addresses the harness gives
(so partitions and kills hit the real traffic):

``orchestrator``  takes the clients: the saga orchestrator (``seed``,
                  ``durable``) or a gateway to the order service (``choreography``)
``order``, ``inventory``, ``payment``  the services (:mod:`.services`)
``bus``           the event bus (:mod:`.bus`); only ``choreography`` uses it,
                  the other variants leave it idle

Variants: ``seed`` (the guide's orchestrated saga as written), ``choreography``
(the guide's event-bus saga, at-most-once, dropped handler failures) and
``durable`` (persisted saga log, idempotent keyed steps, retried
compensations, timeouts resolved by retrying idempotently, reservation expiry).

Crash points (:data:`CRASH_POINTS`, declared per role): ``after-create``,
``after-reserve``, ``after-charge``, ``after-confirm-inventory``,
``after-confirm-order`` (durable), ``before-compensate`` in the orchestrator;
``after-create`` in the order service, ``after-reserve-commit`` and
``after-deduct`` in inventory, ``after-charge-commit`` and ``after-charge``
in payment (the services' ``after-create``, ``after-deduct`` and
``after-charge`` are choreography's event handlers, ``after-reserve-commit``
and ``after-charge-commit`` the orchestrated variants' steps, and
``before-compensate`` is reached only when a step failed: a window arming a
point the variant never reaches ends "armed, never reached" in the history
and ``results.json``). ``--nemesis crash`` (or ``crash:orchestrator``,
``crash:orchestrator:after-charge``) arms one at a time at run time and
records ``arm-crash``, ``crash-fired`` (naming the order) and ``restart`` in
the history (:mod:`nemesis.crashpoints`). Armed at start instead:
``--option crash_points=after-charge,before-compensate`` or ``all``,
``--option crash_p=0.01`` (each hit fires with that probability; use with
``kill`` in ``--nemesis`` so dead nodes restart). Either way
(:class:`harness.node.crashpoints.CrashPoints`) a node that dies there is
back after ``crash_restart`` s.
"""

from __future__ import annotations

from pathlib import Path

from harness.node.http import ready_as
from harness.target import NodeContext, Role, Target
from targets.saga_orders.client import SagaClient
from targets.saga_orders.workload import ORDERS

__all__ = ["CRASH_POINTS", "ROLES", "TARGET", "node_command", "ready"]

ROLES = ("orchestrator", "order", "inventory", "payment", "bus")
CRASH_POINTS: dict[str, tuple[str, ...]] = {
    "orchestrator": ("after-create", "after-reserve", "after-charge", "after-confirm-inventory",
                     "after-confirm-order", "before-compensate"),
    "order": ("after-create",),
    "inventory": ("after-reserve-commit", "after-deduct"),
    "payment": ("after-charge-commit", "after-charge"),
}
"""Role -> the crash points its nodes reach (the bus has none); ``--nemesis crash`` draws among these."""
_NODE_OPTIONS = {"crash_restart": "--crash-restart", "crash_points": "--crash-points", "crash_p": "--crash-p",
                 "peer_timeout": "--timeout",
                 "stock": "--stock", "balances": "--balances", "prices": "--prices",
                 "reservation_ttl": "--reservation-ttl", "budget": "--budget"}


def node_command(ctx: NodeContext) -> list[str]:
    """argv for one node: ``python -m targets.saga_orders.server --role R ...``; peers by role."""
    argv = [ctx.python, "-m", "targets.saga_orders.server", "--role", ctx.role, "--name", ctx.name,
            "--host", ctx.listen.host, "--port", str(ctx.listen.port), "--data", ctx.data_dir,
            "--variant", ctx.variant]
    for peer in sorted(ctx.peers):
        a = ctx.peers[peer]
        argv += ["--peer", f"{ctx.roles.get(peer, peer)}={a.host}:{a.port}"]
    for opt, flag in _NODE_OPTIONS.items():
        if opt in ctx.options:
            argv += [flag, str(ctx.options[opt]).replace(";", ",")]
    if ctx.options.get("crash_once", "0") not in ("", "0", "false", "no"):
        argv.append("--crash-once")
    return argv


ready = ready_as("orchestrator")

TARGET = Target(
    name="saga-orders",
    description="the design guide's order saga: order, inventory and payment services (each its own SQLite) "
                "driven by an orchestrator or an event bus, over HTTP",
    variants={
        "seed": "the guide's orchestrated saga as written: progress in memory, timeouts taken as failures, "
                "non-idempotent steps, dropped failed compensations, idempotency cached after success only",
        "choreography": "the guide's event-bus saga: services react to events; the bus delivers at most once "
                        "and drops a handler's failure",
        "durable": "the corrected saga: persisted saga log, key claimed first, idempotent keyed steps and "
                   "compensations, retries instead of guesses, reservations expire",
    },
    default_variant="seed",
    node_command=node_command,
    ready=ready,
    client=SagaClient,
    workloads={"orders": ORDERS},
    default_workload="orders",
    default_nodes=len(ROLES),
    source_dir=Path(__file__).parent,
    roles=tuple(Role(name=r, ready=ready_as(r), clients=(r == "orchestrator"), crash_points=CRASH_POINTS.get(r, ()))
                for r in ROLES),
    options={
        "crash_points": "comma- (or ;-) separated crash points to arm, or all (default none)",
        "crash_restart": "seconds after which a node that died at a crash point is back (default 1; "
                         "none: it stays dead until the kill nemesis starts it)",
        "crash_once": "1: each armed point fires at most once per node (default 0)",
        "crash_p": "probability an armed point fires each time it is reached (default 0.01)",
        "peer_timeout": "seconds a node waits for another node (default 0.5)",
        "stock": "initial stock, e.g. p1=100;p2=100;p3=100",
        "balances": "initial balances, e.g. u1=1000;u2=1000;u3=1000;u4=1000",
        "prices": "prices, e.g. p1=30;p2=20;p3=10",
        "reservation_ttl": "durable: seconds before an unconfirmed reservation expires (default 5)",
        "budget": "durable: seconds a request drives its saga before answering PENDING (default 2)",
        "client_timeout": "seconds a client waits per attempt (default 3)",
        "client_retries": "times a client resends a timed-out order with the same key (default 1)",
        "status_fraction": "fraction of ops that read a recent key's orders (default 0.1)",
        "recovery": "seconds the final read waits for PENDING orders to finish (default 10)",
    },
)
