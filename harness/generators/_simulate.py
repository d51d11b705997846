"""``simulate``: interpret a generator on a virtual clock, without threads (Jepsen's ``simulate``)."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from harness.generators._core import _DONE, PENDING, Context, OpSpec, lift
from harness.history import NEMESIS, Op, Process

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
