"""The quorum store's ``register`` workload: reads and writes on one hot key and many cold ones.

Each key is a register of its own (Jepsen's independent tuples ``[key, value]``),
initially nil; the checker is :class:`checkers.linearizability.Linearizability`
with ``model="register", independent=True``, which checks every key alone.
Every written value is unique in the run (one counter for all keys), so a read
names exactly one write and the checker's search stays small. About half the
ops are reads, half writes.

The key distribution is skewed (as Jepsen's ``key-dist``), because the
``seed`` variant's flaws show up in two different ways:

* **on a hot key** (key 0, ``hot`` = 80% of the ops by default): concurrent
  writes. Versions are wall-clock milliseconds, so two writes in the same
  millisecond tie, and replicas store unconditionally, so each replica keeps
  whichever write arrived last; replicas then disagree and reads through
  different coordinators flip between the two values. Partitions that leave
  every node a majority (ring, bridge) make the disagreement last. This needs
  many writes per second on one key.
* **on cold keys** (the other ``keys - 1``, uniform): a write that "failed" on
  the minority side of a partition stays on the minority's replicas with a
  newer version than the majority's last write of that key; after the heal
  the next read returns it (a read of a failed write). That needs the
  majority not to write the key again in between, so it needs many keys that
  are each written rarely; the final reads, right after the last heal, read
  every key.

Measured on the local backend (``splitbrain run quorum-store --variant seed
--repeat 10``, partition,kill, 30 s, default rate, a busy 2-core machine): with
5 uniform keys the seed variant was caught in 4-5 of 10 runs; with these
defaults in 5 to 8 of 10 (the spread between seed sets and repeats is that
large), and in 10 of 10 with ``--nemesis-interval 3``. Every run that had a
halves or one-node partition was caught; the misses had only kills and
ring/bridge partitions, where only the hot key's concurrent writes can show
the flaw. The ``abd`` variant stayed valid in every run.

Options (``--option K=V``): ``keys`` (default 100), ``hot`` (default 0.8; 0
makes the keys uniform), ``read_fraction`` (default 0.5). The final generator,
run after every fault is healed, reads each key once.

The client generator is a pure :mod:`harness.generators` value whose state is
the next value to write, so the same seed and completions give the same ops
(a closure over a counter would skip values whenever the interpreter asks for
an op speculatively and throws it away). The checker module is imported when
the checker is built.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from harness import generators as gen
from harness.history import Op
from harness.target import Workload, WorkloadContext

if TYPE_CHECKING:
    from checkers.api import Checker

__all__ = ["REGISTER", "RegisterOps", "keys_of", "read_fraction_of"]

DEFAULT_KEYS = 100
DEFAULT_READ_FRACTION = 0.5
DEFAULT_HOT = 0.8


def keys_of(options: Mapping[str, str]) -> list[int]:
    raw = options.get("keys", str(DEFAULT_KEYS))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"option keys must be a positive integer (not {raw!r}); e.g. --option keys=100")
    return list(range(n))


def _fraction(options: Mapping[str, str], name: str, default: float) -> float:
    raw = options.get(name, str(default))
    try:
        x = float(raw)
    except ValueError:
        x = -1.0
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"option {name} must be a number in [0, 1] (not {raw!r}); "
                         f"e.g. --option {name}={default}")
    return x


def read_fraction_of(options: Mapping[str, str]) -> float:
    return _fraction(options, "read_fraction", DEFAULT_READ_FRACTION)


def hot_of(options: Mapping[str, str]) -> float:
    return _fraction(options, "hot", DEFAULT_HOT)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterOps:
    """Endless reads and writes on random keys; each write carries the next unique int."""

    keys: tuple[Any, ...]
    read_fraction: float
    hot: float = 0.0  # share of ops on keys[0]; the rest uniform over the others
    next_value: int = 1

    def op(self, ctx: gen.Context) -> gen.OpResult:
        if not ctx.free:  # nobody idle: draw nothing from the rng
            return gen.PENDING, self
        if len(self.keys) > 1 and self.hot > 0 and ctx.rng.random() < self.hot:
            k = self.keys[0]
        elif len(self.keys) > 1 and self.hot > 0:
            k = self.keys[1 + ctx.rng.randrange(len(self.keys) - 1)]
        else:
            k = ctx.rng.choice(self.keys)
        if ctx.rng.random() < self.read_fraction:
            spec, nxt = gen.OpSpec(f="read", value=[k, None]), self
        else:
            spec, nxt = gen.OpSpec(f="write", value=[k, self.next_value]), replace(
                self, next_value=self.next_value + 1)
        filled, _ = gen.once(spec).op(ctx)  # a free process and the time, from ctx
        return (gen.PENDING, self) if filled is gen.PENDING else (filled, nxt)

    def update(self, ctx: gen.Context, event: Op) -> "RegisterOps":
        return self


def register_generator(ctx: WorkloadContext) -> gen.Generator:
    """Endless random reads and writes over the keys; writes carry unique ints."""
    return RegisterOps(keys=tuple(keys_of(ctx.options)), read_fraction=read_fraction_of(ctx.options),
                       hot=hot_of(ctx.options))


def register_final(ctx: WorkloadContext) -> gen.Generator:
    """One read per key, after the cluster healed."""
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
