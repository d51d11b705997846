"""The shared reference corpus: where it is, its manifest, and how to check each row.

The per-source conventions come from ``shared/corpus/README.md``: Porcupine's
etcd registers start as nil and a nil read means "still nil"; Knossos's
cas-register files start at 0 and an ok read of nil carries no information;
the multi-register starts at {:x 0 :y 0} with nil reads unknown; kv keys
start as "". Used by the corpus tests and by ``bench/bench_linearizability.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from checkers.api import Verdict
from checkers.linearizability import Linearizability

__all__ = ["CORPUS", "EXPECTED", "checker_for", "manifest_rows"]

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")

EXPECTED = {"linearizable": Verdict.VALID, "not-linearizable": Verdict.INVALID, "unknown": Verdict.UNKNOWN}


def manifest_rows(corpus: Path = CORPUS) -> list[dict[str, str]]:
    """The rows of ``MANIFEST.tsv`` (empty when the corpus is not there)."""
    path = corpus / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def checker_for(row: dict[str, str]) -> Linearizability:
    """The checker options the corpus README prescribes for a row."""
    kw: dict[str, Any] = {"model": row["model"]}
    if row["model"] == "cas-register":
        knossos = row["source"] == "knossos"
        kw.update(init=0 if knossos else None, nil_read_unknown=knossos)
    elif row["model"] == "multi-register":
        kw.update(init={"x": 0, "y": 0}, nil_read_unknown=True)
    return Linearizability(**kw, timeout_s=60)
