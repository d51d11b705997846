"""Benchmark: the linearizability search alone (issue 15), apart from loading and partitioning.

Run:  python bench/bench_search.py [--sizes 10000,100000] [--repeat 5] [--against COMMIT] [--corpus DIR]
                                   [--skip-corpus] [--profile]

1. Generated valid ``kv`` histories (``bench_long.write_kv``: 10 keys, 20
   processes, 1% ``info``). Each is loaded and partitioned once; then the
   search (``check_partitions`` over fresh copies of the partitions, the
   cyclic collector off as ``Linearizability.check`` runs it) is timed
   ``--repeat`` times in CPU seconds (``time.process_time``): best and median.
2. The reference corpus (``../shared/corpus``): per file, partition and
   search timed ``--repeat`` times each; totals and per-file median ratios
   against ``PORCUPINE-TIMES.tsv`` (two cores), for the search alone and for
   the verdict alone (partition + search, as ``bench_long`` times it). Every
   verdict is compared with the manifest.

``--against COMMIT`` loads ``checkers/linear/search.py`` and ``scheduler.py``
as they were at COMMIT (``git show``; the rest of the tree as it is now) and
times both searches in turns, run for run: on this shared 2-core machine the
CPU time of one run moves by 30 % with the others' load, so only figures
taken side by side compare.

Targets (issue 15, the search's share): the search of the 100k kv history
<= ~0.35 s CPU (the whole check <= 0.62 s, partition ~0.15-0.3 s); the
corpus verdict alone <= 0.2x Porcupine's total (74 ms) and per-file median
<= 2x.

Measured 2026-12-01 17:31 UTC, commit b0eb535 against cdc6404 (before this
work), ``--sizes 10000,100000 --repeat 5 --against cdc6404``, load average
0.7-0.9, CPU seconds, best (median) of runs; the partition (another
helper's) is the tree's in both columns:

| | before (cdc6404) | now | ratio |
| --- | --- | --- | --- |
| kv 10,000: search | 0.048 s (0.062) | 0.036 s (0.052) | 0.75 |
| kv 100,000: search | 0.582 s (0.629) | 0.430 s (0.448) | 0.74 |
| corpus: search alone, total | 105.3 ms, 0.285x Porcupine | 74.0 ms, 0.201x | 0.70 |
| corpus: search alone, per-file median | 2.59x Porcupine | 1.74x | |
| corpus: verdict alone (partition 20.6 ms), total | 125.8 ms, 0.341x | 94.6 ms, 0.256x | |
| corpus: verdict alone, per-file median | 3.68x | 2.89x | |

(Earlier side-by-side runs, load 1.1-1.6: kv 100k 0.742 -> 0.505 s and
0.569 -> 0.437 s, corpus search alone 100.7 -> 67.4 ms and 99.0 -> 68.1 ms:
the figures of one run move by 20-30 % with the machine's other jobs, the
ratios by a few points.) ``python bench/bench_long.py --sizes 100000
--no-edn --skip-set`` at daf8f4d and b0eb535: the whole 100k kv check
0.75 and 1.04 s CPU in a fresh process (0.84, 0.92 and 1.18 s in three more
``--worker`` runs; in one process, partition 0.26 s + search 0.43 s; target
0.62; 1.02-1.09 s before this work), corpus verdict alone 94.8-98.5 ms
(0.26x), per-file median 2.98-3.06x.

Instructions (``valgrind --tool=callgrind``, ASLR off, hash seed 0; the
search of the 10k kv history, which the load does not move): 344 M at
cdc6404, 266 M now; of these the lean first-end search ~180 M, the lazy
driver and the rest ~85 M.

Missed: the 100k kv search (0.43 s against ~0.35; the whole check 0.75 s
or more against 0.62), the corpus verdict alone (0.256x against 0.2; the
partition is 21 of its 95 ms) and its per-file median (2.89x against 2: the
median file's partition alone takes about 1.2x Porcupine's whole check,
its search 1.74x). What remains of the kv search, per segment of ~8 ops: the
lean search's set-up ~50 k instructions (its candidate and mask tables:
Python loops over the segment's ops; done with map/compress in C it was
slower at this size), its depth-first search ~13 k instructions a
configuration and ~9 configurations a segment (the model's ``step`` and
``grows`` are Python calls, a third of it; the reachability test; the
cache), the driver ~25 k (the next segment's ops sorted by completion for
the look-ahead, the level and the ends tried), and the general search on
the ~8 % of segments the driver backtracks into (tried again with the lean
search first, that was slower). Tried and dropped: the lean search's
look-ahead cut at every configuration from the first (more work than it
saves on kv; it is tested past twice the segment's width instead), a plain
order with each read placed where its state is (succeeds on 55 % of kv
segments against 30 %, but its real-time check costs what it saves), the
segment bounds found with accumulate/compress in C (``max`` as a builtin
call per entry is dearer than the Python loop: 266 -> 279 M).
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _fresh(parts: Any) -> list[Any]:
    from checkers.linear.partition import Partition
    return [Partition(key=p.key, calls=p.calls, cp=p.cp, rp=p.rp, ops=p.ops, dropped=p.dropped) for p in parts]


def _module_at(commit: str, path: str, name: str, inject: dict[str, ModuleType]) -> ModuleType:
    """``path`` as it was at ``commit``, loaded as module ``name`` (``inject`` stands in for its imports)."""
    source = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, fh.name)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    saved = {k: sys.modules.get(k) for k in inject}
    sys.modules.update(inject)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    finally:
        for k, v in saved.items():
            if v is not None:
                sys.modules[k] = v
    return mod


def searches(against: str | None) -> list[tuple[str, Callable[..., Any]]]:
    from checkers.linear.scheduler import check_partitions
    out: list[tuple[str, Callable[..., Any]]] = [("now", check_partitions)]
    if against:
        old_search = _module_at(against, "checkers/linear/search.py", "bench_old_search", {})
        old_sched = _module_at(against, "checkers/linear/scheduler.py", "bench_old_scheduler",
                               {"checkers.linear.search": old_search})
        out.append((f"at {against}", old_sched.check_partitions))
    return out


def bench_kv(sizes: list[int], repeat: int, profile: bool, runs: list[tuple[str, Callable[..., Any]]]) -> None:
    from bench_long import write_kv
    from checkers.linear.models import make_model
    from checkers.linear.partition import partition
    from harness.formats import load_history
    model = make_model("kv")
    print("| history | search | partition CPU | search CPU best | search CPU median | verdict | explored |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="splitbrain-bench-search-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"kv-{n}.jsonl"
            write_kv(path, n)
            history = load_history(path)
            gc.disable()
            c = time.process_time()
            parts = list(partition(history, model))
            part_s = time.process_time() - c
            times: dict[str, list[float]] = {name: [] for name, _ in runs}
            outs: dict[str, Any] = {}
            for _ in range(repeat):
                for name, check in runs:  # in turns, run for run
                    fresh = _fresh(parts)
                    c = time.process_time()
                    outs[name] = check(fresh, model)
                    times[name].append(time.process_time() - c)
            gc.enable()
            for name, _ in runs:
                ts, out = times[name], outs[name]
                print(f"| kv {n:,} | {name} | {part_s:.3f} s | {min(ts):.3f} s | {statistics.median(ts):.3f} s "
                      f"| {out.verdict} | {out.explored} |")
            if profile:
                import cProfile
                import pstats
                gc.disable()
                fresh = _fresh(parts)
                pr = cProfile.Profile()
                pr.enable()
                runs[0][1](fresh, model)
                pr.disable()
                gc.enable()
                pstats.Stats(pr).sort_stats("tottime").print_stats(15)


def bench_corpus(corpus: Path, repeat: int, runs: list[tuple[str, Callable[..., Any]]]) -> bool:
    from harness.formats import load_history
    from checkers.linear.partition import partition
    from tests.support.corpus import EXPECTED, checker_for, manifest_rows
    porc: dict[str, float] = {}
    with (corpus / "PORCUPINE-TIMES.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"):
            porc[row["path"]] = float(row["ms_two_cores"])
    porc_total = 0.0
    part_total = [0.0, 0.0]  # median, best
    totals = {name: [0.0, 0.0, 0.0, 0.0] for name, _ in runs}  # search median, best; verdict median, best
    ratios: dict[str, list[list[float]]] = {name: [[], [], [], []] for name, _ in runs}
    wrong = []
    rows = manifest_rows(corpus)
    gc.disable()  # as Linearizability.check runs the check
    for row in rows:
        history = load_history(corpus / row["path"])
        model = checker_for(row).model
        pt = []
        parts: Any = ()
        for _ in range(repeat):
            c = time.process_time()
            parts = partition(history, model)
            pt.append(time.process_time() - c)
        st: dict[str, list[float]] = {name: [] for name, _ in runs}
        for _ in range(repeat):
            for name, check in runs:
                c = time.process_time()
                out = check(parts, model)
                st[name].append(time.process_time() - c)
                if out.verdict != EXPECTED[row["expected"]].value:
                    wrong.append(f"{row['path']} ({name})")
        p = porc.get(row["path"])
        if p is None:
            continue
        porc_total += p
        pm, pb = statistics.median(pt) * 1000, min(pt) * 1000
        part_total[0] += pm
        part_total[1] += pb
        for name, ts in st.items():
            sm, sb = statistics.median(ts) * 1000, min(ts) * 1000
            for j, x in enumerate((sm, sb, sm + pm, sb + pb)):
                totals[name][j] += x
                ratios[name][j].append(x / p)
    gc.enable()
    print(f"corpus: {len(rows)} files, verdicts right {len(rows) * len(runs) - len(set(wrong))}/{len(rows) * len(runs)}"
          + (f"  WRONG: {', '.join(sorted(set(wrong)))}" if wrong else "")
          + f"; Porcupine total {porc_total:.1f} ms; partition total {part_total[0]:.1f} ms (best {part_total[1]:.1f})")
    print("| search | what | total ms, median of runs (ratio) | per-file median ratio | total ms, best of runs (ratio) "
          "| per-file median ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, _ in runs:
        t, r = totals[name], ratios[name]
        for what, j in (("search alone", 0), ("verdict alone", 2)):
            print(f"| {name} | {what} | {t[j]:.1f} ({t[j] / porc_total:.3f}) | {statistics.median(r[j]):.2f}x "
                  f"| {t[j + 1]:.1f} ({t[j + 1] / porc_total:.3f}) | {statistics.median(r[j + 1]):.2f}x |")
    print("(targets for the verdict alone: total ratio <= 0.2, per-file median ratio <= 2)")
    return not wrong


def main() -> int:
    import os
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--against", help="also time the search of this commit, in turns with the tree's")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--profile", action="store_true", help="cProfile one search of each size")
    ap.add_argument("--skip-corpus", action="store_true")
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs = searches(args.against)
    bench_kv([int(x) for x in args.sizes.split(",") if x], args.repeat, args.profile, runs)
    ok = True
    if not args.skip_corpus and args.corpus.is_dir():
        ok = bench_corpus(args.corpus, args.repeat, runs)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
