"""The ``orders`` workload: place orders (users, items, idempotency keys), then read every service.

Each op places an order of one or two products (quantity 1-3) for one of
the users; keys are drawn from the run's rng, so a seed replays the same
ops. A tenth of the ops (option ``status_fraction``) read the orders of a
recently placed key. Stock and balances are small enough that products run out and
payments are declined during a 30 s run at ``--rate 20``. The final
generator is one ``final`` op: the orchestrator waits until no order is
PENDING (``recovery`` s, default 10) and returns each service's database.
The checker is :class:`checkers.saga.SagaChecker`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from harness import generators as gen
from harness.history import Op
from harness.target import Workload, WorkloadContext

if TYPE_CHECKING:
    from checkers.api import Checker

__all__ = ["ORDERS", "OrderOps", "PRODUCTS", "USERS"]

PRODUCTS = ("p1", "p2", "p3")
USERS = ("u1", "u2", "u3", "u4")


def _place(rng: random.Random) -> gen.OpSpec:
    n = 1 + (rng.random() < 0.4)
    items = [[p, rng.randint(1, 3)] for p in rng.sample(PRODUCTS, n)]
    return gen.OpSpec(f="place", value={"key": f"k{rng.getrandbits(40):010x}", "user": rng.choice(USERS),
                                        "items": items})


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderOps:
    """Endless ops: mostly ``place``; a ``status_fraction`` of ``status`` reads of a recently placed key.

    A pure generator: its state is the last few keys placed, so a seed gives
    the same ops whatever the interpreter asks speculatively.
    """

    status_fraction: float = 0.1
    recent: tuple[str, ...] = ()

    def op(self, ctx: gen.Context) -> gen.OpResult:
        if not ctx.free:
            return gen.PENDING, self
        if self.recent and ctx.rng.random() < self.status_fraction:
            spec, nxt = gen.OpSpec(f="status", value={"key": ctx.rng.choice(self.recent)}), self
        else:
            spec = _place(ctx.rng)
            nxt = replace(self, recent=(self.recent + (spec.value["key"],))[-20:])
        filled, _ = gen.once(spec).op(ctx)
        return (gen.PENDING, self) if filled is gen.PENDING else (filled, nxt)

    def update(self, ctx: gen.Context, event: Op) -> "OrderOps":
        return self


def orders_generator(ctx: WorkloadContext) -> gen.Generator:
    return OrderOps(status_fraction=float(ctx.options.get("status_fraction", 0.1)))


def orders_final(ctx: WorkloadContext) -> gen.Generator:
    return gen.once(gen.OpSpec(f="final", value={"wait": float(ctx.options.get("recovery", 10))}))


def orders_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.saga import SagaChecker

    return SagaChecker()


ORDERS = Workload(name="orders", description="place orders (with retried idempotency keys) across the order, "
                  "inventory and payment services; after healing read every service's database and check "
                  "the saga invariants", generator=orders_generator, checker=orders_checker, final=orders_final)
