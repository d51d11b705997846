"""The 2PC target's list-append and rw-register generators, on the virtual clock (no nodes)."""

from __future__ import annotations

from collections import Counter

import pytest

from harness import generators as gen
from targets.two_pc import TARGET
from targets.two_pc.kv import shard
from targets.two_pc.participant import KINDS
from targets.two_pc.txn_workload import final_reads, txn_generator


def txns(write_f: str, n: int, **options: str) -> list[list[list]]:
    h = gen.simulate(gen.limit(n, txn_generator(write_f, options)), seed=1, concurrency=4, with_nemesis=False)
    return [op.value for op in h if op.type == "invoke"]


@pytest.mark.parametrize("write_f", ["append", "w"])
def test_values_are_unique_and_transactions_span_participants(write_f: str) -> None:
    ts = txns(write_f, 400)
    assert len(ts) == 400 and all(1 <= len(t) <= 4 for t in ts)
    written = [(k, v) for t in ts for f, k, v in t if f == write_f]
    assert len(written) == len({v for _, v in written})              # one counter: unique per key and overall
    assert all(v is None for t in ts for f, _, v in t if f == "r")
    spans = Counter(len({shard(k, KINDS) for _, k, _ in t}) for t in ts)
    assert spans[2] + spans[3] > len(ts) / 3                          # most multi-op transactions are 2PC


def test_keys_are_retired_after_writes_per_key_and_wrap_at_keys() -> None:
    ts = txns("append", 600, writes_per_key="4", keys="20")
    per_key = Counter(k for t in ts for f, k, _ in t if f == "append")
    assert set(per_key) == set(range(20))                           # rotated through every key, then wrapped
    assert max(per_key.values()) > 4                                  # a wrapped key takes appends again
    assert max(k for t in ts for _, k, _ in t) < 20


def test_final_reads_wait_then_read_every_key_alone_and_by_three() -> None:
    h = gen.simulate(final_reads({"keys": "7", "recovery": "1"}), seed=1, concurrency=2, with_nemesis=False)
    inv = [op for op in h if op.type == "invoke"]
    assert inv[0].f == "final" and inv[0].value == {"wait": 1.0, "disarm": True}
    first_read = next(op.index for op in h if op.type == "invoke" and op.f == "txn")
    final_done = next(op.index for op in h if op.type != "invoke" and op.f == "final")
    assert final_done < first_read                                     # the reads start once final completed
    reads = [[k for _, k, _ in op.value] for op in inv[1:]]
    assert reads == [[k] for k in range(7)] + [[0, 1, 2], [3, 4, 5], [6]]


def test_the_target_offers_both_workloads_and_keeps_orders_the_default() -> None:
    assert TARGET.default_workload == "orders"
    assert {"list-append", "rw-register"} <= set(TARGET.workloads)


def test_a_bad_option_is_named() -> None:
    with pytest.raises(ValueError, match="active_keys"):
        txn_generator("append", {"active_keys": "x"})
    with pytest.raises(ValueError, match="keys=2"):
        txn_generator("append", {"keys": "2"})
