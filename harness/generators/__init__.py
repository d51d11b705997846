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

from harness.generators._combinators import (
    any_of, clients, cycle, each_process, independent, limit, map_ops, mix, nemesis, phases, rate,
    repeat, seq, stagger, synchronize, time_limit,
)
from harness.generators._core import (
    EXHAUSTED, NS, PENDING, Context, Generator, OpResult, OpSpec, Pending, fn, lift, once, sleep,
)
from harness.generators._simulate import simulate

__all__ = [
    "EXHAUSTED", "NS", "OpResult", "PENDING", "Context", "Generator", "OpSpec", "Pending",
    "any_of", "clients", "cycle", "each_process", "fn", "independent", "lift", "limit",
    "map_ops", "mix", "nemesis", "once", "phases", "rate", "repeat", "seq", "simulate",
    "sleep", "stagger", "synchronize", "time_limit",
]
