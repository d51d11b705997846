"""The ``orders`` workload: place orders (users, items, idempotency keys), then read every service.

Each op places an order of one or two products (quantity 1-3) for one of
the users; keys are drawn from the run's rng, so a seed replays the same
ops. Stock and balances are small enough that products run out and
payments are declined during a 30 s run at ``--rate 20``. The final
generator is one ``final`` op: the orchestrator waits until no order is
PENDING (``recovery`` s, default 10) and returns each service's database.
The checker is :class:`checkers.saga.SagaChecker`.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from harness import generators as gen
from harness.target import Workload, WorkloadContext

if TYPE_CHECKING:
    from checkers.api import Checker

__all__ = ["ORDERS", "PRODUCTS", "USERS"]

PRODUCTS = ("p1", "p2", "p3")
USERS = ("u1", "u2", "u3", "u4")


def _place(rng: random.Random) -> gen.OpSpec:
    n = 1 + (rng.random() < 0.4)
    items = [[p, rng.randint(1, 3)] for p in rng.sample(PRODUCTS, n)]
    return gen.OpSpec(f="place", value={"key": f"k{rng.getrandbits(40):010x}", "user": rng.choice(USERS),
                                        "items": items})


def orders_generator(ctx: WorkloadContext) -> gen.Generator:
    return gen.fn(_place)


def orders_final(ctx: WorkloadContext) -> gen.Generator:
    return gen.once(gen.OpSpec(f="final", value={"wait": float(ctx.options.get("recovery", 10))}))


def orders_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.saga import SagaChecker

    return SagaChecker()


ORDERS = Workload(name="orders", description="place orders (with retried idempotency keys) across the order, "
                  "inventory and payment services; after healing read every service's database and check "
                  "the saga invariants", generator=orders_generator, checker=orders_checker, final=orders_final)
