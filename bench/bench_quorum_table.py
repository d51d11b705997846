"""The design guide's quorum table, measured: each W/R configuration under the same faults and seeds.

The guide (section 4.4, "Quorum 机制") ends with a table of what each quorum
configuration trades, 不同配置的权衡. Its columns are 配置 (configuration),
一致性 (consistency), 可用性 (availability), 性能 (performance) and 场景
(use); in the guide's text the consistency and availability cells are empty
(whatever marks they held were lost when it became text). The cells that are
there, translated:

    W=N, R=1          performance: slow writes, fast reads (写慢读快)   use: read-heavy, write-light (读多写少)
    W=1, R=N          performance: fast writes, slow reads (写快读慢)   use: write-heavy, read-light (写多读少)
    W=Q, R=Q (Q>N/2)  performance: balanced (平衡)                      use: the general case (通用场景)
    W=1, R=1          use: where inconsistency can be tolerated (可容忍不一致)

and, above it, the rule ``W + R > N`` ("保证强一致性", guarantees strong
consistency) with the example N=5, W=3, R=3.

This script runs the rows of ``suites/quorum-table.toml`` (those four on the
``seed`` variant, the guide's store as written, plus ABD with W + R > N and
with W + R <= N) through ``splitbrain suite`` with K seeds of T seconds each,
one run at a time, and prints beside each claim the measured columns
(:mod:`harness.sweep_stats`): runs with anomalies of K, anomalies per 1,000
ops, the share of ops not ok (failed or timed out) among those invoked while a
fault was in effect (all, reads, writes; and outside faults, the baseline),
and read and write latency p50/p99 of the ok ops. The suite's page
(``OUT/index.html``) has the same table and every run; ``OUT/sweep.json`` the
figures. A row whose settings the target refuses before any node starts is
printed as refused and not run.

    python bench/bench_quorum_table.py                        # 5 seeds x 20 s per row: 35 runs, 15-25 min
    python bench/bench_quorum_table.py --seeds 10 --time-limit 30
    python bench/bench_quorum_table.py --workload set         # lost acknowledged adds (set-full)
    python bench/bench_quorum_table.py --rows "W=N, R=1" --rows "W=1, R=1" --seeds 2
    python bench/bench_quorum_table.py --table OUT/sweep.json # print a table already measured
    python bench/bench_quorum_table.py --table OUT/sweep.json --rebuild  # recompute it from its runs

Measured (netns, 5 nodes so Q=3, 10 clients at 100 ops/s, partition,kill every
3 s; on a 2-core machine shared with other work, so latencies are high and
noisy; ``anomalous`` counts invalid verdicts, +N? unknown, +N! not performed).

Register workload, linearizability checker, 10 seeds x 30 s
(``python bench/bench_quorum_table.py --seeds 10 --time-limit 30``, 2026-12-01,
43 min; rows in the order shown, so a row's latencies also carry the machine's
load of its own minutes: compare a row's reads with its writes, not rows)::

    row                anomalous   anom/1k   not ok in faults    reads   writes   outside   read p50/p99 ms   write p50/p99 ms
    W=N, R=1            10 of 10      0.53              49.4%    17.9%    80.9%     13.7%         9.4 / 218         25.2 / 348
        nonlinearizable: (flip-flopping reads) 2, (not linearizable) 2, (read of a failed write) 5, (stale read) 1
    W=1, R=N             8 of 10      0.44              51.5%    84.4%    19.0%     13.8%        32.5 / 396         16.8 / 276
        anomalies: nonlinearizable (lost write) 1, nonlinearizable (stale read) 7
    W=R=Q                8 of 10      0.41              17.7%    18.3%    17.1%      2.1%        14.7 / 332         19.5 / 372
        nonlinearizable: (flip-flopping reads) 2, (read of a failed write) 4, (stale read) 2
    W=1, R=1            10 of 10      0.47              17.8%    18.4%    17.2%      0.8%         9.3 / 270         12.2 / 299
        nonlinearizable: (flip-flopping reads) 5, (not linearizable) 1, (read of a failed write) 1, (stale read) 3
    abd W=R=Q            0 of 10      0.00              16.8%    18.1%    15.4%      1.5%         8.4 / 186         13.8 / 227
    abd W=2, R=2        10 of 10      0.36              17.4%    17.0%    17.7%      0.9%         5.1 / 108          9.0 / 151
        anomalies: nonlinearizable (lost write) 3, nonlinearizable (stale read) 7
    vclock W=R=Q        10 of 10      0.37              16.4%    16.2%    16.7%      1.0%        7.2 / 99.1         10.2 / 123
        anomalies: nonlinearizable (value never written) 10

(The abd W=2, R=2 row was measured afterwards, alone, with ``--option
weak_quorum=1`` which the row now carries: ``--rows 'abd W=2, R=2' --seeds 10
--time-limit 30``. Before that option the node refused W + R <= N and the row
read "not performed".)

What it says against the guide's claims:

* The performance column holds: W=N, R=1 writes are the slow ones (p50 25 ms
  against 9 ms reads), W=1, R=N reads the slow ones (33 ms against 17 ms
  writes). The availability the text does not show is the larger trade: while
  one node is killed or the network is partitioned, W=N refuses 81% of the
  writes and R=N 84% of the reads (and each about 14% of ops with no fault in
  effect: any slow replica of the five fails them); W=R=Q and W=1, R=1 lose
  about 18% of each, 1-2% outside faults.
* Consistency: the rule W + R > N ("保证强一致性") does not make the guide's
  store consistent. Every seed-variant row is caught non-linearizable, the
  W + R > N rows included (W=N, R=1 in 10 of 10, W=R=Q in 8 of 10): reads of
  writes that reported failure (a write that reached fewer than W replicas
  stays on those it reached), stale reads and reads flipping between values
  under wall-clock last write wins. W=1, R=1 (10 of 10) is caught hardly more
  often; the linearizability checker reports one anomaly per invalid run, so
  anom/1k is a floor here, not a rate of lost data (the set table below is).
* ABD with W + R > N: linearizable in 10 of 10. ABD with W + R <= N cannot be
  measured: its node refuses to start (targets/quorum_store/server.py), so
  the issue's "W + R <= N caught for ABD" needs an opt-in there first.
* vclock (the guide's section 4.3 on the same store) returns siblings as a
  register's value, which a register never held: caught in 10 of 10, as a
  register should be; it is a design for sets (``--workload set``).

The first, shorter run (3 seeds x 20 s, same command with ``--seeds 3
--time-limit 20``) gave the same picture: seed rows caught in 2-3 of 3 (one
W=N, R=1 run unknown: its checker could not be built, a change to the shared
tree half-written when it started), abd W=R=Q 0 of 3, W=N writes 91% and R=N
reads 96% not ok under faults.

Set workload (adds of unique elements to 3 keys by client read-modify-write on
seed and abd, merged operations on vclock; ``set-full``; ``lost`` = an element
known to be in the set, by its acknowledged add or a read, missing from every
later read), 5 seeds x 20 s, the abd W+R<=N row left out (``python
bench/bench_quorum_table.py --workload set --seeds 5 --time-limit 20 --rows ...``
with the six other rows, 2026-12-01, 11 min)::

    row                anomalous   anom/1k   not ok in faults    reads   writes   outside   read p50/p99 ms   write p50/p99 ms
    W=N, R=1              5 of 5    105.36              70.8%    21.7%    82.9%      7.4%         4.6 / 132         19.5 / 287
        anomalies: lost 829
    W=1, R=N              5 of 5     63.46              82.4%    83.1%    82.3%      6.6%         9.6 / 112         14.9 / 203
        anomalies: lost 510
    W=R=Q                 5 of 5     83.34              19.7%    19.3%    19.9%      0.7%         7.9 / 129         18.1 / 231
        anomalies: lost 712
    W=1, R=1              5 of 5    189.66              19.0%    19.2%    18.9%      0.4%         4.9 / 187         10.5 / 231
        anomalies: lost 1603
    abd W=R=Q             5 of 5    140.05              19.8%    19.7%    19.8%      0.8%         8.6 / 103         23.5 / 207
        anomalies: lost 1226
    vclock W=R=Q          0 of 5      0.00              17.4%    16.9%    17.5%      0.5%         9.1 / 186         15.1 / 170

* Every W/R configuration of the guide's store loses acknowledged adds in
  every run, 100 to 320 a run: a read-modify-write that read an older set
  writes it back over adds made meanwhile, whatever W and R are. W=1, R=1
  loses the most (190 per 1,000 ops, against 83 for W=R=Q); W + R > N does not
  stop it. ABD with W + R > N loses adds too (140 per 1,000 ops): a
  linearizable register does not make read-modify-write atomic. vclock
  (server-side merge of concurrent versions) loses none, in 5 of 5.
* On a set, W=1, R=N is as unavailable for adds as for reads (82% of the adds
  invoked under a fault not ok): an add reads first, with R=N. A 3 x 20 s run
  earlier gave the same verdicts in every row (seed and abd rows 3 of 3, vclock
  0 of 3).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "suites" / "quorum-table.toml"
ANY_VERDICT = ["valid", "invalid", "unknown"]


# --- the suite to run ----------------------------------------------------------

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON's escapes are TOML's basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML for {v!r}")


def _toml(doc: Mapping[str, Any]) -> str:
    """A suite document as TOML: ``[suite]``, ``[defaults]`` and ``[[entry]]`` tables of plain values."""
    out: list[str] = []
    for name in ("suite", "defaults"):
        if doc.get(name):
            out.append(f"[{name}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in doc[name].items()]
            out.append("")
    for entry in doc.get("entry", []):
        out.append("[[entry]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
        out.append("")
    return "\n".join(out)


def sweep_suite(base: Mapping[str, Any], *, seeds: Sequence[int], time_limit: float, nemesis: str,
                nemesis_interval: float, workload: str, backend: str, rows: Sequence[str] | None,
                options: Mapping[str, str]) -> dict[str, Any]:
    """``base`` (the suite file's document) with this sweep's seeds, time, faults, workload and rows.

    The ABD rows keep their expected verdicts on the register workload only: on
    another workload (a read-modify-write set, say) whether ABD loses data is
    the figure, not a gate.
    """
    entries = [dict(e) for e in base.get("entry", []) if rows is None or e.get("row") in rows]
    if rows is not None:
        missing = [r for r in rows if r not in {e.get("row") for e in entries}]
        if missing:
            raise SystemExit(f"error: no row {missing[0]!r} in {SUITE}; rows: "
                             + ", ".join(repr(e.get("row")) for e in base.get("entry", [])))
    for e in entries:
        if workload != "register":
            e["expect"] = ANY_VERDICT
        if options:
            e["options"] = {**e.get("options", {}), **options}
    defaults = {**base.get("defaults", {}), "seed": list(seeds), "time_limit": time_limit, "nemesis": nemesis,
                "nemesis_interval": nemesis_interval, "workload": workload, "backend": backend}
    suite = dict(base.get("suite", {}))
    suite["name"] = f"quorum-table-{workload}"
    return {"suite": suite, "defaults": defaults, "entry": entries}


def refused_rows(doc: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``doc`` without the rows whose settings ``splitbrain run`` refuses, and why each was refused."""
    from harness.commands.run import resolve

    kept, refused = [], {}
    for e in doc["entry"]:
        m = {**doc["defaults"], **e}
        try:
            resolve(m["target"], variant=m.get("variant"), workload=m.get("workload"), backend=m["backend"],
                    nemesis=m["nemesis"], options={k: str(v) for k, v in (m.get("options") or {}).items()})
        except ValueError as err:
            refused[e["row"]] = str(err)
            continue
        kept.append(e)
    return {**doc, "entry": kept}, refused


# --- the table -------------------------------------------------------------------

def _pct(s: Mapping[str, Any] | None) -> str:
    v = (s or {}).get("value")
    return "-" if v is None else f"{100 * v:.1f}%"


def _ms(a: float | None, b: float | None) -> str:
    f = lambda v: "-" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}"  # noqa: E731
    return f"{f(a)} / {f(b)}"


def _last_line(error: str) -> str:
    """The line of a run's error that says why (a node's log tail ends with its refusal)."""
    lines = [x.strip() for x in error.splitlines() if x.strip()]
    return (lines[-1] if lines else error)[:240]


HEADER = ("row", "anomalous", "anom/1k", "not ok in faults", "reads", "writes", "outside",
          "read p50/p99 ms", "write p50/p99 ms")


def table(sweep: Mapping[str, Any], claims: Mapping[str, str], refused: Mapping[str, str]) -> str:
    """The text table: a line of figures per row, the guide's claim under it."""
    lines = []
    widths = (14, 12, 8, 17, 7, 7, 8, 16, 17)
    fmt = lambda cells: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    lines.append(fmt(HEADER))
    by_row = {r["row"]: r for r in sweep.get("rows", [])}
    for row, claim in claims.items():
        r = by_row.get(row)
        if r is None:
            lines.append(fmt((row, "refused" if row in refused else "not run", "", "", "", "", "", "", "")))
            if row in refused:
                lines.append(f"    refused: {refused[row]}")
        else:
            note = "".join(f" +{n}{tag}" for n, tag in ((r["unknown"], "?"), (r["errors"], "!")) if n)
            per_1k = "-" if r["anomalies_per_1k_ops"] is None else f"{r['anomalies_per_1k_ops']:.2f}"
            lines.append(fmt((row, f"{r['anomalous']} of {r['runs']}{note}", per_1k, _pct(r["not_ok_in_fault"]),
                              _pct(r["reads_not_ok_in_fault"]), _pct(r["writes_not_ok_in_fault"]),
                              _pct(r["not_ok_outside"]), _ms(r["read_p50_ms"], r["read_p99_ms"]),
                              _ms(r["write_p50_ms"], r["write_p99_ms"]))))
            if r.get("anomaly_kinds"):
                lines.append("    anomalies: " + ", ".join(f"{k} {n}" for k, n in sorted(r["anomaly_kinds"].items())))
            why = next((x["error"] for x in sweep.get("runs", []) if x["row"] == row and x["verdict"] not in
                        ("valid", "invalid", "unknown") and x.get("error")), None)
            if why:
                lines.append(f"    not performed ({r['errors']}): {_last_line(why)}")
        lines.append(f"    claim: {claim}")
    lines.append("anomalous: runs with an invalid verdict of K (+N? unknown, +N! not performed); anom/1k: "
                 "anomalies per 1,000 ops; not ok: failed or timed out, of the ops invoked while a fault was "
                 "in effect (outside: while none was); latencies of ok ops, the row's runs pooled")
    return "\n".join(lines)


def rebuild(sweep: Mapping[str, Any]) -> dict[str, Any]:
    """``sweep`` with its rows computed again from the run folders of its runs (after a change to
    :mod:`harness.sweep_stats`); runs without a folder keep their verdict and no ops."""
    from harness.history import read_jsonl
    from harness.sweep_stats import run_figures, sweep_rows

    claims = {r["row"]: r.get("claim", "") for r in sweep.get("rows", [])}
    labelled = []
    for run in sweep.get("runs", []):
        folder = Path(run["run_dir"]) if run.get("run_dir") else None
        if folder is not None and (folder / "results.json").exists():
            results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            history = folder / "history.jsonl"
            ops = read_jsonl(history, tolerate_torn_tail=True).operations if history.exists() else ()
            fig = run_figures(ops, results)
        else:
            fig = run_figures((), {}, verdict=run["verdict"])
        labelled.append((run["row"], claims.get(run["row"], ""), fig))
    return {**sweep, "rows": [r.to_json() for r in sweep_rows(labelled)]}


# --- the command -------------------------------------------------------------------

def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="K: seeds 1..K per row (default 5)")
    p.add_argument("--seed-list", default=None, help="the seeds instead, e.g. 11-20 or 1,4,9")
    p.add_argument("--time-limit", type=float, default=20.0, help="T: seconds per run (default 20)")
    p.add_argument("--nemesis", default="partition,kill", help="faults, as --nemesis takes them")
    p.add_argument("--nemesis-interval", type=float, default=3.0, help="seconds between faults (default 3)")
    p.add_argument("--workload", default="register", help="register (default), or set once the target has it")
    p.add_argument("--backend", default="netns", help="backend (default netns)")
    p.add_argument("--rows", action="append", default=None, help="only this row (repeatable), e.g. 'W=1, R=1'")
    p.add_argument("--option", action="append", default=[], metavar="K=V", help="one more --option for every row")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (default 1: the machine is shared)")
    p.add_argument("--store", default="histories", help="run store (default histories)")
    p.add_argument("--out", type=Path, default=None, help="summary folder [default STORE/suites/quorum-table-...]")
    p.add_argument("--table", type=Path, default=None, help="print the table of this sweep.json, run nothing")
    p.add_argument("--rebuild", action="store_true",
                   help="with --table: compute the rows again from the run folders it names (and save them)")
    a = p.parse_args(argv)
    base = tomllib.loads(SUITE.read_text(encoding="utf-8"))
    claims = {e["row"]: e.get("claim", "") for e in base["entry"]}
    if a.table is not None:
        sweep = json.loads(a.table.read_text(encoding="utf-8"))
        if a.rebuild:
            sweep = rebuild(sweep)
            a.table.write_text(json.dumps(sweep, indent=2), encoding="utf-8")
        print(table(sweep, {r["row"]: claims.get(r["row"], r.get("claim", "")) for r in sweep["rows"]}, {}))
        return 0
    options = dict(o.split("=", 1) for o in a.option)
    seeds = _seeds(a.seed_list) if a.seed_list else list(range(1, a.seeds + 1))
    doc = sweep_suite(base, seeds=seeds, time_limit=a.time_limit, nemesis=a.nemesis,
                      nemesis_interval=a.nemesis_interval, workload=a.workload, backend=a.backend,
                      rows=a.rows, options=options)
    doc, refused = refused_rows(doc)
    claims = {e["row"]: e.get("claim", "") for e in base["entry"] if a.rows is None or e["row"] in a.rows}
    out = a.out or Path(a.store) / "suites" / f"quorum-table-{a.workload}-{_dt.datetime.now():%Y%m%dT%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    for row, why in refused.items():
        print(f"row {row!r} refused before any run: {why}")
    code = 0
    if doc["entry"]:
        suite_file = out / "quorum-table.toml"
        suite_file.write_text(_toml(doc), encoding="utf-8")
        print(f"{len(doc['entry'])} row(s) x {len(seeds)} seed(s) x {a.time_limit:g} s, {a.workload} workload, "
              f"{a.nemesis} every {a.nemesis_interval:g} s on {a.backend}; suite {suite_file}", flush=True)
        code = subprocess.call([sys.executable, "-m", "harness.cli", "suite", str(suite_file), "--jobs",
                                str(a.jobs), "--store", a.store, "--out", str(out)], cwd=ROOT)
    sweep_json = out / "sweep.json"
    sweep = json.loads(sweep_json.read_text(encoding="utf-8")) if sweep_json.exists() else {"rows": []}
    print()
    print(f"the guide's quorum table (section 4.4), measured: {a.workload} workload, {a.nemesis} every "
          f"{a.nemesis_interval:g} s, seeds {seeds[0]}-{seeds[-1]} x {a.time_limit:g} s, {a.backend}")
    print(table(sweep, claims, refused))
    print(f"page: {out / 'index.html'}\nfigures: {sweep_json}")
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    sys.exit(main())
