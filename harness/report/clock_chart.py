"""The clock chart: each skewed node's clock offset over time, from the history's clock events.

Drawn only when the run had the clock nemesis (:mod:`nemesis.clock`): one
step line per node that a clock op touched, its offset from the host's clock
in ms (:func:`harness.clock_offsets.clock_spans`, the same reading the
linearizability explanation quotes). Where the offset is only known within a
range (while a skew was being applied, through a strobe) the line shows the
top of the range and a dotted line of the same colour the bottom. Fault
windows are shaded as on the other charts.
"""

from __future__ import annotations

from typing import Any, Sequence

from harness.clock_offsets import clock_spans
from harness.history import History
from harness.report.charts import Axis, _fault_legend, _layout
from harness.report.faults import FaultWindow

__all__ = ["clock_figure"]

_COLORS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457")


def clock_figure(history: History, windows: Sequence[FaultWindow], axis: Axis) -> dict[str, Any] | None:
    """A Plotly figure of per-node offsets; ``None`` without clock ops or times."""
    if not axis.timed:
        return None
    spans = clock_spans(history.nemesis)
    if not spans:
        return None
    end_ns = max((op.time for op in history.ops if op.time is not None), default=0)
    traces: list[dict[str, Any]] = []
    for i, (node, ss) in enumerate(sorted(spans.items())):
        color = _COLORS[i % len(_COLORS)]
        xs: list[Any] = []
        hi: list[float] = []
        lo: list[float] = []
        for s in ss:
            stop = s.end_ns if s.end_ns is not None else max(end_ns, s.start_ns)
            xs += [axis.x(s.start_ns), axis.x(stop)]
            hi += [s.hi_ms, s.hi_ms]
            lo += [s.lo_ms, s.lo_ms]
        traces.append({"type": "scatter", "mode": "lines", "name": node, "x": xs, "y": hi, "legendgroup": node,
                       "line": {"color": color, "width": 2},
                       "hovertemplate": f"{node}: %{{y:+.0f}} ms<extra></extra>"})
        if lo != hi:
            traces.append({"type": "scatter", "mode": "lines", "name": f"{node} (range low)", "x": xs, "y": lo,
                           "legendgroup": node, "showlegend": False,
                           "line": {"color": color, "width": 1, "dash": "dot"},
                           "hovertemplate": f"{node}: from %{{y:+.0f}} ms<extra></extra>"})
    traces += _fault_legend(windows)
    layout = _layout(axis, windows, yaxis={"title": {"text": "clock offset (ms)"}, "zeroline": True})
    return {"data": traces, "layout": layout}
