"""Anomalies as plain text for the terminal: the cause first, then its witness, then the search's detail.

Both ``splitbrain check`` and the verdict ``splitbrain run`` prints at the end
render an anomaly's JSON (:meth:`checkers.api.Anomaly.to_json`) through
:func:`anomaly_lines`, so the terminal says what ``results.json`` and the
report say, in the same notation (:func:`harness.notation.value_text`); an
anomaly's lane traces (saga orders, 2PC transactions) as the report's event
rows (:func:`harness.report.lanes.trace_lines`).
"""

from __future__ import annotations

from typing import Any, Mapping

from harness.notation import value_text

__all__ = ["anomaly_lines", "op_line"]


def _span(o: Mapping[str, Any]) -> str:
    t0, t1 = o.get("invoke_s"), o.get("complete_s")
    if t0 is None:
        end = o.get("complete_index")
        return f"events {o.get('invoke_index')}..{'' if end is None else end}"
    return f"{t0:.3f}-{'...' if t1 is None else f'{t1:.3f}'} s"


def op_line(o: Mapping[str, Any]) -> str:
    """``[1350] p7 n3 read nil -> 266 (key 8)  ok  7.051-7.054 s``, with the error and role if any."""
    what = o.get("call") or f"{o.get('f')} {value_text(o.get('invoke_value', o.get('value')))}"
    node = f" {o['node']}" if o.get("node") else ""
    line = f"[{o.get('invoke_index')}] p{o.get('process')}{node} {what}  {o.get('type')}  {_span(o)}"
    if o.get("error") is not None:
        err = o["error"] if isinstance(o["error"], str) else value_text(o["error"], 200)
        line += f"  error: {err}"
    if o.get("role"):
        line += f"  <- {o['role']}"
    return line


def anomaly_lines(anomaly: Mapping[str, Any], *, detail: bool = True) -> list[str]:
    """The lines for one anomaly: summary, witness (if any), and with ``detail`` the search's sentence."""
    d = anomaly.get("data") or {}
    lines = [f"{anomaly.get('kind')}: {anomaly.get('summary')}"]
    witness = d.get("witness") if isinstance(d, Mapping) else None
    if isinstance(witness, list) and witness:
        how = "minimal" if d.get("witness_minimal") else "not minimal"
        lines.append(f"  witness ({len(witness)} ops, {how}; real-time order):")
        lines.extend(f"    {op_line(o)}" for o in witness if isinstance(o, Mapping))
    if isinstance(d, Mapping) and d.get("witness_note"):
        lines.append(f"  note: {d['witness_note']}")
    if detail and isinstance(d, Mapping) and d.get("search") and d.get("search") != anomaly.get("summary"):
        lines.append(f"  search: {d['search']}")
    if isinstance(d, Mapping) and isinstance(d.get("explanation"), str):
        lines.append(f"  why: {d['explanation']}")
    if detail and isinstance(d, Mapping) and isinstance(d.get("lanes"), list):  # saga orders, 2PC transactions
        from harness.report.lanes import trace_lines  # the report's rows of the same lane traces

        for t in d["lanes"]:
            if isinstance(t, Mapping):
                lines.extend(f"  {ln}" for ln in trace_lines(t))
    return lines
