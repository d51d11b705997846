"""The ``orders`` workload: place orders as 2PC transactions, snapshot now and then, read every log at the end.

Each ``place`` orders one or two products (quantity 1-3) for one of four
users under a fresh transaction id from the run's rng (a seed replays the
same ops); one op in ten is a ``read-all``. Stock (60 per product) and
balances (600 per user) are small enough that some prepares vote NO during
a 30 s run. The final generator is one ``final`` op: the coordinator waits
until no participant holds a lock (``recovery`` s, default 6) and returns
every participant's log and lock table. The checker is
:class:`checkers.atomic_commit.AtomicCommit`, with the lock bound of
``--option lock_bound_s`` (default 5 s).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Mapping

from harness import generators as gen
from harness.target import Workload, WorkloadContext

if TYPE_CHECKING:
    from checkers.api import Checker

__all__ = ["ORDERS", "PRODUCTS", "USERS", "lock_bound_of"]

PRODUCTS = ("p1", "p2", "p3")
USERS = ("u1", "u2", "u3", "u4")


def _op(rng: random.Random) -> gen.OpSpec:
    if rng.random() < 0.1:
        return gen.OpSpec(f="read-all", value=None)
    n = 1 + (rng.random() < 0.4)
    items = [[p, rng.randint(1, 3)] for p in rng.sample(PRODUCTS, n)]
    return gen.OpSpec(f="place", value={"txn": f"t{rng.getrandbits(40):010x}", "user": rng.choice(USERS),
                                        "items": items})


def orders_generator(ctx: WorkloadContext) -> gen.Generator:
    return gen.fn(_op)


def orders_final(ctx: WorkloadContext) -> gen.Generator:
    return gen.once(gen.OpSpec(f="final", value={"wait": float(ctx.options.get("recovery", 6))}))


def lock_bound_of(options: Mapping[str, str]) -> float:
    """``--option lock_bound_s=S``: a lock held longer than S s is a blocking finding (default 5)."""
    from checkers.atomic_commit import LOCK_BOUND_S

    raw = options.get("lock_bound_s", str(LOCK_BOUND_S))
    try:
        bound = float(raw)
    except ValueError:
        bound = -1.0
    if not bound > 0:
        raise ValueError(f"option lock_bound_s must be a positive number of seconds (not {raw!r}); "
                         f"e.g. --option lock_bound_s={LOCK_BOUND_S:g}")
    return bound


def orders_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.atomic_commit import AtomicCommit

    return AtomicCommit(lock_bound_s=lock_bound_of(ctx.options))


ORDERS = Workload(name="orders", description="place orders as two-phase-commit transactions over the order, "
                  "inventory and payment participants, snapshot them read-only, and after healing read every "
                  "participant's transaction log and lock table", generator=orders_generator,
                  checker=orders_checker, final=orders_final)
