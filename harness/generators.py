"""Pure generators: what operations to issue, to whom and when (Jepsen's generator).

A generator is an immutable value with two methods:

``op(ctx) -> (spec, next_gen)``
    ``spec`` is an :class:`OpSpec` with ``process`` and ``time`` filled in (the op
    to issue, not before ``spec.time``), :data:`PENDING` (nothing can be issued
    now; ask again after the next completion or a short wait), or ``None`` (the
    generator is exhausted; ``next_gen`` is then ``None`` too).
    Calling ``op`` does not consume anything: the interpreter may call it, throw
    the answer away (a completion arrived first) and call it again. Only when
    it issues ``spec`` does it continue with ``next_gen``.
``update(ctx, event) -> next_gen``
    told about every event the interpreter records (the invocation it issued,
    and every completion), returns the generator to continue with.

Nothing here reads a clock, sleeps, spawns a thread or draws randomness from
anywhere but ``ctx.rng``, the interpreter's seeded ``random.Random``: the same
seed and the same completions give the same operations. :func:`simulate`
interprets a generator on a virtual clock without threads (Jepsen's
``generator.test/simulate``), which is how generators are tested.

Routing: an :class:`OpSpec` with ``process=None`` goes to any free client
process of the context it is asked in; inside :func:`nemesis` it goes to the
nemesis. ``process=NEMESIS`` targets the nemesis explicitly. The runner's
top-level generator is ``phases(any_of(clients(...), nemesis(...)), final)``.

Why immutable values rather than Python iterators: an interpreter must be able
to ask "what next?" speculatively and to tell a generator what happened
(``update``), and a frozen value can be kept, compared and replayed; an
iterator cannot be un-advanced.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Protocol, Sequence, runtime_checkable

from harness.history import NEMESIS, Op, Process

__all__ = [
    "PENDING", "Context", "Generator", "OpSpec", "Pending",
    "any_of", "clients", "cycle", "each_process", "fn", "independent", "lift", "limit",
    "map_ops", "mix", "nemesis", "once", "phases", "rate", "repeat", "seq", "simulate",
    "sleep", "stagger", "synchronize", "time_limit",
]

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


def repeat(spec: OpSpec, times: int | None = None) -> Generator:
    """The same op, forever or ``times`` times."""
    g = _Fn(lambda rng: spec)
    return g if times is None else limit(times, g)


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


# --- sequencing --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Seq:
    current: Generator | None
    rest: tuple[Any, ...]

    def op(self, ctx: Context) -> OpResult:
        cur, rest = self.current, self.rest
        while True:
            if cur is not None:
                spec, nxt = cur.op(ctx)
                if spec is not None:
                    if nxt is cur and rest is self.rest and cur is self.current:
                        return spec, self
                    return spec, _Seq(nxt, rest)
            if not rest:
                return _DONE
            cur, rest = lift(rest[0]), rest[1:]

    def update(self, ctx: Context, event: Op) -> Generator:
        if self.current is None:
            return self
        nxt = self.current.update(ctx, event)
        return self if nxt is self.current else _Seq(nxt, self.rest)


def seq(items: Iterable[Any]) -> Generator:
    """Each item (OpSpec or generator) to exhaustion, in order."""
    items = tuple(items)
    if not items:
        return _Seq(None, ())
    return _Seq(lift(items[0]), items[1:])


@dataclass(frozen=True, slots=True)
class _Cycle:
    original: Generator
    current: Generator
    times: int | None  # remaining restarts after the current pass; None = forever

    def op(self, ctx: Context) -> OpResult:
        cur, times = self.current, self.times
        for _ in range(2):  # an original that is immediately exhausted ends the cycle
            spec, nxt = cur.op(ctx)
            if spec is not None:
                return spec, _Cycle(self.original, nxt, times)  # type: ignore[arg-type]
            if times is not None:
                if times <= 0:
                    return _DONE
                times -= 1
            cur = self.original
        return _DONE

    def update(self, ctx: Context, event: Op) -> Generator:
        nxt = self.current.update(ctx, event)
        return self if nxt is self.current else _Cycle(self.original, nxt, self.times)


def cycle(g: Any, times: int | None = None) -> Generator:
    """Run ``g`` to exhaustion, then again from the start: forever, or ``times`` passes."""
    gen = lift(g)
    if gen is None:
        raise ValueError("cycle() needs a generator, not None")
    return _Cycle(gen, gen, None if times is None else times - 1)


@dataclass(frozen=True, slots=True)
class _Limit:
    n: int
    gen: Generator

    def op(self, ctx: Context) -> OpResult:
        if self.n <= 0:
            return _DONE
        spec, nxt = self.gen.op(ctx)
        if spec is None:
            return _DONE
        if spec is PENDING:
            return PENDING, (self if nxt is self.gen else _Limit(self.n, nxt))  # type: ignore[arg-type]
        return spec, _Limit(self.n - 1, nxt)  # type: ignore[arg-type]

    def update(self, ctx: Context, event: Op) -> Generator:
        if type(self.gen) in _INERT:
            return self
        nxt = self.gen.update(ctx, event)
        return self if nxt is self.gen else _Limit(self.n, nxt)


def limit(n: int, g: Any) -> Generator:
    """At most ``n`` ops of ``g``."""
    return _Limit(n, lift(g))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _TimeLimit:
    dt_ns: int
    cutoff: int | None
    gen: Generator

    def op(self, ctx: Context) -> OpResult:
        cutoff = ctx.time + self.dt_ns if self.cutoff is None else self.cutoff
        if ctx.time >= cutoff:
            return _DONE
        spec, nxt = self.gen.op(ctx)
        if spec is None:
            return _DONE
        if spec is not PENDING and spec.time >= cutoff:  # type: ignore[union-attr,operator]
            return _DONE
        if nxt is self.gen and cutoff == self.cutoff:
            return spec, self
        return spec, _TimeLimit(self.dt_ns, cutoff, nxt)  # type: ignore[arg-type]

    def update(self, ctx: Context, event: Op) -> Generator:
        if type(self.gen) in _INERT:
            return self
        nxt = self.gen.update(ctx, event)
        return self if nxt is self.gen else _TimeLimit(self.dt_ns, self.cutoff, nxt)


def time_limit(seconds: float, g: Any) -> Generator:
    """Ops of ``g`` until ``seconds`` after it is first asked; then exhausted."""
    return _TimeLimit(int(seconds * NS), None, lift(g))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Stagger:
    dt2_ns: int  # twice the mean interval
    next_time: int | None
    gen: Generator

    def op(self, ctx: Context) -> OpResult:
        spec, nxt = self.gen.op(ctx)
        if spec is None:
            return _DONE
        if spec is PENDING:
            return PENDING, (self if nxt is self.gen else _Stagger(self.dt2_ns, self.next_time, nxt))  # type: ignore[arg-type]
        nt = ctx.time if self.next_time is None else self.next_time
        t = max(spec.time, nt)  # type: ignore[union-attr,type-var]
        if t != spec.time:  # type: ignore[union-attr]
            spec = OpSpec(f=spec.f, value=spec.value, process=spec.process, time=t)  # type: ignore[union-attr]
        gap = int(ctx.rng.random() * self.dt2_ns)
        return spec, _Stagger(self.dt2_ns, t + gap, nxt)  # type: ignore[arg-type]

    def update(self, ctx: Context, event: Op) -> Generator:
        if type(self.gen) in _INERT:
            return self
        nxt = self.gen.update(ctx, event)
        return self if nxt is self.gen else _Stagger(self.dt2_ns, self.next_time, nxt)


def stagger(dt_s: float, g: Any) -> Generator:
    """Space ops of ``g`` by random gaps uniform in [0, 2*dt_s): about 1/dt_s ops/s in total."""
    return _Stagger(int(2 * dt_s * NS), None, lift(g))  # type: ignore[arg-type]


def rate(ops_per_s: float, g: Any) -> Generator:
    """About ``ops_per_s`` ops per second in total (``stagger(1/ops_per_s, g)``, as Jepsen's --rate)."""
    if ops_per_s <= 0:
        raise ValueError(f"rate must be > 0 ops/s (not {ops_per_s!r})")
    return stagger(1.0 / ops_per_s, g)


# --- combinators -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Mix:
    gens: tuple[Generator, ...]

    def op(self, ctx: Context) -> OpResult:
        gens = self.gens
        while gens:
            i = ctx.rng.randrange(len(gens)) if len(gens) > 1 else 0
            spec, nxt = gens[i].op(ctx)
            if spec is None:
                gens = gens[:i] + gens[i + 1:]
                continue
            if nxt is gens[i] and gens is self.gens:
                return spec, self
            return spec, _Mix(gens[:i] + (nxt,) + gens[i + 1:])  # type: ignore[operator]
        return _DONE

    def update(self, ctx: Context, event: Op) -> Generator:
        gens = _update_all(self.gens, ctx, event)
        return self if gens is self.gens else _Mix(gens)


def mix(gens: Iterable[Any]) -> Generator:
    """Each op from a generator chosen at random; exhausted ones drop out."""
    return _Mix(tuple(lift(g) for g in gens))  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class _Any:
    gens: tuple[Generator, ...]

    def op(self, ctx: Context) -> OpResult:
        gens = list(self.gens)
        best: OpSpec | None = None
        best_i = -1
        best_next: Generator | None = None
        pending = False
        changed = False
        alive: list[Generator] = []
        for g in gens:
            spec, nxt = g.op(ctx)
            if spec is None:
                changed = True
                continue
            if spec is PENDING:
                # Adopting a PENDING answer's state consumes no op (a sleep's
                # deadline, a time limit's cutoff) and must not be lost.
                pending = True
                changed = changed or nxt is not g
                alive.append(nxt)  # type: ignore[arg-type]
                continue
            if best is None or spec.time < best.time:  # type: ignore[union-attr,operator]
                best, best_i, best_next = spec, len(alive), nxt  # type: ignore[assignment]
            alive.append(g)
        if best is None:
            if not alive:
                return _DONE
            return PENDING, (_Any(tuple(alive)) if changed else self)
        alive[best_i] = best_next  # type: ignore[assignment]
        return best, _Any(tuple(alive))

    def update(self, ctx: Context, event: Op) -> Generator:
        gens = _update_all(self.gens, ctx, event)
        return self if gens is self.gens else _Any(gens)


def any_of(*gens: Any) -> Generator:
    """Run ``gens`` concurrently: each op is the soonest any of them offers."""
    return _Any(tuple(lift(g) for g in gens))  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class _Route:
    to_nemesis: bool
    gen: Generator

    def _ctx(self, ctx: Context) -> Context:
        if self.to_nemesis:
            free = _NEM_FREE if NEMESIS in ctx.free else _EMPTY
            return Context(time=ctx.time, free=free, clients=_EMPTY, nemesis=True, rng=ctx.rng)
        free = ctx.free - _NEM_FREE if NEMESIS in ctx.free else ctx.free
        return Context(time=ctx.time, free=free, clients=ctx.clients, nemesis=False, rng=ctx.rng)

    def op(self, ctx: Context) -> OpResult:
        spec, nxt = self.gen.op(self._ctx(ctx))
        if spec is None:
            return _DONE
        return spec, (self if nxt is self.gen else _Route(self.to_nemesis, nxt))  # type: ignore[arg-type]

    def update(self, ctx: Context, event: Op) -> Generator:
        if (event.process == NEMESIS) != self.to_nemesis or type(self.gen) in _INERT:
            return self
        nxt = self.gen.update(self._ctx(ctx), event)
        return self if nxt is self.gen else _Route(self.to_nemesis, nxt)


_EMPTY: frozenset = frozenset()
_NEM_FREE: frozenset = frozenset((NEMESIS,))


def clients(g: Any) -> Generator:
    """Only client processes see ``g``; it hears only client events."""
    return _Route(False, lift(g))  # type: ignore[arg-type]


def nemesis(g: Any) -> Generator:
    """Only the nemesis sees ``g`` (its ``process=None`` ops go to the nemesis)."""
    return _Route(True, lift(g))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Synchronize:
    gen: Generator

    def op(self, ctx: Context) -> OpResult:
        if not ctx.all_free:
            return PENDING, self
        return self.gen.op(ctx)  # once started, the wrapper is gone

    def update(self, ctx: Context, event: Op) -> Generator:
        return self


def synchronize(g: Any) -> Generator:
    """Wait until every process in scope is idle, then behave as ``g``."""
    return _Synchronize(lift(g))  # type: ignore[arg-type]


def phases(*gens: Any) -> Generator:
    """Each generator to exhaustion, and its ops completed, before the next starts."""
    return seq(synchronize(g) for g in gens)


@dataclass(frozen=True, slots=True)
class _MapOps:
    f: Callable[[OpSpec], OpSpec]
    gen: Generator

    def op(self, ctx: Context) -> OpResult:
        spec, nxt = self.gen.op(ctx)
        if spec is None:
            return _DONE
        if spec is not PENDING:
            spec = self.f(spec)  # type: ignore[arg-type]
        return spec, (self if nxt is self.gen else _MapOps(self.f, nxt))  # type: ignore[arg-type]

    def update(self, ctx: Context, event: Op) -> Generator:
        if type(self.gen) in _INERT:
            return self
        nxt = self.gen.update(ctx, event)
        return self if nxt is self.gen else _MapOps(self.f, nxt)


def map_ops(f: Callable[[OpSpec], OpSpec], g: Any) -> Generator:
    """``g`` with every op passed through ``f``."""
    return _MapOps(f, lift(g))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Independent:
    keys: tuple[Any, ...]
    make: Callable[[Any], Any]
    gens: tuple[Generator | None, ...]  # None: not started yet
    active: tuple[int, ...]  # indices of keys not exhausted

    def op(self, ctx: Context) -> OpResult:
        gens, active = self.gens, self.active
        while active:
            j = ctx.rng.randrange(len(active)) if len(active) > 1 else 0
            i = active[j]
            g = gens[i]
            if g is None:
                g = lift(self.make(self.keys[i]))
            spec, nxt = g.op(ctx) if g is not None else _DONE
            if spec is None:
                active = active[:j] + active[j + 1:]
                continue
            if nxt is not gens[i]:
                gens = gens[:i] + (nxt,) + gens[i + 1:]
            if spec is not PENDING:
                spec = OpSpec(f=spec.f, value=[self.keys[i], spec.value],  # type: ignore[union-attr]
                              process=spec.process, time=spec.time)  # type: ignore[union-attr]
            if gens is self.gens and active is self.active:
                return spec, self
            return spec, _Independent(self.keys, self.make, gens, active)
        return _DONE

    def update(self, ctx: Context, event: Op) -> Generator:
        v = event.value
        if not (isinstance(v, list) and len(v) == 2):
            return self
        try:
            i = self.keys.index(v[0])
        except ValueError:
            return self
        g = self.gens[i]
        if g is None:
            return self
        nxt = g.update(ctx, replace(event, value=v[1]))
        if nxt is g:
            return self
        return _Independent(self.keys, self.make, self.gens[:i] + (nxt,) + self.gens[i + 1:], self.active)


def independent(keys: int | Sequence[Any], make_gen: Callable[[Any], Any]) -> Generator:
    """Jepsen's independent keys: ``make_gen(key)`` per key, values become ``[key, v]``.

    Each op comes from a key chosen by the rng among keys not yet exhausted;
    events are routed back to their key's generator with the plain value.
    ``keys`` is a sequence of keys or a count (keys ``0..n-1``).
    """
    ks = tuple(range(keys)) if isinstance(keys, int) else tuple(keys)
    return _Independent(ks, make_gen, (None,) * len(ks), tuple(range(len(ks))))


@dataclass(frozen=True, slots=True)
class _EachProcess:
    """One copy of ``original`` per worker slot (client process mod the number of workers)."""

    original: Generator
    gens: tuple[tuple[Any, Generator | None], ...]  # (slot, state); None = exhausted

    def _slot(self, ctx: Context, p: Process) -> Any:
        return p if p == NEMESIS else p % max(1, len(ctx.clients))  # type: ignore[operator]

    def _state(self, slot: Any) -> Generator | None:
        for s, g in self.gens:
            if s == slot:
                return g
        return self.original

    def op(self, ctx: Context) -> OpResult:
        best: OpSpec | None = None
        best_slot, best_next = None, None
        procs = sorted(ctx.clients) + ([NEMESIS] if ctx.nemesis else [])  # type: ignore[list-item]
        any_live = False
        for p in procs:
            slot = self._slot(ctx, p)
            g = self._state(slot)
            if g is None:
                continue
            any_live = True
            if p not in ctx.free:
                continue
            sub = Context(time=ctx.time, free=frozenset((p,)),
                          clients=frozenset() if p == NEMESIS else frozenset((p,)),  # type: ignore[arg-type]
                          nemesis=p == NEMESIS, rng=ctx.rng)
            spec, nxt = g.op(sub)
            if spec is None:
                return PENDING, self._with(slot, None)
            if spec is PENDING:
                continue
            if best is None or spec.time < best.time:  # type: ignore[union-attr,operator]
                best, best_slot, best_next = spec, slot, nxt  # type: ignore[assignment]
        if best is not None:
            return best, self._with(best_slot, best_next)
        return (PENDING, self) if any_live else _DONE

    def _with(self, slot: Any, g: Generator | None) -> "_EachProcess":
        gens = tuple((s, x) for s, x in self.gens if s != slot) + ((slot, g),)
        return _EachProcess(self.original, gens)

    def update(self, ctx: Context, event: Op) -> Generator:
        slot = self._slot(ctx, event.process)
        g = self._state(slot)
        if g is None:
            return self
        nxt = g.update(ctx, event)
        return self if nxt is g else self._with(slot, nxt)


def each_process(g: Any) -> Generator:
    """Every worker (and the nemesis, if in scope) runs its own copy of ``g`` (Jepsen's each-thread)."""
    return _EachProcess(lift(g), ())  # type: ignore[arg-type]


def _update_all(gens: tuple[Generator, ...], ctx: Context, event: Op) -> tuple[Generator, ...]:
    """``update`` every generator; the same tuple back when none changed (no allocation)."""
    out: list[Generator] | None = None
    for i, g in enumerate(gens):
        if type(g) in _INERT:
            continue
        n = g.update(ctx, event)
        if n is not g:
            if out is None:
                out = list(gens)
            out[i] = n
    return gens if out is None else tuple(out)


# Generators whose ``update`` always returns themselves: wrappers skip telling them.
_INERT: frozenset[type] = frozenset({_Once, _Fn, _Sleep, _Synchronize})


# --- simulation --------------------------------------------------------------

CompleteFn = Callable[[Op, random.Random], "tuple[str, Any]"]


def _perfect(op: Op, rng: random.Random) -> tuple[str, Any]:
    return "ok", op.value


@dataclass(slots=True)
class _Sim:
    """Mutable state of one :func:`simulate` run (local to that call)."""

    concurrency: int
    worker_process: list[Process]
    free: set[Process] = field(default_factory=set)
    in_flight: list[tuple[int, int, int, Op]] = field(default_factory=list)  # (time, seq, worker, invoke)
    history: list[Op] = field(default_factory=list)


def simulate(gen: Any, *, seed: int, concurrency: int, latency_ns: int | Callable[[random.Random], int] = 1_000_000,
             complete: CompleteFn = _perfect, with_nemesis: bool = True,
             max_events: int = 1_000_000, tick_ns: int = 1_000_000) -> list[Op]:
    """Interpret ``gen`` on a virtual clock, without threads; return the history.

    ``concurrency`` client workers (processes ``0..concurrency-1``) and, with
    ``with_nemesis``, the nemesis. Every op takes ``latency_ns`` (an int, or a
    function of the rng) and ends as ``complete(invoke, rng)`` says (default:
    ``ok`` with the invocation's value). A client op ending ``info`` moves its
    worker to process + ``concurrency``; nemesis events are recorded as two
    ``info`` events, as the runner does. With nothing in flight and the
    generator PENDING, the clock advances by ``tick_ns``.
    """
    rng = random.Random(seed)
    g = lift(gen)
    st = _Sim(concurrency=concurrency, worker_process=list(range(concurrency)))
    st.free = set(range(concurrency))
    if with_nemesis:
        st.free.add(NEMESIS)
    now = 0
    seq_no = 0

    def ctx() -> Context:
        clients_ = frozenset(p for p in st.worker_process if p != NEMESIS)
        return Context(time=now, free=frozenset(st.free), clients=clients_,  # type: ignore[arg-type]
                       nemesis=with_nemesis, rng=rng)

    def record(**kw: Any) -> Op:
        ev = Op(index=len(st.history), **kw)
        st.history.append(ev)
        if len(st.history) > max_events:
            raise RuntimeError(f"simulate: more than {max_events} events; is the generator infinite? "
                               "Wrap it in limit() or time_limit().")
        return ev

    def finish_one() -> None:
        nonlocal now, g
        t, _, worker, inv = heapq.heappop(st.in_flight)
        now = max(now, t)
        if inv.process == NEMESIS:
            ev = record(type="info", process=NEMESIS, f=inv.f, value=inv.value, time=now)
            st.free.add(NEMESIS)
        else:
            typ, value = complete(inv, rng)
            ev = record(type=typ, process=inv.process, f=inv.f, value=value, time=now)
            p = inv.process
            if typ == "info":
                p = p + concurrency  # type: ignore[operator]
                st.worker_process[worker] = p
            st.free.add(p)
        if g is not None:
            g = g.update(ctx(), ev)

    idle_ticks = 0
    while True:
        spec, nxt = g.op(ctx()) if g is not None else _DONE
        if spec is None:
            g = None
            if not st.in_flight:
                break
            finish_one()
            continue
        if spec is PENDING:
            g = nxt
            if st.in_flight:
                finish_one()
            else:
                idle_ticks += 1
                if idle_ticks > max_events:
                    raise RuntimeError("simulate: generator PENDING for ever with nothing in flight")
                now += tick_ns
            continue
        idle_ticks = 0
        assert isinstance(spec, OpSpec)
        if st.in_flight and st.in_flight[0][0] <= spec.time:  # type: ignore[operator]
            finish_one()  # a completion comes first; ask again
            continue
        now = max(now, spec.time)  # type: ignore[type-var]
        p = spec.process
        st.free.discard(p)
        if p == NEMESIS:
            worker = -1
            inv = record(type="info", process=NEMESIS, f=spec.f, value=spec.value, time=now)
        else:
            worker = st.worker_process.index(p)
            inv = record(type="invoke", process=p, f=spec.f, value=spec.value, time=now)  # type: ignore[arg-type]
        lat = latency_ns(rng) if callable(latency_ns) else latency_ns
        seq_no += 1
        heapq.heappush(st.in_flight, (now + lat, seq_no, worker, inv))
        g = nxt.update(ctx(), inv) if nxt is not None else None
    return st.history
