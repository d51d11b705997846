"""The run-wide charts: operations per process, latency, throughput.

Figures are plain Plotly figure dicts (``{"data": [...], "layout": {...}}``)
built here and drawn by plotly.js in the browser: building ``plotly.graph_objects``
would validate every one of 100,000 points in Python for nothing. Large traces
use ``scattergl``.

The x axis is seconds since the run began when the history has times, else the
event index (imported histories without times). Fault windows are shaded on
every chart the same way (:func:`fault_shapes`).

Size budget (issue 5: a 100,000-op history must give a page under 20 MB that
opens in a few seconds): latency keeps one point per operation up to
:data:`MAX_LATENCY_POINTS`; the per-process timeline keeps at most
:data:`MAX_TIMELINE_OPS` operations, all the failed, indeterminate and
anomaly-named ones first, then every k-th ok one, and says so (:class:`Timeline`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from harness.history import History, Operation
from harness.notation import value_text
from harness.report.embed import plot_text
from harness.report.faults import FaultWindow

__all__ = [
    "Axis",
    "MAX_LATENCY_POINTS",
    "MAX_TIMELINE_OPS",
    "STATUS_COLORS",
    "Timeline",
    "axis_for",
    "fault_shapes",
    "mark_anomalies",
    "latency_figure",
    "quantile",
    "throughput_figure",
    "timeline_figure",
]

MAX_TIMELINE_OPS = 20_000
MAX_LATENCY_POINTS = 150_000
N_BINS = 120

STATUS_COLORS = {"ok": "#2e7d32", "fail": "#c62828", "info": "#ef6c00"}
FAULT_COLORS = {"partition": "rgba(156,39,176,0.13)", "kill": "rgba(198,40,40,0.12)",
                "pause": "rgba(21,101,192,0.12)"}
_FAULT_DEFAULT = "rgba(97,97,97,0.12)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Axis:
    """How events map to the x axis: seconds since start, or event index."""

    timed: bool
    end: int  # position (ns or index) of the last event

    @property
    def title(self) -> str:
        return "time since start (s)" if self.timed else "event index (history has no times)"

    def x(self, position: int) -> float:
        return round(position / 1e9, 6) if self.timed else float(position)


def axis_for(history: History) -> Axis:
    """Seconds if every event has a time, else indices."""
    timed = bool(history.ops) and all(op.time is not None for op in history.ops)
    if not history.ops:
        return Axis(timed=False, end=0)
    last = history.ops[-1]
    return Axis(timed=timed, end=(max(op.time for op in history.ops) if timed else last.index))  # type: ignore[type-var]


def _pos(axis: Axis, op_time: int | None, op_index: int) -> int:
    return op_time if (axis.timed and op_time is not None) else op_index


def op_span(axis: Axis, o: Operation) -> tuple[int, int]:
    """Start and end positions of an operation; never-completed ops run to the end."""
    start = _pos(axis, o.invoke.time, o.invoke.index)
    if o.completion is None:
        return start, axis.end
    return start, _pos(axis, o.completion.time, o.completion.index)


def fault_shapes(windows: Sequence[FaultWindow], axis: Axis) -> list[dict[str, Any]]:
    """Plotly layout shapes shading each fault window over the whole plot height."""
    return [{
        "type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1,
        "x0": axis.x(w.start), "x1": axis.x(w.end if w.end is not None else axis.end),
        "fillcolor": FAULT_COLORS.get(w.kind, _FAULT_DEFAULT), "line": {"width": 0}, "layer": "below",
    } for w in windows]


def mark_anomalies(figure: dict[str, Any], marks: Sequence[tuple[str, int]], axis: Axis) -> None:
    """Add a dashed vertical line per ``(label, position)`` to ``figure`` (in place, before embedding)."""
    layout = figure["layout"]
    for label, pos in marks:
        x = axis.x(pos)
        layout.setdefault("shapes", []).append({
            "type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
            "line": {"color": "#b71c1c", "width": 1.5, "dash": "dash"}})
        layout.setdefault("annotations", []).append({
            "x": x, "xref": "x", "y": 1, "yref": "paper", "yanchor": "bottom", "showarrow": False,
            "text": label, "font": {"color": "#b71c1c", "size": 11}})


def _fault_legend(windows: Sequence[FaultWindow]) -> list[dict[str, Any]]:
    """Legend entries for the shaded kinds (shapes have no legend of their own)."""
    kinds = sorted({w.kind for w in windows})
    return [{"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": f"{k} window",
             "marker": {"symbol": "square", "size": 14, "color": FAULT_COLORS.get(k, _FAULT_DEFAULT)},
             "hoverinfo": "skip"} for k in kinds]


def _layout(axis: Axis, windows: Sequence[FaultWindow], **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 30, "b": 45},
        "xaxis": {"title": {"text": axis.title}, "zeroline": False},
        "shapes": fault_shapes(windows, axis),
        "legend": {"orientation": "h", "y": 1.12},
        "hovermode": "closest",
    }
    layout.update(extra)
    return layout


# --- per-process timeline -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    """The timeline figure and what was left out of it."""

    figure: dict[str, Any]
    shown: int
    total: int
    odd_stride: int  # failed and indeterminate ops: 1 = all shown, k = every k-th, 0 = none
    ok_stride: int   # ok ops, likewise

    @property
    def downsampled(self) -> bool:
        return self.shown < self.total

    @property
    def n_processes(self) -> int:
        return len(self.figure["layout"]["yaxis"].get("categoryarray", []))


def _sample(operations: Sequence[Operation], keep: set[int],
            budget: int) -> tuple[list[Operation], int, int]:
    """At most ``budget`` ops, in order: every ``keep``-named op; then failed and
    indeterminate ones; then ok ones; each later group thinned to every k-th op.

    Returns the ops and the strides of the failed/indeterminate and ok groups
    (1 = all kept, 0 = none).
    """
    if len(operations) <= budget:
        return list(operations), 1, 1
    named = [o for o in operations if o.invoke.index in keep]
    odd = [o for o in operations if o.invoke.index not in keep and o.status != "ok"]
    ok = [o for o in operations if o.invoke.index not in keep and o.status == "ok"]

    def thin(group: list[Operation], room: int) -> tuple[list[Operation], int]:
        if len(group) <= room:
            return group, 1
        if room <= 0:
            return [], 0
        stride = math.ceil(len(group) / room)
        return group[::stride], stride

    odd, odd_stride = thin(odd, budget - len(named))
    ok, ok_stride = thin(ok, budget - len(named) - len(odd))
    chosen = {id(o) for o in (*named, *odd, *ok)}
    return [o for o in operations if id(o) in chosen], odd_stride, ok_stride


def timeline_figure(history: History, windows: Sequence[FaultWindow], axis: Axis, *,
                    highlight: Iterable[int] = (), budget: int = MAX_TIMELINE_OPS) -> Timeline:
    """One lane per process; a bar per operation from invocation to completion.

    ``highlight`` holds event indices named by anomalies: those operations are
    always kept and drawn with a black outline marker.
    """
    hl = set(highlight)
    by_event = {}
    for o in history.operations:
        by_event[o.invoke.index] = o.invoke.index
        if o.completion is not None:
            by_event[o.completion.index] = o.invoke.index
    keep = {by_event[i] for i in hl if i in by_event}
    ops, odd_stride, ok_stride = _sample(history.operations, keep, budget)
    procs = sorted({o.process for o in history.operations}, key=lambda p: (isinstance(p, str), p))
    lane = {p: f"p{p}" for p in procs}
    traces: list[dict[str, Any]] = []
    for status in ("ok", "fail", "info"):
        xs: list[float | None] = []
        ys: list[str | None] = []
        mx: list[float] = []
        my: list[str] = []
        cd: list[list[Any]] = []
        for o in ops:
            if o.status != status:
                continue
            s, e = op_span(axis, o)
            xs += [axis.x(s), axis.x(e), None]
            ys += [lane[o.process], lane[o.process], None]
            mx.append(axis.x(s))
            my.append(lane[o.process])
            cd.append([o.invoke.index, plot_text(o.f, limit=40), plot_text(value_text(o.value), limit=60)])
        if not mx:
            continue
        color = STATUS_COLORS[status]
        traces.append({"type": "scattergl", "mode": "lines", "x": xs, "y": ys, "name": status,
                       "legendgroup": status, "line": {"color": color, "width": 6}, "hoverinfo": "skip"})
        traces.append({"type": "scattergl", "mode": "markers", "x": mx, "y": my, "name": status,
                       "legendgroup": status, "showlegend": False, "customdata": cd,
                       "marker": {"color": color, "size": 4, "symbol": "line-ns-open"},
                       "hovertemplate": "op %{customdata[0]} %{customdata[1]} %{customdata[2]}"
                                        "<br>" + status + "<extra></extra>"})
    marked = [o for o in ops if o.invoke.index in keep]
    if marked:
        traces.append({"type": "scattergl", "mode": "markers", "name": "named by an anomaly",
                       "x": [axis.x(op_span(axis, o)[0]) for o in marked],
                       "y": [lane[o.process] for o in marked],
                       "customdata": [o.invoke.index for o in marked],
                       "marker": {"color": "black", "size": 9, "symbol": "x"},
                       "hovertemplate": "op %{customdata} (named by an anomaly)<extra></extra>"})
    traces += _fault_legend(windows)
    layout = _layout(axis, windows, yaxis={"title": {"text": "process"}, "type": "category",
                                           "categoryorder": "array",
                                           "categoryarray": [lane[p] for p in procs]})
    return Timeline(figure={"data": traces, "layout": layout}, shown=len(ops),
                    total=len(history.operations), odd_stride=odd_stride, ok_stride=ok_stride)


# --- latency and throughput -----------------------------------------------------


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted, non-empty sequence."""
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def _bins(axis: Axis) -> tuple[int, float]:
    width = max(1.0, axis.end / N_BINS)
    return N_BINS, width


def latency_figure(history: History, windows: Sequence[FaultWindow], axis: Axis) -> dict[str, Any] | None:
    """Each completed operation a point (x invocation, y latency ms) by status, with p50/p95/p99 lines.

    ``None`` when the history has no times (latency is undefined without them).
    """
    if not axis.timed:
        return None
    pts: dict[str, tuple[list[float], list[float], list[int]]] = {s: ([], [], []) for s in STATUS_COLORS}
    n_bins, width = _bins(axis)
    per_bin: list[list[float]] = [[] for _ in range(n_bins + 1)]
    completed = [o for o in history.operations if o.completion is not None and o.completion.time is not None]
    stride = max(1, math.ceil(len(completed) / MAX_LATENCY_POINTS))
    for i, o in enumerate(completed):
        t0 = o.invoke.time or 0
        lat_ms = max(0.0, (o.completion.time - t0) / 1e6)  # type: ignore[union-attr, operator]
        per_bin[min(n_bins, int(t0 / width))].append(lat_ms)
        if i % stride == 0 or o.status != "ok":
            xs, ys, idx = pts[o.status]
            xs.append(axis.x(t0))
            ys.append(round(lat_ms, 3))
            idx.append(o.invoke.index)
    traces: list[dict[str, Any]] = []
    for status, (xs, ys, idx) in pts.items():
        if xs:
            traces.append({"type": "scattergl", "mode": "markers", "name": status, "x": xs, "y": ys,
                           "customdata": idx, "marker": {"color": STATUS_COLORS[status], "size": 5 if len(completed) < 5000 else 3,
                                                         "opacity": 0.6},
                           "hovertemplate": "op %{customdata}: %{y:.2f} ms<extra>" + status + "</extra>"})
    for q, dash in ((0.5, "solid"), (0.95, "dash"), (0.99, "dot")):
        qx: list[float] = []
        qy: list[float] = []
        for b, vals in enumerate(per_bin):
            if vals:
                vals.sort()
                qx.append(axis.x(int((b + 0.5) * width)))
                qy.append(round(quantile(vals, q), 3))
        traces.append({"type": "scatter", "mode": "lines", "name": f"p{int(q * 100)}", "x": qx, "y": qy,
                       "line": {"color": "#212121", "width": 1.5, "dash": dash}})
    traces += _fault_legend(windows)
    layout = _layout(axis, windows, yaxis={"title": {"text": "latency (ms)"}, "type": "log"})
    if stride > 1:
        layout["title"] = {"text": f"every {stride}th ok op shown; quantiles use all", "font": {"size": 12}}
    return {"data": traces, "layout": layout}


def throughput_figure(history: History, windows: Sequence[FaultWindow], axis: Axis) -> dict[str, Any] | None:
    """Completions per second by status, stacked, in :data:`N_BINS` bins; ``None`` without times."""
    if not axis.timed:
        return None
    n_bins, width = _bins(axis)
    counts = {s: [0] * (n_bins + 1) for s in STATUS_COLORS}
    for o in history.operations:
        if o.completion is not None and o.completion.time is not None:
            counts[o.status][min(n_bins, int(o.completion.time / width))] += 1
    xs = [axis.x(int((b + 0.5) * width)) for b in range(n_bins + 1)]
    per_s = 1e9 / width
    traces: list[dict[str, Any]] = [
        {"type": "bar", "name": s, "x": xs, "y": [round(c * per_s, 2) for c in counts[s]],
         "marker": {"color": STATUS_COLORS[s]}, "hovertemplate": "%{y:.1f} ops/s<extra>" + s + "</extra>"}
        for s in STATUS_COLORS if any(counts[s])]
    traces += _fault_legend(windows)
    layout = _layout(axis, windows, barmode="stack", bargap=0,
                     yaxis={"title": {"text": "completions / s"}})
    return {"data": traces, "layout": layout}
