"""The generator protocol, its plain data, and the leaf generators (one op, a function, a sleep)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

from harness.history import NEMESIS, Op, Process

NS = 1_000_000_000


class Pending:
    """The type of :data:`PENDING`: nothing can be issued right now."""

    _instance: "Pending | None" = None

    def __new__(cls) -> "Pending":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "PENDING"


PENDING = Pending()


@dataclass(frozen=True, slots=True, kw_only=True)
class OpSpec:
    """An operation to issue.

    ``process``  ``None``: any free process of the context (a client, or the
                 nemesis inside :func:`nemesis`); an int: that client process;
                 :data:`~harness.history.NEMESIS`: the nemesis.
    ``time``     earliest issue time, ns since the run began; ``None`` = now.
    """

    f: str
    value: Any = None
    process: Process | None = None
    time: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a generator may look at: the time, who is idle, and the rng.

    ``time``     ns since the run began (virtual in :func:`simulate`).
    ``free``     idle processes: client ints, and ``"nemesis"`` if the nemesis is idle.
    ``clients``  every current client process in scope (one per worker; a worker
                 whose op ended ``info`` continues as process + concurrency).
    ``nemesis``  whether the nemesis is in scope.
    ``rng``      the run's seeded random source; the only randomness allowed.
    """

    time: int
    free: frozenset[Process]
    clients: frozenset[int]
    nemesis: bool
    rng: random.Random

    @property
    def all_free(self) -> bool:
        """Every process in scope is idle (no op of theirs is in flight)."""
        return len(self.free) == len(self.clients) + (1 if self.nemesis else 0)

    @property
    def nemesis_free(self) -> bool:
        return NEMESIS in self.free


OpResult = tuple["OpSpec | Pending | None", "Generator | None"]
_DONE: OpResult = (None, None)


@runtime_checkable
class Generator(Protocol):
    def op(self, ctx: Context) -> OpResult:
        """The next op (or PENDING, or None when exhausted) and the generator after it.

        With an op, the generator after it must be a generator: one that has
        nothing more returns :data:`EXHAUSTED`, never ``None`` (combinators keep
        it and ask it again).
        """

    def update(self, ctx: Context, event: Op) -> "Generator":
        """The generator after ``event`` (an invocation issued, or a completion)."""


@dataclass(frozen=True, slots=True)
class _Exhausted:
    def op(self, ctx: Context) -> OpResult:
        return _DONE

    def update(self, ctx: Context, event: Op) -> "Generator":
        return self


EXHAUSTED: Generator = _Exhausted()
"""The generator that has nothing more: what a generator becomes after its last op."""

GenLike = "Generator | OpSpec | Sequence[Generator | OpSpec] | None"


def lift(g: Any) -> Generator | None:
    """Turn an :class:`OpSpec` (one op) or a list/tuple (:func:`seq`) into a generator."""
    if g is None or isinstance(g, Generator):
        return g
    if isinstance(g, OpSpec):
        return _Once(spec=g)
    if isinstance(g, (list, tuple)):
        from harness.generators._combinators import seq  # a list is a sequence; combinators build on this module
        return seq(g)
    raise TypeError(f"expected a generator, an OpSpec or a list of them (not {type(g).__name__}: {g!r})")


def _fill(spec: OpSpec, ctx: Context) -> OpSpec | Pending:
    """Give ``spec`` a free process and a time from ``ctx``, or PENDING if none is free."""
    p = spec.process
    if p is None:
        if ctx.clients:
            free = [q for q in ctx.free if q != NEMESIS]
            if not free:
                return PENDING
            p = free[0] if len(free) == 1 else ctx.rng.choice(sorted(free))
        elif ctx.nemesis and NEMESIS in ctx.free:
            p = NEMESIS
        else:
            return PENDING
    elif p not in ctx.free:
        return PENDING
    t = ctx.time if spec.time is None else spec.time
    if p is spec.process and t is spec.time:
        return spec
    return OpSpec(f=spec.f, value=spec.value, process=p, time=t)


# --- leaves ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Once:
    spec: OpSpec

    def op(self, ctx: Context) -> OpResult:
        s = _fill(self.spec, ctx)
        return (s, self) if s is PENDING else (s, EXHAUSTED)

    def update(self, ctx: Context, event: Op) -> Generator:
        return self


def once(spec: OpSpec) -> Generator:
    """Exactly one op."""
    return _Once(spec)


@dataclass(frozen=True, slots=True)
class _Fn:
    make: Callable[[random.Random], OpSpec | None]

    def op(self, ctx: Context) -> OpResult:
        if not ctx.free:  # nobody idle: do not draw from the rng for nothing
            return PENDING, self
        spec = self.make(ctx.rng)
        if spec is None:
            return _DONE
        return _fill(spec, ctx), self

    def update(self, ctx: Context, event: Op) -> Generator:
        return self


def fn(make: Callable[[random.Random], OpSpec | None]) -> Generator:
    """Infinite: each op is ``make(rng)``; ``make`` returning ``None`` ends it."""
    return _Fn(make)


@dataclass(frozen=True, slots=True)
class _Sleep:
    dt_ns: int
    until: int | None = None

    def op(self, ctx: Context) -> OpResult:
        until = ctx.time + self.dt_ns if self.until is None else self.until
        if ctx.time >= until:
            return _DONE
        return PENDING, (self if until == self.until else _Sleep(self.dt_ns, until))

    def update(self, ctx: Context, event: Op) -> Generator:
        return self


def sleep(seconds: float) -> Generator:
    """Issue nothing for ``seconds`` from the first time it is asked, then end."""
    return _Sleep(int(seconds * NS))
