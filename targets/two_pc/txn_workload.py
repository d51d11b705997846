"""The ``list-append`` and ``rw-register`` workloads: Elle transactions across the 2PC participants.

Each op is a ``txn`` of 1-4 micro-ops (``[append k v]`` / ``[r k nil]``, or
``[w k v]`` / ``[r k nil]``) over a few *active* integer keys; key ``k`` lives
on participant ``k % 3`` (:func:`targets.two_pc.kv.shard`), so with the
default six active keys (two consecutive pairs per participant) most
transactions touch two or three participants and run the full 2PC. Values
come from one counter, so every written value is unique per key, as both
checkers require. A key is retired after ``writes_per_key`` writes (default
32) and the next integer key takes its place, as Elle's generators do: lists
stay short, and a key the seed variant left locked for ever is soon
abandoned instead of failing every later transaction on it. Key numbers wrap
at ``keys`` (default 60; more than a 30 s run retires).

The final generator is a ``final`` op (the coordinator disarms every
node's crash points, then waits up to ``recovery`` s for every prepared
transaction to be resolved) and, once it
has completed, reads of every key ``0 .. keys-1``: each key alone (so that a
key the seed variant left locked for ever fails only its own read), then
three consecutive keys (one per participant) a transaction. The checkers are :class:`checkers.elle.ListAppend` and
:class:`checkers.elle.RWRegister` against strict serializability (real-time
edges included), which the durable variant's strict two-phase locking
promises; for rw-register each key is assumed linearizable (it lives on one
participant, behind its locks), so real-time order also orders its versions.

Options (``--option``): ``active_keys`` (6), ``writes_per_key`` (32), ``keys``
(60), ``max_txn_len`` (4), ``recovery`` (6).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from harness import generators as gen
from harness.history import Op
from harness.target import Workload, WorkloadContext

if TYPE_CHECKING:
    from checkers.api import Checker

__all__ = ["LIST_APPEND", "RW_REGISTER", "TxnOps"]


def _int(options: Mapping[str, str], name: str, default: int, least: int = 1) -> int:
    raw = options.get(name, default)
    try:
        n = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"--option {name}={raw!r}: not an integer") from None
    if n < least:
        raise ValueError(f"--option {name}={n}: must be at least {least}")
    return n


@dataclass(frozen=True, slots=True, kw_only=True)
class TxnOps:
    """Endless transactions over the active keys (an immutable generator; see the module docstring)."""

    write_f: str                      # "append" or "w"
    active: tuple[tuple[int, int], ...]   # (key, writes so far)
    next_key: int
    keys: int
    writes_per_key: int
    max_len: int = 4
    next_value: int = 1

    def op(self, ctx: gen.Context) -> gen.OpResult:
        if not ctx.free:  # nobody idle: draw nothing from the rng
            return gen.PENDING, self
        rng = ctx.rng
        active = list(self.active)
        nxt_key, value = self.next_key, self.next_value
        mops: list[list[Any]] = []
        for _ in range(rng.randint(1, self.max_len)):
            slot = rng.randrange(len(active))
            k, n = active[slot]
            if rng.random() < 0.5:
                mops.append(["r", k, None])
                continue
            mops.append([self.write_f, k, value])
            value += 1
            if n + 1 >= self.writes_per_key:   # retired: the next key takes its slot
                active[slot] = (nxt_key % self.keys, 0)
                nxt_key += 1
            else:
                active[slot] = (k, n + 1)
        filled, _ = gen.once(gen.OpSpec(f="txn", value=mops)).op(ctx)
        if filled is gen.PENDING:
            return gen.PENDING, self
        return filled, replace(self, active=tuple(active), next_key=nxt_key, next_value=value)

    def update(self, ctx: gen.Context, event: Op) -> "TxnOps":
        return self


def txn_generator(write_f: str, options: Mapping[str, str]) -> TxnOps:
    n = _int(options, "active_keys", 6)
    keys = _int(options, "keys", 60)
    if keys < n:
        raise ValueError(f"--option keys={keys}: fewer than active_keys={n}")
    return TxnOps(write_f=write_f, active=tuple((k, 0) for k in range(n)), next_key=n, keys=keys,
                  writes_per_key=_int(options, "writes_per_key", 32), max_len=_int(options, "max_txn_len", 4))


def final_reads(options: Mapping[str, str]) -> gen.Generator:
    """Wait for prepared transactions to resolve, then read every key: alone, then three (one per participant)."""
    keys = _int(options, "keys", 60)
    wait = float(options.get("recovery", 6))
    reads = [gen.OpSpec(f="txn", value=[["r", k, None]]) for k in range(keys)]
    reads += [gen.OpSpec(f="txn", value=[["r", k, None] for k in range(i, min(i + 3, keys))])
              for i in range(0, keys, 3)]
    return gen.phases(gen.OpSpec(f="final", value={"wait": wait, "disarm": True}), gen.seq(reads))


def _list_append_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.elle import ListAppend

    return ListAppend(models=["strict-serializable"])


def _rw_register_checker(ctx: WorkloadContext) -> "Checker":
    from checkers.elle import RWRegister

    return RWRegister(models=["strict-serializable"], linearizable_keys=True)


LIST_APPEND = Workload(
    name="list-append",
    description="Elle list-append transactions ([append k v], [r k nil]) over keys sharded across the three "
                "participants, each run through the variant's 2PC; final reads of every key; checked for "
                "strict serializability",
    generator=lambda ctx: txn_generator("append", ctx.options),
    checker=_list_append_checker,
    final=lambda ctx: final_reads(ctx.options),
)

RW_REGISTER = Workload(
    name="rw-register",
    description="Elle rw-register transactions ([w k v], [r k nil]) over keys sharded across the three "
                "participants, each run through the variant's 2PC; final reads of every key; checked for "
                "strict serializability",
    generator=lambda ctx: txn_generator("w", ctx.options),
    checker=_rw_register_checker,
    final=lambda ctx: final_reads(ctx.options),
)
