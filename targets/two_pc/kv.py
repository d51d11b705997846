"""General multi-key transactions over the 2PC participants: sharding, lock modes, staging (pure).

A transaction is a list of Elle micro-ops ``[f, key, value]``: ``append``
and ``r`` (list-append), ``w`` and ``r`` (rw-register). Each key lives on one
participant (:func:`shard`: an int key ``k`` on ``kinds[k % 3]``, any other
key by CRC-32 of its JSON), so one transaction may touch all three. The
coordinator splits the micro-ops by participant (:func:`split`), keeping each
one's position in the transaction, and runs the variant's own 2PC over the
participants involved. A participant, at prepare:

* takes a lock on every key it is given (:func:`modes`): exclusive (``X``)
  on a key the transaction writes, shared (``S``) on one it only reads, held
  until commit or abort (strict two-phase locking; a conflict with another
  prepared transaction is :func:`conflict`);
* executes its micro-ops in order against the committed values plus the
  transaction's own earlier writes (:func:`stage`): reads are answered now,
  with the YES vote, and the writes are staged in the prepare record;
* at commit applies the staged writes (:func:`apply_writes`).

The coordinator puts the reads back in place (:func:`merge`) and answers the
client with the completed micro-ops. Keys are held as their JSON text
(``3`` and ``"3"`` are different keys), values as JSON.

Why every participant prepares in the same fixed order with all its keys
locked at once: lock waits then only ever point to a later participant, so
they cannot form a cycle (no deadlock); a prepare that still finds a key held
after a short wait votes NO.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = ["FS", "apply_writes", "conflict", "merge", "modes", "shard", "split", "stage"]

FS = ("append", "r", "w")

Mop = list[Any]        # [f, key, value]
KvMop = list[Any]      # [position in the transaction, f, key, value]


def shard(key: Any, kinds: Sequence[str]) -> str:
    """The participant holding ``key``: ints by ``key % len(kinds)``, anything else by CRC-32 of its JSON."""
    if type(key) is int:
        return kinds[key % len(kinds)]
    return kinds[zlib.crc32(json.dumps(key).encode()) % len(kinds)]


def split(mops: Sequence[Sequence[Any]], kinds: Sequence[str]) -> dict[str, list[KvMop]]:
    """``{participant: [[i, f, k, v], ...]}`` for the participants ``mops`` touch, in ``kinds`` order.

    Raises ``ValueError`` for a micro-op that is not ``[f, key, value]`` with ``f`` in :data:`FS`
    and a scalar key.
    """
    by: dict[str, list[KvMop]] = {}
    for i, m in enumerate(mops):
        if not isinstance(m, (list, tuple)) or len(m) != 3 or m[0] not in FS:
            raise ValueError(f"micro-op {i} is {m!r}, not [f key value] with f one of {list(FS)}")
        if isinstance(m[1], (list, dict)) or m[1] is None:
            raise ValueError(f"micro-op {i}: key {m[1]!r} must be a string or a number")
        by.setdefault(shard(m[1], kinds), []).append([i, m[0], m[1], m[2]])
    return {k: by[k] for k in kinds if k in by}


def modes(kv: Iterable[Sequence[Any]]) -> dict[str, str]:
    """Lock mode per key (JSON text): ``X`` if written, else ``S``."""
    out: dict[str, str] = {}
    for _, f, k, _ in kv:
        key = json.dumps(k)
        if f != "r":
            out[key] = "X"
        else:
            out.setdefault(key, "S")
    return out


def conflict(want: Mapping[str, str], held: Iterable[tuple[str, Mapping[str, str]]]) -> tuple[str, str] | None:
    """``(key, holder)`` of the first lock in ``held`` (txn, modes) that ``want`` cannot share, or None."""
    for txn, hm in held:
        for key, mode in want.items():
            other = hm.get(key)
            if other is not None and (other == "X" or mode == "X"):
                return key, txn
    return None


def stage(kv: Sequence[Sequence[Any]], current: Callable[[str], Any]) -> tuple[list[list[Any]], dict[str, Any]]:
    """Run the micro-ops in order over ``current(key)`` (the committed value, None if none).

    Returns ``(reads, writes)``: ``[[i, value read], ...]`` and ``{key: value after}``
    for every key written. Raises ``ValueError`` for an append to a key that holds no list.
    """
    now: dict[str, Any] = {}
    reads: list[list[Any]] = []
    writes: dict[str, Any] = {}
    for i, f, k, v in kv:
        key = json.dumps(k)
        if key not in now:
            now[key] = current(key)
        if f == "r":
            val = now[key]
            reads.append([i, list(val) if isinstance(val, list) else val])
        elif f == "append":
            val = now[key]
            if val is not None and not isinstance(val, list):
                raise ValueError(f"append to key {k!r}, which holds {val!r}, not a list")
            now[key] = writes[key] = [*(val or []), v]
        else:
            now[key] = writes[key] = v
    return reads, writes


def apply_writes(kv: Sequence[Sequence[Any]], current: Callable[[str], Any]) -> dict[str, Any]:
    """The values to store at commit: the writes of :func:`stage` replayed over the values now."""
    return stage(kv, current)[1]


def merge(mops: Sequence[Sequence[Any]], reads: Iterable[Sequence[Any]]) -> list[Mop]:
    """``mops`` with each read's value filled in from ``reads`` (``[i, value]`` pairs)."""
    out = [list(m) for m in mops]
    for i, v in reads:
        out[int(i)][2] = v
    return out
