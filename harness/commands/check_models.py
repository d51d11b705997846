"""``splitbrain check FILE --model M`` for the models of :data:`checkers.catalog.CATALOG`.

Transactional, set, counter, bank and queue histories. Besides ``.jsonl`` and
``.edn`` it reads elle-cli's JSON layout (a ``.json`` file holding one JSON
array of op objects; fields other than Jepsen's op fields are ignored). The
summary names the verdict, the anomaly types, for transactional models the
strongest models still satisfied and the weakest violated, and then each
anomaly's explanation; ``--json`` prints the whole result instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from checkers.api import CheckResult, check_safe
from checkers.catalog import CATALOG, Options
from harness.history import History, HistoryError, op_from_json

__all__ = ["check_model", "load_any"]

_OP_FIELDS = ("index", "time", "process", "type", "f", "value", "node", "error")


def load_any(path: Path) -> History:
    """``load_history``, plus elle-cli's JSON array of op objects."""
    from harness.formats import load_history

    if path.suffix.lower() == ".json":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise HistoryError(f"cannot read: {e}", file=path) from None
        if text.lstrip().startswith("["):
            return _json_array(path, text)
    return load_history(path)


def _json_array(path: Path, text: str) -> History:
    dec = json.JSONDecoder()
    i = text.index("[") + 1
    ops, lines = [], []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text):
            raise HistoryError("the JSON array is not closed", file=path, line=text.count("\n") + 1)
        if text[i] == "]":
            break
        line = text.count("\n", 0, i) + 1
        try:
            d, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise HistoryError(f"not JSON: {e.msg}", file=path, line=text.count("\n", 0, e.pos) + 1) from None
        if isinstance(d, dict):
            d = {k.lstrip(":"): v for k, v in d.items() if k.lstrip(":") in _OP_FIELDS}
            for f in ("type", "f", "process"):
                if isinstance(d.get(f), str):
                    d[f] = d[f].lstrip(":")
            if isinstance(d.get("value"), list):   # micro-ops written with keyword colons
                d["value"] = [[_bare(m[0]), _bare(m[1]), *m[2:]] if isinstance(m, list) and len(m) >= 2 else m
                              for m in d["value"]]
        ops.append(op_from_json(d, file=path, line=line, default_index=len(ops)))
        lines.append(line)
    return History.of(ops, source=path, lines=lines)


def _bare(x: Any) -> Any:
    return x[1:] if isinstance(x, str) and x.startswith(":") else x


def check_model(path: Path, model: str, options: Options, json_output: bool) -> int:
    """Check ``path`` with the catalog's ``model``; print; return the exit code."""
    try:
        checker = CATALOG[model].make(options)
        result = check_safe(checker, load_any(path))
    except (HistoryError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if json_output:
        click.echo(json.dumps({"model": model, **result.to_json()}, default=repr))
    else:
        _summary(path, model, result)
    return result.verdict.exit_code


def _summary(path: Path, model: str, r: CheckResult) -> None:
    s: dict[str, Any] = dict(r.stats)
    word = {"valid": "valid", "invalid": "INVALID", "unknown": "unknown"}[r.verdict.value]
    models = s.get("models")
    under = f" under {', '.join(models)}" if models else ""
    size = f", {s['txns']} txns" if "txns" in s else ""
    click.echo(f"{path}: {word} as {model}{under}{size}")
    if r.error:
        click.echo(f"  {r.error}")
    if s.get("anomaly_types"):
        counts = ", ".join(f"{k} x{s['counts'][k]}" for k in s["anomaly_types"])
        click.echo(f"  anomalies: {counts}")
    if s.get("allowed_anomaly_types"):
        click.echo(f"  also found, allowed by the model: {', '.join(s['allowed_anomaly_types'])}")
    if "satisfies" in s and (s.get("anomaly_types") or s.get("allowed_anomaly_types")):
        click.echo(f"  still satisfies: {', '.join(s['satisfies']) or 'none of the models'}; "
                   f"violates: {', '.join(s['violates']) or 'none'}")
    for a in r.anomalies:
        click.echo(f"  - {a.kind}: {a.summary}" if not a.summary.startswith(a.kind) else f"  - {a.summary}")
        text = a.data.get("text")
        if text:
            for line in str(text).splitlines():
                click.echo(f"      {line}")
