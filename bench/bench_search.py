"""Benchmark: the linearizability search alone (issue 15), apart from loading and partitioning.

Run:  python bench/bench_search.py [--sizes 10000,100000] [--repeat 5] [--corpus DIR] [--profile]

1. Generated valid ``kv`` histories (``bench_long.write_kv``: 10 keys, 20
   processes, 1% ``info``). Each is loaded and partitioned once; then the
   search (``check_partitions`` over fresh copies of the partitions) is
   timed ``--repeat`` times in CPU seconds (``time.process_time``, the
   cyclic collector off as ``Linearizability.check`` runs it), and the
   partition step once more for comparison. Printed: best and median.
2. The reference corpus (``../shared/corpus``): per file, the median of
   ``--repeat`` runs of the verdict alone (``partition`` + ``check_partitions``,
   as ``bench_long`` times it) and of the search alone, against
   ``PORCUPINE-TIMES.tsv`` (two cores): totals and per-file median ratios.
   Every verdict is compared with the manifest.

Targets (issue 15, this helper's share): the search of the 100k kv history
<= ~0.35 s CPU (the whole check <= 0.62 s with partition ~0.15-0.3 s); the
corpus verdict alone <= 0.2x Porcupine's total (74 ms) and per-file median
<= 2x.

Measured figures are recorded below (date, commit, load average).
"""

from __future__ import annotations

import argparse
import csv
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _fresh(parts):  # type: ignore[no-untyped-def]
    from checkers.linear.partition import Partition
    return [Partition(key=p.key, calls=p.calls, cp=p.cp, rp=p.rp, ops=p.ops, dropped=p.dropped) for p in parts]


def bench_kv(sizes: list[int], repeat: int, profile: bool) -> None:
    from bench_long import write_kv
    from checkers.linear.models import make_model
    from checkers.linear.partition import partition
    from checkers.linear.scheduler import check_partitions
    from harness.formats import load_history
    model = make_model("kv")
    print("| history | partition CPU | search CPU best | search CPU median | verdict | explored |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="splitbrain-bench-search-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"kv-{n}.jsonl"
            write_kv(path, n)
            history = load_history(path)
            gc.disable()
            c = time.process_time()
            parts = list(partition(history, model))
            part_s = time.process_time() - c
            times = []
            out = None
            for _ in range(repeat):
                fresh = _fresh(parts)
                c = time.process_time()
                out = check_partitions(fresh, model)
                times.append(time.process_time() - c)
            gc.enable()
            assert out is not None
            print(f"| kv {n:,} | {part_s:.3f} s | {min(times):.3f} s | {statistics.median(times):.3f} s "
                  f"| {out.verdict} | {out.explored} |")
            if profile:
                import cProfile
                import pstats
                gc.disable()
                fresh = _fresh(parts)
                pr = cProfile.Profile()
                pr.enable()
                check_partitions(fresh, model)
                pr.disable()
                gc.enable()
                pstats.Stats(pr).sort_stats("tottime").print_stats(15)


def bench_corpus(corpus: Path, repeat: int) -> bool:
    from harness.formats import load_history
    from checkers.linear.partition import partition
    from checkers.linear.scheduler import check_partitions
    from tests.support.corpus import EXPECTED, checker_for, manifest_rows
    porc: dict[str, float] = {}
    with (corpus / "PORCUPINE-TIMES.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"):
            porc[row["path"]] = float(row["ms_two_cores"])
    verdict_total = search_total = porc_total = 0.0
    ratios: list[float] = []
    search_ratios: list[float] = []
    wrong = []
    rows = manifest_rows(corpus)
    for row in rows:
        history = load_history(corpus / row["path"])
        model = checker_for(row).model
        vt, st = [], []
        out = None
        for _ in range(repeat):
            c = time.process_time()
            parts = partition(history, model)
            c2 = time.process_time()
            out = check_partitions(parts, model)
            end = time.process_time()
            vt.append(end - c)
            st.append(end - c2)
        assert out is not None
        want = EXPECTED[row["expected"]].value
        if out.verdict != want:
            wrong.append(row["path"])
        if row["path"] not in porc:
            continue
        v, s, p = statistics.median(vt) * 1000, statistics.median(st) * 1000, porc[row["path"]]
        verdict_total += v
        search_total += s
        porc_total += p
        ratios.append(v / p)
        search_ratios.append(s / p)
    print(f"corpus: {len(rows)} files, verdicts right {len(rows) - len(wrong)}/{len(rows)}"
          + (f"  WRONG: {', '.join(wrong)}" if wrong else ""))
    print(f"verdict alone: total {verdict_total:.1f} ms vs Porcupine {porc_total:.1f} ms: ratio "
          f"{verdict_total / porc_total:.3f} (target <= 0.2); per-file median {statistics.median(ratios):.2f}x "
          f"(target <= 2)")
    print(f"search alone: total {search_total:.1f} ms, ratio {search_total / porc_total:.3f}; "
          f"per-file median {statistics.median(search_ratios):.2f}x")
    return not wrong


def main() -> int:
    import os
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--profile", action="store_true", help="cProfile one search of each size")
    ap.add_argument("--skip-corpus", action="store_true")
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bench_kv([int(x) for x in args.sizes.split(",") if x], args.repeat, args.profile)
    ok = True
    if not args.skip_corpus and args.corpus.is_dir():
        ok = bench_corpus(args.corpus, args.repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
