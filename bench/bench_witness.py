"""Benchmark: the minimal-witness reduction on every invalid history of the shared corpus (and run folders).

Run:  python bench/bench_witness.py [--corpus DIR] [--big N] [RUN_DIR ...]

For each ``not-linearizable`` corpus file (and each run folder given, read
as an independent register history like the quorum store's), prints the
key's size, the search's time to the invalid verdict, the reduction's time,
how many sub-histories it searched, the witness's size, whether it is
1-minimal and the cause named; ``--big N`` adds one generated key of N
operations (5 processes writing unique values and reading, overlapping),
ending in a stale read, to show the reduction stays near the failing op. Then totals: the reduction's share of the
check time, the slowest file, how many witnesses are minimal.

Target (issue 8): every witness found and minimal within the default budget
(:data:`checkers.linear.explain.WITNESS_BUDGET_S`, 3 s), none slower than
that, and two to four operations typical.

Measured 2026-12-01 (commit 05927aa, shared 2-core machine, load ~10): 53
invalid histories, 53 witnesses found, all 1-minimal; sizes median 6, max
260; reduction total 727 ms, median 1.3 ms, slowest knossos/mutex/bad/etcd.edn
at 195 ms (632 searches, a 260-op witness): 2.6 s before its closure was
taken on bit sets (1.20 -> 0.18 s CPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkers.linear.causes import classify  # noqa: E402
from checkers.linear.explain import WITNESS_BUDGET_S  # noqa: E402
from checkers.linear.partition import partition  # noqa: E402
from checkers.linear.scheduler import check_partitions  # noqa: E402
from checkers.linear.witness import minimal_witness  # noqa: E402
from checkers.linearizability import Linearizability  # noqa: E402
from harness.formats import load_history  # noqa: E402
from harness.history import read_jsonl  # noqa: E402
from tests.support.corpus import CORPUS, checker_for, manifest_rows  # noqa: E402


def measure(name: str, history: Any, checker: Linearizability) -> dict[str, Any] | None:
    model = checker.model
    t0 = time.perf_counter()
    parts = partition(history, model)
    out = check_partitions(parts, model)
    t_search = time.perf_counter() - t0
    if out.verdict != "invalid":
        return None
    part, res = out.invalid  # type: ignore[misc]
    init = model.init(part.key)
    t1 = time.perf_counter()
    w = minimal_witness(part.entries, model, init, stuck=res.stuck, budget_s=WITNESS_BUDGET_S)
    t_wit = time.perf_counter() - t1
    pattern = "-"
    if w is not None:
        pattern = classify(w.entries, part.entries, model, init, key=part.key, history=history,
                           stuck=part.entries[res.stuck] if res.stuck is not None else None,
                           minimal=w.minimal).pattern
    return {"name": name, "key_ops": len(part.entries), "search_ms": t_search * 1e3, "witness_ms": t_wit * 1e3,
            "searches": 0 if w is None else w.searches, "size": None if w is None else len(w.entries),
            "minimal": w is not None and w.minimal, "pattern": pattern}


def big_key(n: int) -> Any:
    """``n`` ops of one register by 5 processes, linearizable, then one stale read at the end."""
    from harness.history import History, Op

    events: list[Op] = []
    t = 0
    value = 0
    for i in range(n // 5):
        batch = []
        for p in range(5):  # each process: invoke, then all complete (overlapping intervals)
            if p % 2 == 0:
                value += 1
                batch.append((p, "write", value, value))
            else:
                batch.append((p, "read", None, None))
        for p, f, v, _ in batch:
            events.append(Op(index=len(events), time=t, process=p, type="invoke", f=f, value=v))
            t += 1000
        last = value
        for p, f, v, _ in batch:  # writes complete in order; reads see the last write of the batch
            events.append(Op(index=len(events), time=t, process=p, type="ok", f=f, value=v if f == "write" else last))
            t += 1000
        del i
    events.append(Op(index=len(events), time=t, process=9, type="invoke", f="read"))
    events.append(Op(index=len(events), time=t + 1000, process=9, type="ok", f="read", value=value - 3))
    return History.of(events)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--big", type=int, default=2000, help="ops of the generated big key (0: none)")
    ap.add_argument("runs", nargs="*", type=Path, help="run folders (independent register histories)")
    args = ap.parse_args()
    rows = []
    if args.big:
        r = measure(f"generated: one key of {args.big} ops, stale read at the end", big_key(args.big),
                    Linearizability(model="register"))
        if r is not None:
            rows.append(r)
    for row in manifest_rows(args.corpus):
        if row["expected"] != "not-linearizable":
            continue
        r = measure(row["path"], load_history(args.corpus / row["path"]), checker_for(row))
        if r is not None:
            rows.append(r)
    for run in args.runs:
        r = measure(str(run), read_jsonl(run / "history.jsonl", tolerate_torn_tail=True),
                    Linearizability(model="register", independent=True))
        if r is not None:
            rows.append(r)
    print(f"{'history':60} {'key ops':>7} {'search ms':>9} {'witness ms':>10} {'searches':>8} {'size':>4} "
          f"{'minimal':>7}  pattern")
    for r in rows:
        print(f"{r['name'][-60:]:60} {r['key_ops']:7d} {r['search_ms']:9.1f} {r['witness_ms']:10.1f} "
              f"{r['searches']:8d} {r['size'] if r['size'] is not None else '-':>4} {str(r['minimal']):>7}  "
              f"{r['pattern']}")
    if not rows:
        print("no invalid histories found")
        return 1
    wit = [r["witness_ms"] for r in rows]
    sizes = [r["size"] for r in rows if r["size"] is not None]
    total_s, total_w = sum(r["search_ms"] for r in rows), sum(wit)
    print(f"\n{len(rows)} invalid histories; witnesses found {len(sizes)}, minimal "
          f"{sum(r['minimal'] for r in rows)}; sizes median {statistics.median(sizes) if sizes else '-'}, "
          f"max {max(sizes) if sizes else '-'}")
    print(f"reduction: total {total_w:.0f} ms (search {total_s:.0f} ms), median {statistics.median(wit):.1f} ms, "
          f"slowest {max(wit):.0f} ms ({max(rows, key=lambda r: r['witness_ms'])['name']})")
    patterns: dict[str, int] = {}
    for r in rows:
        patterns[r["pattern"]] = patterns.get(r["pattern"], 0) + 1
    print("patterns: " + ", ".join(f"{k} {v}" for k, v in sorted(patterns.items())))
    return 0 if len(sizes) == len(rows) and all(r["minimal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
