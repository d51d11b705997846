"""``write_index(store_root)``: ``histories/index.html`` listing every run.

The store layout is ``<store_root>/<target>/<run>/results.json``
(``docs/DESIGN.md``, run store). Each row gives the target, variant, seed,
nemesis, duration, operations, verdict, start time and a relative link to the run's report (or its
results.json when no report was written yet), newest first; the store's
``latest`` symlinks are not listed twice. Run folders with
an unreadable results.json are listed as such rather than hidden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.report.render import REPORT, make_env, verdict_name
from harness.report.rundata import RESULTS, write_text_atomic

__all__ = ["INDEX", "IndexRow", "scan_runs", "write_index"]

INDEX = "index.html"


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexRow:
    """One run as listed in the index; ``link`` is relative to the store root."""

    target: str
    run: str
    variant: str
    seed: str
    verdict: str
    started_at: str
    anomalies: int
    link: str
    has_report: bool
    problem: str | None = None
    nemesis: str = ""
    duration_s: str = ""
    ops: str = ""
    status: str = ""


def _row(store_root: Path, results_path: Path) -> IndexRow:
    run_dir = results_path.parent
    rel = run_dir.relative_to(store_root).as_posix()
    has_report = (run_dir / REPORT).exists()
    link = f"{rel}/{REPORT if has_report else RESULTS}"
    base = dict(target=run_dir.parent.name, run=run_dir.name, link=link, has_report=has_report)
    try:
        d: Any = json.loads(results_path.read_text(encoding="utf-8"))
        if not isinstance(d, dict):
            raise ValueError(f"expected an object, got {type(d).__name__}")
    except (OSError, ValueError) as e:
        return IndexRow(**base, variant="", seed="", verdict="unknown", started_at="", anomalies=0,
                        problem=f"unreadable results.json: {e}")
    checkers = d.get("checkers", {})
    n = sum(len(c.get("anomalies", ()) or ()) for c in checkers.values() if isinstance(c, dict)) \
        if isinstance(checkers, dict) else 0
    stats = d.get("stats") if isinstance(d.get("stats"), dict) else {}
    nemesis = d.get("nemesis")
    nemesis = " ".join(str(x) for x in nemesis) if isinstance(nemesis, list) else str(nemesis or "")
    status = str(d.get("status") or "")
    return IndexRow(**base, variant=str(d.get("variant", "") or ""), seed=str(d.get("seed", "") or ""),
                    verdict=verdict_name(d.get("valid")), started_at=str(d.get("started_at", "") or ""),
                    anomalies=n, nemesis=nemesis or "none",
                    duration_s="" if stats.get("duration_s") is None else str(stats["duration_s"]),
                    ops="" if stats.get("ops") is None else str(stats["ops"]),
                    status="" if status in ("done", "") else status)


def scan_runs(store_root: str | Path) -> list[IndexRow]:
    """Every ``<target>/<run>/results.json`` under ``store_root``, newest first."""
    root = Path(store_root)
    rows = [_row(root, p) for p in root.glob(f"*/*/{RESULTS}")
            if p.is_file() and not p.parent.is_symlink() and not p.parent.name.startswith(".")]
    rows.sort(key=lambda r: (r.started_at, r.run), reverse=True)
    return rows


def write_index(store_root: str | Path) -> Path:
    """Write ``store_root/index.html`` listing every run; return its path."""
    root = Path(store_root)
    rows = scan_runs(root)
    page = make_env().get_template("index.html.j2").render(rows=rows, root=root.name)
    path = root / INDEX
    write_text_atomic(path, page)
    return path
