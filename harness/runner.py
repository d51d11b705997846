"""The runner: interprets a generator with worker threads against a cluster.

Two layers:

:class:`Interpreter`
    Jepsen's ``generator.interpreter`` in Python. One worker thread per client
    (the work is I/O-bound, so threads are the right tool under the GIL) and
    one for the nemesis. The calling thread asks the generator for ops, records
    each invocation and hands it to the idle worker of its process; the worker
    invokes its client, records the completion and reports back. Workers are
    Jepsen's logical processes: a worker whose op ends ``info`` (or raises)
    continues as process + ``concurrency``, and the op stays open for ever (it
    may yet take effect). A client exception becomes ``info`` with the error
    string, then the worker reopens its client.
:func:`execute`
    One whole run: ``phases(any_of(clients(time_limit(T, workload)),
    nemesis(time_limit(T, schedule))), nemesis final heal)``, then wait until
    every node is ready again, then the workload's final generator (final
    reads). Every resource lives in an ``ExitStack``: on return, exception or
    a stop signal (Ctrl-C, SIGTERM, SIGHUP: a ``KeyboardInterrupt``, see
    :mod:`harness.backends._interrupts`) the workers stop, the nemesis is torn
    down, clients are torn down and closed, and the history file is complete
    up to the last event. Its :class:`RunOutcome` holds no events: the run's
    stats come from the recorder's counters, its fault events and (for the
    check) its whole history are read back from the file, so a run of millions
    of events needs no more memory while it runs than a short one (issue 15).

The runner knows no particular system: it uses only the ``Target``,
``Workload``, ``Cluster``, ``Client`` and ``Nemesis`` protocols.

A nemesis's own events. Some faults take effect on their own time: an armed
crash point fires when the node reaches it, the node comes back later. A
nemesis that reports such things is an :class:`EventSource`: the nemesis
worker calls its ``poll()`` between ops (every ``event_poll_s`` while idle,
and after each op), never during one, so the nemesis needs no locking; and
:func:`execute` polls once more at the end. Each :class:`NemesisEvent` is
recorded by the interpreter thread as a pair of ``info`` events of process
``nemesis`` with the event's ``f`` and value (docs/DESIGN.md, "Nemesis events
in the history"). They are not shown to the generators: a schedule counting
the two events of its own op in flight must not count these.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from harness import generators as gen
from harness.client import Client, Completion, open_client
from harness.cluster import Cluster
from harness.generators import PENDING, Context, Generator, OpSpec
from harness.formats import load_history
from harness.history import NEMESIS, History, Op, Process
from harness.recorder import Recorder, recorded_nemesis
from harness.nodes import client_nodes, ready_of, role_of
from harness.target import Target, Workload, WorkloadContext

__all__ = ["EventSource", "Interpreter", "Nemesis", "NemesisEvent", "NemesisPlan", "RunOutcome", "execute",
           "recorded_stats", "stats_of", "wait_ready"]

log = logging.getLogger(__name__)

_STOP = object()
_POLL = object()  # asks the nemesis worker for one poll of its event source, answered even if empty


class Nemesis(Protocol):
    """What the runner needs of a nemesis (``nemesis.core.Nemesis`` satisfies it)."""

    def setup(self, cluster: Cluster) -> "Nemesis": ...

    def invoke(self, op: Op) -> Completion: ...

    def teardown(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class NemesisEvent:
    """Something a nemesis saw happen on its own (``crash-fired``, ``restart``): recorded as an info pair."""

    f: str
    value: Any = None


@runtime_checkable
class EventSource(Protocol):
    """A nemesis that also reports events it did not invoke (see the module docstring)."""

    def poll(self) -> Sequence[NemesisEvent]:
        """What happened since the last poll, oldest first; quick when nothing did."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Events:
    """A nemesis worker's poll, handed to the interpreter thread to record.

    ``after``: the completion of the op just before the poll, recorded first,
    so that no other event can come between it and these (every pair stays
    adjacent in the history).
    """

    events: tuple[NemesisEvent, ...]
    reply: bool = False
    after: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NemesisPlan:
    """The nemesis side of a run (``nemesis.package`` returns a compatible object)."""

    nemesis: Nemesis
    generator: Any
    final_generator: Any


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


class _ClientSlot:
    """One client worker's client, reopened after an exception."""

    def __init__(self, factory: Callable[[], Client], node: str, cluster: Cluster,
                 context: WorkloadContext) -> None:
        self.node = node
        self._factory = factory
        self._cluster = cluster
        self._context = context
        self.client: Client | None = open_client(factory(), node, cluster.address(node), context)

    def invoke(self, op: Op) -> Completion:
        if self.client is None:
            try:
                self.client = open_client(self._factory(), self.node, self._cluster.address(self.node),
                                          self._context)
            except Exception as e:  # noqa: BLE001 - the node may be down; the op is unknown
                return Completion(type="info", error=f"client unavailable: {_error_text(e)}")
        try:
            return self.client.invoke(op)
        except Exception as e:  # noqa: BLE001 - unexpected: outcome unknown, reopen the client
            self.close()
            return Completion(type="info", error=_error_text(e))

    def close(self) -> None:
        c, self.client = self.client, None
        if c is not None:
            try:
                c.close()
            except Exception as e:  # noqa: BLE001 - closing must not hide the run's outcome
                log.warning("closing the client of %s failed: %s", self.node, _error_text(e))


_Outcome = tuple[Op, str, Any, "str | None", Any]
"""What a worker hands back: (invocation, completion type, value, node, error)."""


class Interpreter:
    """Runs generators with ``len(clients)`` client workers and an optional nemesis worker.

    Use as a context manager: entering starts the threads, leaving stops and
    joins them (after their op in flight, up to ``join_timeout_s`` each).
    :meth:`run` may be called several times; processes carry over.

    A worker whose op is still in flight ``drain_timeout_s`` after its
    generator ended is *abandoned* (logged): its op stays open, it leaves the
    context's processes so that later phases need not wait for it, and it
    rejoins when its op finally completes. Clients should bound their requests
    with timeouts so this never happens.
    """

    def __init__(self, *, recorder: Recorder, clients: Sequence[Any], nemesis: Nemesis | None,
                 rng: random.Random, poll_s: float = 0.001, join_timeout_s: float = 10.0,
                 drain_timeout_s: float = 120.0, event_poll_s: float = 0.2) -> None:
        self.recorder = recorder
        self._slots = list(clients)  # objects with .node, .invoke(op), .close()
        self._nemesis = nemesis
        self._rng = rng
        self._poll_s = poll_s
        self._join_timeout_s = join_timeout_s
        self._drain_timeout_s = drain_timeout_s
        self._event_poll_s = event_poll_s
        self._source = nemesis if isinstance(nemesis, EventSource) else None
        n = len(self._slots)
        self.concurrency = n
        self._proc_of: list[Process] = list(range(n))
        self._worker_of: dict[Process, int] = {p: p for p in range(n)}  # type: ignore[misc]
        self._free: set[Process] = set(range(n))
        self._clients = frozenset(range(n))
        if nemesis is not None:
            self._worker_of[NEMESIS] = n
            self._free.add(NEMESIS)
        self._inbox: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(n + 1)]
        self._done: queue.SimpleQueue[tuple[int, Op]] = queue.SimpleQueue()
        self._outstanding = 0  # ops in flight, not counting abandoned workers'
        self._busy: dict[int, Process] = {}  # worker -> process of its op in flight
        self._abandoned: set[int] = set()
        self._nemesis_in_scope = nemesis is not None
        self._threads: list[threading.Thread] = []

    # -- threads ------------------------------------------------------------------

    def __enter__(self) -> "Interpreter":
        for w, slot in enumerate(self._slots):
            self._spawn(f"splitbrain-client-{w}", self._client_loop, w, slot)
        if self._nemesis is not None:
            self._spawn("splitbrain-nemesis", self._nemesis_loop, len(self._slots))
        return self

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        # daemon: a client stuck past its own timeout must not keep the process alive
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def __exit__(self, *exc: object) -> None:
        for q in self._inbox:
            q.put(_STOP)
        deadline = time.monotonic() + self._join_timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("%s is still busy after %.0f s; leaving it behind", t.name, self._join_timeout_s)

    def _client_loop(self, w: int, slot: Any) -> None:
        inbox, done = self._inbox[w], self._done
        node = slot.node
        while True:
            inv = inbox.get()
            if inv is _STOP:
                return
            try:
                c = slot.invoke(inv)
                typ = c.type
                value = c.value if (typ == "ok" or c.value is not None) else inv.value
                err = c.error
            except BaseException as e:  # noqa: BLE001 - even this must end the op
                typ, value, err = "info", inv.value, _error_text(e)
            done.put((w, (inv, typ, value, node, err)))

    def _nemesis_loop(self, w: int) -> None:
        inbox, done = self._inbox[w], self._done
        nem = self._nemesis
        assert nem is not None
        while True:
            try:
                inv = inbox.get(timeout=self._event_poll_s) if self._source is not None else inbox.get()
            except queue.Empty:  # idle: what happened on its own since the last poll
                self._poll_source(w, reply=False)
                continue
            if inv is _STOP:
                return
            if inv is _POLL:
                self._poll_source(w, reply=True)
                continue
            try:
                c = nem.invoke(inv)
                value, err = c.value, c.error
            except Exception as e:  # noqa: BLE001 - a broken nemesis is recorded, not fatal
                value, err = inv.value, _error_text(e)
            outcome = (inv, "info", value, None, err)
            if self._source is None or not self._poll_source(w, reply=False, after=outcome):
                done.put((w, outcome))

    def _poll_source(self, w: int, *, reply: bool, after: Any = None) -> bool:
        """In the nemesis worker: poll the event source; hand what it saw (and ``after``) to the interpreter.

        False when there was nothing to hand over.
        """
        assert self._source is not None
        try:
            events = tuple(self._source.poll())
        except Exception as e:  # noqa: BLE001 - a broken poll is logged, the run goes on
            log.warning("the nemesis's event poll failed: %s", _error_text(e))
            events = ()
        if not (events or reply):
            return False
        self._done.put((w, _Events(events=events, reply=reply, after=after)))  # type: ignore[arg-type]
        return True

    def poll_events(self, timeout_s: float = 30.0) -> None:
        """Record what the nemesis's event source saw up to now (the end of a run); no-op without one.

        Waits for the nemesis worker's answer (completing any op that ends
        meanwhile), at most ``timeout_s``.
        """
        if self._source is None or self._nemesis_worker_busy():
            return
        self._inbox[len(self._slots)].put(_POLL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            item = self._wait(min(0.5, max(0.0, deadline - time.monotonic())))
            if item is None:
                continue
            self._complete(None, item)
            if isinstance(item[1], _Events) and item[1].reply:
                return
        log.warning("the nemesis's event source did not answer within %.0f s", timeout_s)

    def _nemesis_worker_busy(self) -> bool:
        return len(self._slots) in self._busy or len(self._slots) in self._abandoned

    # -- the interpreter loop ---------------------------------------------------------

    def _ctx(self, now: int) -> Context:
        return Context(time=now, free=frozenset(self._free), clients=self._clients,
                       nemesis=self._nemesis_in_scope, rng=self._rng)

    def _complete(self, g: Generator | None, item: tuple[int, _Outcome]) -> Generator | None:
        """Record a worker's completion (in the interpreter thread) and update ``g`` with it.

        Completions are recorded here, not by the workers, as in Jepsen's
        interpreter: one writer keeps the journal's order and times consistent
        and the recorder's lock uncontended (workers recording themselves made
        every op wait for the lock behind a thread waiting for the GIL). An
        event is stamped when it is taken from the queue: at most a little
        later than the op really ended, which widens its interval and so can
        never make a legal history look illegal.
        """
        if isinstance(item[1], _Events):  # a nemesis's own events: recorded, not shown to g
            if item[1].after is not None:
                g = self._complete(g, (item[0], item[1].after))
            for e in item[1].events:
                for _ in range(2):
                    self.recorder.record(type="info", process=NEMESIS, f=e.f, value=e.value)
            return g
        w, (inv, typ, value, node, err) = item
        ev = self.recorder.record(type=typ, process=inv.process, f=inv.f, value=value, node=node, error=err)
        self._busy.pop(w, None)
        rejoin = w in self._abandoned
        if rejoin:
            self._abandoned.discard(w)
            log.warning("worker %d finished its abandoned op (index %d); it rejoins", w, ev.index)
        else:
            self._outstanding -= 1
        p = ev.process
        if p == NEMESIS:
            self._nemesis_in_scope = True
        elif ev.type == "info" or rejoin:
            newp = p + self.concurrency if ev.type == "info" else p  # type: ignore[operator]
            self._proc_of[w] = newp
            del self._worker_of[p]
            self._worker_of[newp] = w
            self._refresh_clients()
            p = newp
        self._free.add(p)
        if g is None or rejoin:
            return g
        return g.update(self._ctx(self.recorder.now()), ev)

    def _wait(self, timeout_s: float) -> tuple[int, _Outcome] | None:
        """The next completion within ``timeout_s``, or None; held events are written first."""
        self.recorder.flush()
        try:
            return self._done.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _take_ready(self, g: Generator | None) -> Generator | None:
        """Complete every op whose completion is already queued; ``g`` updated with each."""
        while True:
            try:
                item = self._done.get_nowait()
            except queue.Empty:
                return g
            g = self._complete(g, item)

    def _refresh_clients(self) -> None:
        self._clients = frozenset(p for w, p in enumerate(self._proc_of)  # type: ignore[misc]
                                  if w not in self._abandoned)

    def _abandon_busy(self) -> None:
        for w, p in self._busy.items():
            if w in self._abandoned:
                continue
            self._abandoned.add(w)
            self._outstanding -= 1
            if p == NEMESIS:
                self._nemesis_in_scope = False
            log.warning("process %s (worker %d) is still busy %.0f s after its generator ended; "
                        "its op stays open and later phases go on without it", p, w, self._drain_timeout_s)
        self._refresh_clients()

    def run(self, g: Any, *, deadline_s: float | None = None) -> None:
        """Interpret ``g`` until it is exhausted and every op it issued has completed.

        ``deadline_s`` (seconds from now) is a watchdog: a generator still
        offering ops past it is taken as exhausted, with a warning, so that a
        generator bug can delay a run's end but never hang it.
        """
        g = gen.lift(g)
        rec, poll = self.recorder, self._poll_s
        drain_deadline = time.monotonic() + self._drain_timeout_s
        watchdog = None if deadline_s is None else time.monotonic() + deadline_s
        self._take_ready(None)  # completions that arrived between runs (abandoned workers) first
        while True:
            now = rec.now()
            ctx = self._ctx(now)
            if g is not None and watchdog is not None and time.monotonic() > watchdog:
                log.warning("the generator still offers ops %.0f s past its phase's deadline; "
                            "ending the phase", deadline_s)
                g = None
                drain_deadline = time.monotonic() + self._drain_timeout_s
            if g is not None:
                spec, nxt = g.op(ctx)
            else:
                spec, nxt = None, None
            if spec is None:
                if g is not None:
                    g = None
                    drain_deadline = time.monotonic() + self._drain_timeout_s
                if not self._outstanding:
                    rec.flush()
                    return
                item = self._wait(min(0.5, self._drain_timeout_s))
                if item is None:
                    if time.monotonic() >= drain_deadline:
                        self._abandon_busy()
                    continue
                self._complete(None, item)
                continue
            if spec is PENDING:
                g = nxt
                item = self._wait(poll)
                if item is not None:  # it, and every completion already there, before asking g again
                    g = self._take_ready(self._complete(g, item))
                continue
            assert isinstance(spec, OpSpec)
            t = spec.time
            if t is not None and t > now:  # not yet: wait for it, or for a completion first
                item = self._wait(min((t - now) / 1e9, 0.5))
                if item is not None:
                    g = self._complete(g, item)
                continue
            p = spec.process
            w = self._worker_of[p]  # type: ignore[index]
            self._free.discard(p)  # type: ignore[arg-type]
            self._outstanding += 1
            self._busy[w] = p  # type: ignore[assignment]
            if p == NEMESIS:
                ev = rec.record(type="info", process=NEMESIS, f=spec.f, value=spec.value)
            else:
                ev = rec.record(type="invoke", process=p, f=spec.f, value=spec.value,  # type: ignore[arg-type]
                                node=self._slots[w].node)
            self._inbox[w].put(ev)
            g = nxt.update(self._ctx(ev.time), ev) if nxt is not None else None  # type: ignore[arg-type]


# --- one whole run -------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """What :func:`execute` did: where the history is, its fault events, whether the cluster recovered.

    The events themselves are in the history file only (``history_path``,
    complete and fsynced when :func:`execute` returns): a long run's history
    does not fit in memory twice, and the check should judge what is on disk.
    ``nemesis_events`` are read back from that file (few: a nemesis acts every
    few seconds); :meth:`history` reads the whole of it.
    """

    history_path: Path
    nemesis_events: tuple[Op, ...]
    recovered: bool
    not_ready: tuple[str, ...] = ()
    duration_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    def history(self) -> History:
        """The whole history, read and paired from the file (:func:`harness.formats.load_history`).

        Raises :class:`harness.history.HistoryError` if the file cannot be read.
        """
        return load_history(self.history_path)

    @property
    def events(self) -> tuple[Op, ...]:
        """Every event, read back from the file on each access: for tests and short runs."""
        return self.history().ops


def wait_ready(cluster: Cluster, target: Target, *, timeout_s: float) -> tuple[str, ...]:
    """Poll every node with ``target.ready`` until all answer; return those that did not."""
    pending = list(cluster.nodes)
    deadline = time.monotonic() + timeout_s
    while pending:
        pending = [n for n in pending if not _probe(target, cluster, n)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return tuple(pending)


def _probe(target: Target, cluster: Cluster, node: str) -> bool:
    try:
        return bool(ready_of(role_of(target, cluster.nodes, node), target)(cluster.address(node)))
    except Exception:  # noqa: BLE001 - a probe that raises is a node not ready
        return False


def stats_of(events: Sequence[Op], duration_s: float) -> dict[str, Any]:
    """Counts of client operations by outcome (an invocation never completed counts as info)."""
    counts = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}
    nemesis = 0
    for e in events:
        if e.process == NEMESIS:
            nemesis += 1
        else:
            counts[e.type] += 1
    return _stats(counts, nemesis, duration_s)


def recorded_stats(recorder: Recorder, duration_s: float) -> dict[str, Any]:
    """:func:`stats_of` the events ``recorder`` recorded, from its counters (no event is kept)."""
    return _stats(recorder.counts, recorder.nemesis_count, duration_s)


def _stats(counts: dict[str, int], nemesis: int, duration_s: float) -> dict[str, Any]:
    open_ = counts["invoke"] - counts["ok"] - counts["fail"] - counts["info"]
    return {"ops": counts["invoke"], "ok": counts["ok"], "fail": counts["fail"],
            "info": counts["info"] + max(0, open_), "nemesis_events": nemesis,
            "duration_s": round(duration_s, 3),
            "ops_per_s": round(counts["invoke"] / duration_s, 1) if duration_s > 0 else None}


_PHASE_GRACE_S = 60.0
"""How long past its planned end a phase's generator may go on offering ops (watchdog)."""


def execute(*, cluster: Cluster, target: Target, workload: Workload, wctx: WorkloadContext,
            recorder: Recorder, seed: int, time_limit_s: float, rate: float | None = None,
            nemesis: NemesisPlan | Any | None = None, ready_timeout_s: float = 60.0,
            on_phase: Callable[[str], None] | None = None) -> RunOutcome:
    """One run: main phase under faults, heal, wait for recovery, final reads.

    ``wctx.concurrency`` client workers, worker *i* on node ``i % N``. Returns
    when done; on a stop signal (``KeyboardInterrupt``) everything unwinds and
    the interrupt propagates, the history file complete up to the last event.
    ``on_phase`` is told each phase as it starts (``running``, ``healing``,
    ``waiting for recovery``, ``final reads``): the run publishes it in
    ``results.json``, so a run stopped or killed says where.
    """
    phase = on_phase or (lambda name: None)
    rng = random.Random(seed)
    client_gen: Any = workload.generator(wctx)
    if rate:
        client_gen = gen.rate(rate, client_gen)
    main = [gen.clients(gen.time_limit(time_limit_s, client_gen))]
    final_heal: Any = None
    if nemesis is not None:
        main.append(gen.nemesis(gen.time_limit(time_limit_s, nemesis.generator)))
        final_heal = nemesis.final_generator
    t0 = time.monotonic()
    nodes = client_nodes(target, cluster.nodes)  # every node, unless a role takes no clients
    with ExitStack() as stack:
        nem: Nemesis | None = None
        if nemesis is not None:
            nem = nemesis.nemesis.setup(cluster)
            stack.callback(nem.teardown)
        slots: list[_ClientSlot] = []
        for i in range(wctx.concurrency):
            slot = _ClientSlot(target.client, nodes[i % len(nodes)], cluster, wctx)
            slots.append(slot)
            stack.callback(slot.close)
        if slots and slots[0].client is not None:
            first = slots[0].client
            first.setup()
            stack.callback(first.teardown)
        interp = stack.enter_context(Interpreter(recorder=recorder, clients=slots, nemesis=nem, rng=rng))
        phase("running")
        interp.run(gen.phases(gen.any_of(*main)), deadline_s=time_limit_s + _PHASE_GRACE_S)
        if final_heal is not None:
            phase("healing")
            interp.run(gen.phases(gen.nemesis(final_heal)), deadline_s=_PHASE_GRACE_S)
        phase("waiting for recovery")
        not_ready = wait_ready(cluster, target, timeout_s=ready_timeout_s)
        if not_ready:
            log.warning("nodes %s not ready after %.0f s; doing the final reads anyway",
                        ", ".join(not_ready), ready_timeout_s)
        if workload.final is not None:
            phase("final reads")
            interp.run(gen.phases(gen.clients(workload.final(wctx))), deadline_s=_PHASE_GRACE_S)
        interp.poll_events()  # a nemesis's own events up to the end (a crash point that fired late)
    recorder.fsync()
    duration = time.monotonic() - t0
    return RunOutcome(history_path=recorder.path, nemesis_events=recorded_nemesis(recorder.path),
                      recovered=not not_ready, not_ready=not_ready, duration_s=duration,
                      stats=recorded_stats(recorder, duration))
