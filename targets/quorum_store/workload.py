"""The quorum store's ``register`` workload: reads and writes on a few independent keys.

Each key is a register of its own (Jepsen's independent tuples ``[key, value]``),
initially nil; the checker is :class:`checkers.linearizability.Linearizability`
with ``model="register", independent=True``, which checks every key alone.

Why this shape finds the ``seed`` variant's flaws within a 30 s run:

* few keys (5 by default), so reads and writes on one key overlap with faults
  often: a write that "failed" for want of W acks but stayed on a minority
  becomes visible to a later read (a fail op whose value is read); a read
  without write-back returns a value, and a later read from a different
  quorum returns an older one; an unconditional replica store or a late read
  repair overwrites a newer value (a lost update);
* about half reads, half writes: enough writes to create stale replicas, enough
  reads to observe them;
* every written value is unique in the run (one counter for all keys), so a
  read names exactly one write and the checker's search stays small.

Options (``--option K=V``): ``keys`` (default 5), ``read_fraction`` (default 0.5).
The final generator, run after every fault is healed, reads each key once.

The generator combinators come from :mod:`harness.generators`; it is imported
when a generator is built, so that listing targets does not need it.
"""

from __future__ import annotations

import itertools
import random
from typing import TYPE_CHECKING, Any, Mapping

from harness.target import Workload, WorkloadContext

if TYPE_CHECKING:
    from checkers.api import Checker

__all__ = ["REGISTER", "keys_of", "read_fraction_of"]

DEFAULT_KEYS = 5
DEFAULT_READ_FRACTION = 0.5


def keys_of(options: Mapping[str, str]) -> list[int]:
    raw = options.get("keys", str(DEFAULT_KEYS))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"option keys must be a positive integer (not {raw!r}); e.g. --option keys=5")
    return list(range(n))


def read_fraction_of(options: Mapping[str, str]) -> float:
    raw = options.get("read_fraction", str(DEFAULT_READ_FRACTION))
    try:
        x = float(raw)
    except ValueError:
        x = -1.0
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"option read_fraction must be a number in [0, 1] (not {raw!r}); "
                         f"e.g. --option read_fraction=0.5")
    return x


def register_generator(ctx: WorkloadContext) -> Any:
    """Endless random reads and writes over the keys; writes carry unique ints."""
    from harness import generators as gen

    keys = keys_of(ctx.options)
    reads = read_fraction_of(ctx.options)
    values = itertools.count(1)

    def make(rng: random.Random) -> Any:
        k = rng.choice(keys)
        if rng.random() < reads:
            return gen.OpSpec(f="read", value=[k, None])
        return gen.OpSpec(f="write", value=[k, next(values)])

    return gen.fn(make)


def register_final(ctx: WorkloadContext) -> Any:
    """One read per key, after the cluster healed."""
    from harness import generators as gen

    return gen.seq([gen.OpSpec(f="read", value=[k, None]) for k in keys_of(ctx.options)])


def register_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.linearizability import Linearizability

    return Linearizability(model="register", independent=True)


REGISTER = Workload(
    name="register",
    description="reads and writes of unique ints on a few independent keys, checked for "
                "linearizability key by key",
    generator=register_generator,
    checker=register_checker,
    final=register_final,
)
