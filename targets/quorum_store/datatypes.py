"""The quorum store's ``set``, ``counter`` and ``list-append`` workloads: data types on a key-value store.

The guide's store keeps one value per key; a client that wants a set, a
counter or a list keeps it in that value and changes it the way the guide's
code would: **read-modify-write** (read the current value through the read
quorum, change it, write the whole value back through the write quorum). Two
clients doing that at once on one key both read version X and the second
write replaces the first: a *lost update*. These workloads show which
variants lose acknowledged data that way:

``set`` (checked by :class:`checkers.sets.SetFull`, key by key)
    ``add [k, x]`` adds a unique element ``x`` to the set at key ``k``;
    ``read [k, None]`` completes as ``[k, [elements...]]``. Final reads, after
    the cluster healed, read every key twice (the second after the first's
    read repair). A few keys (``keys``, default 3) and many concurrent adds
    make the read-modify-write races frequent.
``counter`` (:class:`checkers.counter.Counter`, key by key)
    ``add [k, 1]`` increments, ``read [k, None]`` completes as ``[k, n]``.
``list-append`` (:class:`checkers.elle.list_append.ListAppend`)
    single-micro-op transactions ``[["append", k, v]]`` and ``[["r", k, None]]``;
    every key takes at most ``max_writes_per_key`` appends (default 64) and is
    then retired for a fresh one, as Elle's generator does, so reads stay short.

Keys are typed by name: ``set:0``, ``counter:0``, ``list:0``; the client
(:mod:`targets.quorum_store.client`) reads the type from the prefix (an empty
key is ``[]`` or ``0``). How the client applies an ``add`` or ``append``:

* ``seed``, ``abd``: read-modify-write. The ``ok`` completion of an add is
  ``[k, x, {"read": V, "version": W, "node": N}]``: the version it read and the
  version it wrote, so :mod:`checkers.lost_updates` can name the concurrent
  add that read the same version and wrote over it.
* ``vclock``: the operation itself is sent (``POST /kv/<key>`` with ``{"op":
  "add", "arg": x}``); the coordinator merges it into its replica's version and
  replicas merge concurrent versions by union (the guide's shopping cart), so
  no acknowledged add is lost. ``counter`` is refused on ``vclock``: the
  guide's merge has no rule for numbers other than keeping both siblings.

Options (``--option K=V``): ``keys`` (default 3), ``read_fraction`` (default
0.2 for set, 0.5 for counter and list-append), ``max_writes_per_key``
(list-append, default 64). Use ``--concurrency`` 10 or more to make races
frequent; the ``bench/bench_lost_updates.py`` settings are a good start.

Every generator here is a pure value (see :mod:`harness.generators`): its
state is the next element and, for list-append, the live keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from harness import generators as gen
from harness.history import Op
from harness.target import Workload, WorkloadContext
from targets.quorum_store.workload import _fraction

if TYPE_CHECKING:
    from checkers.api import Checker

__all__ = ["COUNTER", "LIST_APPEND", "SET", "KINDS", "kind_of", "typed_keys"]

KINDS = ("set", "counter", "list")
"""Key prefixes, ``<kind>:<n>``; anything else is a plain register."""

DEFAULT_KEYS = 3
DEFAULT_MAX_WRITES = 64


def kind_of(key: Any) -> str:
    """``"set"``, ``"counter"``, ``"list"`` from a typed key's prefix, else ``"register"``."""
    if isinstance(key, str):
        head = key.split(":", 1)[0]
        if head in KINDS and ":" in key:
            return head
    return "register"


def _int_option(options: Mapping[str, str], name: str, default: int) -> int:
    raw = options.get(name, str(default))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"option {name} must be a positive integer (not {raw!r}); e.g. --option {name}={default}")
    return n


def typed_keys(kind: str, options: Mapping[str, str]) -> tuple[str, ...]:
    """``<kind>:0`` .. ``<kind>:<keys-1>``."""
    return tuple(f"{kind}:{i}" for i in range(_int_option(options, "keys", DEFAULT_KEYS)))


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyedOps:
    """Endless ``add`` / ``read`` ops on uniform keys; adds carry ``next`` (set) or 1 (counter)."""

    keys: tuple[str, ...]
    read_fraction: float
    unique: bool  # set: each add carries the next unique int; counter: always 1
    next: int = 1

    def op(self, ctx: gen.Context) -> gen.OpResult:
        if not ctx.free:
            return gen.PENDING, self
        k = ctx.rng.choice(self.keys)
        if ctx.rng.random() < self.read_fraction:
            spec, nxt = gen.OpSpec(f="read", value=[k, None]), self
        elif self.unique:
            spec, nxt = gen.OpSpec(f="add", value=[k, self.next]), replace(self, next=self.next + 1)
        else:
            spec, nxt = gen.OpSpec(f="add", value=[k, 1]), self
        filled, _ = gen.once(spec).op(ctx)
        return (gen.PENDING, self) if filled is gen.PENDING else (filled, nxt)

    def update(self, ctx: gen.Context, event: Op) -> "KeyedOps":
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendOps:
    """Endless single-key appends and reads; a key retires after ``max_writes`` appends."""

    live: tuple[tuple[int, int], ...]  # (key number, appends issued)
    read_fraction: float
    max_writes: int
    next_key: int
    next: int = 1

    def op(self, ctx: gen.Context) -> gen.OpResult:
        if not ctx.free:
            return gen.PENDING, self
        i = ctx.rng.randrange(len(self.live))
        n, writes = self.live[i]
        key = f"list:{n}"
        if ctx.rng.random() < self.read_fraction:
            spec, nxt = gen.OpSpec(f="txn", value=[["r", key, None]]), self
        else:
            spec = gen.OpSpec(f="txn", value=[["append", key, self.next]])
            if writes + 1 >= self.max_writes:  # retire the key, start a fresh one in its slot
                live = self.live[:i] + ((self.next_key, 0),) + self.live[i + 1:]
                nxt = replace(self, live=live, next_key=self.next_key + 1, next=self.next + 1)
            else:
                live = self.live[:i] + ((n, writes + 1),) + self.live[i + 1:]
                nxt = replace(self, live=live, next=self.next + 1)
        filled, _ = gen.once(spec).op(ctx)
        return (gen.PENDING, self) if filled is gen.PENDING else (filled, nxt)

    def update(self, ctx: gen.Context, event: Op) -> "AppendOps":
        return self


def _final_reads(keys: tuple[str, ...]) -> gen.Generator:
    return gen.seq([gen.OpSpec(f="read", value=[k, None]) for _ in range(2) for k in keys])


# -- set ---------------------------------------------------------------------------


def set_generator(ctx: WorkloadContext) -> gen.Generator:
    return KeyedOps(keys=typed_keys("set", ctx.options), unique=True,
                    read_fraction=_fraction(ctx.options, "read_fraction", 0.2))


def set_final(ctx: WorkloadContext) -> gen.Generator:
    return _final_reads(typed_keys("set", ctx.options))


def set_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.independent import Independent
    from checkers.lost_updates import LostUpdates
    from checkers.sets import SetFull

    return LostUpdates(Independent(SetFull, name="set-full"))


SET = Workload(
    name="set",
    description="unique adds to a few set-valued keys and whole-set reads (client read-modify-write; "
                "server-side merge on vclock), checked by set-full key by key with the write that lost "
                "each element",
    generator=set_generator, checker=set_checker, final=set_final)


# -- counter -----------------------------------------------------------------------


def counter_generator(ctx: WorkloadContext) -> gen.Generator:
    if ctx.variant == "vclock":
        raise ValueError("the counter workload is not available on vclock: the guide's merge keeps "
                         "concurrent numbers as siblings and has no rule to add them; use --workload set")
    return KeyedOps(keys=typed_keys("counter", ctx.options), unique=False,
                    read_fraction=_fraction(ctx.options, "read_fraction", 0.5))


def counter_final(ctx: WorkloadContext) -> gen.Generator:
    return _final_reads(typed_keys("counter", ctx.options))


def counter_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.counter import Counter
    from checkers.independent import Independent

    return Independent(Counter, name="counter")


COUNTER = Workload(
    name="counter",
    description="increments (client read-modify-write) and reads of a few counter keys, checked by "
                "counter key by key",
    generator=counter_generator, checker=counter_checker, final=counter_final)


# -- list-append -------------------------------------------------------------------


def list_generator(ctx: WorkloadContext) -> gen.Generator:
    k = _int_option(ctx.options, "keys", DEFAULT_KEYS)
    return AppendOps(live=tuple((i, 0) for i in range(k)), next_key=k,
                     read_fraction=_fraction(ctx.options, "read_fraction", 0.5),
                     max_writes=_int_option(ctx.options, "max_writes_per_key", DEFAULT_MAX_WRITES))


def list_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.elle.list_append import ListAppend

    return ListAppend(timeout_s=60)


LIST_APPEND = Workload(
    name="list-append",
    description="single-key appends (client read-modify-write; server-side on vclock) and reads, "
                "checked by the Elle-style list-append checker",
    generator=list_generator, checker=list_checker)
