"""Combinators: generators built from generators (sequence, mix, limits, routing, keys)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Sequence

import msgspec

from harness.generators._core import (
    _DONE, NS, PENDING, Context, Generator, OpResult, OpSpec, _Fn, _Once, _Sleep, lift,
)
from harness.history import NEMESIS, Op, Process


def repeat(spec: OpSpec, times: int | None = None) -> Generator:
    """The same op, forever or ``times`` times."""
    g = _Fn(lambda rng: spec)
    return g if times is None else limit(times, g)


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
        nxt = g.update(ctx, msgspec.structs.replace(event, value=v[1]))  # Op is a msgspec Struct
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
