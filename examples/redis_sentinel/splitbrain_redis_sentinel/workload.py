"""The register workload: reads and writes of unique ints on a few keys, checked for linearizability.

Each key is an independent register ``[key, value]`` (Jepsen's ``independent``)
that starts nil. Every write carries a value no other write in the run has (the
generator's state is the next one), so a read names exactly one write, and a
write that vanished can be named. Two checkers: linearizability per key, and
:class:`~splitbrain_redis_sentinel.lost.LostWrites`, which lists each
acknowledged write no read ever returned that a later read proves gone. Half reads, half writes; after the
heal, one final read per key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from harness import Op, Workload, WorkloadContext
from harness import generators as gen

__all__ = ["REGISTER", "Registers"]


def _keys(ctx: WorkloadContext) -> tuple[int, ...]:
    raw = ctx.options.get("keys", "5")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"--option keys={raw}: expected a positive integer, e.g. 5")
    return tuple(range(int(raw)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Registers:
    """Endless reads and writes on random keys; each write carries the next unique int."""

    keys: tuple[Any, ...]
    next_value: int = 1

    def op(self, ctx: gen.Context) -> gen.OpResult:
        if not ctx.free:
            return gen.PENDING, self
        k = ctx.rng.choice(self.keys)
        if ctx.rng.random() < 0.5:
            spec, nxt = gen.OpSpec(f="read", value=[k, None]), self
        else:
            spec, nxt = gen.OpSpec(f="write", value=[k, self.next_value]), replace(
                self, next_value=self.next_value + 1)
        filled, _ = gen.once(spec).op(ctx)
        return (gen.PENDING, self) if filled is gen.PENDING else (filled, nxt)

    def update(self, ctx: gen.Context, event: Op) -> "Registers":
        return self


def _checker(ctx: WorkloadContext) -> Any:
    from checkers.api import Compose
    from checkers.linearizability import Linearizability
    from splitbrain_redis_sentinel.lost import LostWrites

    return Compose(checkers={"linearizability": Linearizability(model="register", independent=True,
                                                                 timeout_s=120),
                             "lost-writes": LostWrites()})


REGISTER = Workload(
    name="register",
    description="reads and writes of unique ints on a few keys, linearizable per key",
    generator=lambda ctx: Registers(keys=_keys(ctx)),
    checker=_checker,
    final=lambda ctx: gen.seq([gen.OpSpec(f="read", value=[k, None]) for k in _keys(ctx)]),
)
