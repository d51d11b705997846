"""The run-wide charts: operations per process, latency, throughput.

Figures are plain Plotly figure dicts (``{"data": [...], "layout": {...}}``)
built here and drawn by plotly.js in the browser: building ``plotly.graph_objects``
would validate every one of 100,000 points in Python for nothing. Large traces
use ``scattergl``.

The x axis is seconds since the run began when the history has times, else the
event index (imported histories without times). Fault windows are shaded on
every chart the same way (:func:`fault_shapes`).

Size budget (issue 5: a 100,000-op history must give a page under 20 MB that
opens in a few seconds; issue 15: a 1,000,000-op run's page written in under
15 s and open in under 5 s): the per-process timeline keeps at most
:data:`MAX_TIMELINE_OPS` operations, all the anomaly-named ones first, then the
failed and indeterminate ones, then every k-th ok one, and says so
(:class:`Timeline`); latency keeps at most :data:`MAX_LATENCY_POINTS` points,
every anomaly-named op among them (each chart draws up to :data:`MAX_NAMED_DRAWN`
of those), the rest shared out between the outcomes and
thinned to every k-th op of each (:class:`Sampled`; the quantile lines and the
throughput bars always count every operation). Above :data:`MAX_LANES`
processes (a long run's clients that crashed come back under new numbers) the
timeline packs processes into lanes, one after another, instead of one lane
each. Above :data:`MAX_FAULT_SHAPES` windows the fault bands are one path
shape per kind rather than a rectangle each (what plotly draws slowly).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from harness.history import History, Operation
from harness.notation import value_text
from harness.report.embed import plot_text
from harness.report.faults import FaultWindow

__all__ = [
    "Axis",
    "MAX_FAULT_SHAPES",
    "MAX_LANES",
    "MAX_LATENCY_POINTS",
    "MAX_NAMED_DRAWN",
    "MAX_TIMELINE_OPS",
    "Sampled",
    "STATUS_COLORS",
    "Timeline",
    "axis_for",
    "fault_shapes",
    "mark_anomalies",
    "latency_chart",
    "latency_figure",
    "quantile",
    "share_text",
    "throughput_figure",
    "timeline_figure",
]

MAX_TIMELINE_OPS = 20_000
MAX_LATENCY_POINTS = 60_000
MAX_LANES = 64
MAX_FAULT_SHAPES = 100
MAX_NAMED_DRAWN = 50_000
"""Operations named by anomalies that a chart draws whatever its budget; past it (a hostile or
degenerate results.json naming most of a long history) they are thinned too, and the page says so."""
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
    if not history.ops:
        return Axis(timed=False, end=0)
    times = [op.time for op in history.ops]
    if None in times:
        return Axis(timed=False, end=history.ops[-1].index)
    return Axis(timed=True, end=max(times))  # type: ignore[type-var]


def _pos(axis: Axis, op_time: int | None, op_index: int) -> int:
    return op_time if (axis.timed and op_time is not None) else op_index


def op_span(axis: Axis, o: Operation) -> tuple[int, int]:
    """Start and end positions of an operation; never-completed ops run to the end."""
    start = _pos(axis, o.invoke.time, o.invoke.index)
    if o.completion is None:
        return start, axis.end
    return start, _pos(axis, o.completion.time, o.completion.index)


def fault_shapes(windows: Sequence[FaultWindow], axis: Axis) -> list[dict[str, Any]]:
    """Plotly layout shapes shading each fault window over the whole plot height.

    Up to :data:`MAX_FAULT_SHAPES` windows, a rectangle each; beyond, one path
    shape per kind holding every window of that kind (the same bands: plotly
    lays out and draws each shape on its own, and a thousand take seconds).
    """
    if len(windows) > MAX_FAULT_SHAPES:
        return _band_paths(windows, axis)
    return [{
        "type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1,
        "x0": axis.x(w.start), "x1": axis.x(w.end if w.end is not None else axis.end),
        "fillcolor": FAULT_COLORS.get(w.kind, _FAULT_DEFAULT), "line": {"width": 0}, "layer": "below",
    } for w in windows]


def _band_paths(windows: Sequence[FaultWindow], axis: Axis) -> list[dict[str, Any]]:
    by_kind: dict[str, list[str]] = {}
    for w in windows:
        x0, x1 = axis.x(w.start), axis.x(w.end if w.end is not None else axis.end)
        by_kind.setdefault(w.kind, []).append(f"M{x0},0H{x1}V1H{x0}Z")
    return [{"type": "path", "xref": "x", "yref": "paper", "path": "".join(parts),
             "fillcolor": FAULT_COLORS.get(kind, _FAULT_DEFAULT), "line": {"width": 0}, "layer": "below"}
            for kind, parts in by_kind.items()]


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


# --- sampling -----------------------------------------------------------------


def _stride(n: int, room: int) -> int:
    """Keep every k-th of ``n`` items so that at most ``room`` stay: 1 = all, 0 = none."""
    if n <= room:
        return 1
    return 0 if room <= 0 else math.ceil(n / room)


def _kept(n: int, stride: int) -> int:
    return 0 if stride == 0 else math.ceil(n / stride)


def _shares(counts: Mapping[str, int], room: int) -> dict[str, int]:
    """A stride per group so that the kept items total at most ``room``: equal shares,
    what a small group does not use going to the others (water filling)."""
    left = {k: n for k, n in counts.items() if n}
    strides = {k: 1 for k, n in counts.items() if not n}
    while left:
        share = room // len(left)
        small = {k: n for k, n in left.items() if n <= share}
        if not small:
            strides.update({k: _stride(n, share) for k, n in left.items()})
            break
        for k, n in small.items():
            strides[k] = 1
            room -= n
            del left[k]
    return strides


def share_text(stride: int) -> str:
    """How much of a group a stride keeps, in words: ``all``, ``none``, ``1 in 7``."""
    return "all" if stride == 1 else "none" if stride == 0 else f"1 in {stride}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sampled:
    """A chart drawn from some of the operations, and which: what the page says about it."""

    figure: dict[str, Any]
    shown: int
    total: int
    named: int                          # operations named by an anomaly
    strides: tuple[tuple[str, int], ...]  # (outcome, stride) for the other operations
    named_stride: int = 1               # of the named ones (1: all, as long as they fit MAX_NAMED_DRAWN)

    @property
    def downsampled(self) -> bool:
        return self.shown < self.total

    @property
    def sentence(self) -> str:
        """``"12,345 of 1,000,000 operations drawn: every one named by an anomaly, 1 in 17 ok, ..."``."""
        parts = ", ".join(f"{share_text(k)} of the {status} ones" for status, k in self.strides)
        named = (f"every one named by an anomaly ({self.named})" if self.named_stride == 1 else
                 f"{share_text(self.named_stride)} of the {self.named} named by an anomaly")
        return f"{self.shown:,} of {self.total:,} operations drawn: {named}, and {parts}"


# --- per-process timeline -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    """The timeline figure and what was left out of it.

    ``packed``: more than :data:`MAX_LANES` processes, so a lane holds several
    processes one after another (each op's hover names its process).
    """

    figure: dict[str, Any]
    shown: int
    total: int
    odd_stride: int  # failed and indeterminate ops: 1 = all shown, k = every k-th, 0 = none
    ok_stride: int   # ok ops, likewise
    processes: int = 0
    named_stride: int = 1  # ops named by anomalies: all up to MAX_NAMED_DRAWN
    packed: bool = False

    @property
    def downsampled(self) -> bool:
        return self.shown < self.total

    @property
    def n_lanes(self) -> int:
        return len(self.figure["layout"]["yaxis"].get("categoryarray", []))

    @property
    def n_processes(self) -> int:
        return self.processes or self.n_lanes


def _sample(operations: Sequence[Operation], keep: set[int],
            budget: int) -> tuple[list[Operation], int, int, int]:
    """At most ``budget`` ops, in order: every ``keep``-named op (up to
    :data:`MAX_NAMED_DRAWN`); then failed and indeterminate ones; then ok ones;
    each later group thinned to every k-th op.

    Returns the ops and the strides of the failed/indeterminate, ok and named
    groups (1 = all kept, 0 = none). One pass to classify, one to choose.
    """
    if len(operations) <= budget:
        return list(operations), 1, 1, 1
    group = [0 if o.invoke.index in keep else 2 if o.completion is not None and o.completion.type == "ok" else 1
             for o in operations]
    n_named, n_odd, n_ok = group.count(0), group.count(1), group.count(2)
    named_stride = _stride(n_named, MAX_NAMED_DRAWN)
    n_named = _kept(n_named, named_stride)
    odd_stride = _stride(n_odd, budget - n_named)
    ok_stride = _stride(n_ok, budget - n_named - _kept(n_odd, odd_stride))
    strides = (named_stride, odd_stride, ok_stride)
    seen = [0, 0, 0]
    out = []
    for o, g in zip(operations, group):
        k = strides[g]
        if k and seen[g] % k == 0:
            out.append(o)
        seen[g] += 1
    return out, odd_stride, ok_stride, named_stride


def _lanes(operations: Sequence[Operation], axis: Axis, procs: Sequence[Any]) -> tuple[dict[Any, str], bool]:
    """Each process's lane: its own up to :data:`MAX_LANES` processes, else packed.

    Packing is interval partitioning: processes in the order they began, each
    into the first lane whose last process ended before it began (the fewest
    lanes; as many as there were clients at once, for a run's workers).
    """
    if len(procs) <= MAX_LANES:
        return {p: f"p{p}" for p in procs}, False
    # a process runs one op at a time: it begins with its first op and ends with its last one's completion
    first = {o.invoke.process: o for o in reversed(operations)}
    last = {o.invoke.process: o for o in operations}
    span = {p: (op_span(axis, first[p])[0], op_span(axis, last[p])[1]) for p in first}
    free: list[tuple[int, int]] = []  # (end of the lane's last process, lane number)
    lane: dict[Any, str] = {}
    n = 0
    for p, (s, e) in sorted(span.items(), key=lambda kv: kv[1][0]):
        if free and free[0][0] < s:
            _, k = heapq.heapreplace(free, (e, free[0][1]))
        else:
            k = n
            n += 1
            heapq.heappush(free, (e, k))
        lane[p] = f"lane {k}"
    return lane, True


def timeline_figure(history: History, windows: Sequence[FaultWindow], axis: Axis, *,
                    highlight: Iterable[int] = (), budget: int = MAX_TIMELINE_OPS) -> Timeline:
    """One lane per process; a bar per operation from invocation to completion.

    ``highlight`` holds event indices named by anomalies: those operations are
    always kept and drawn with a black outline marker.
    """
    hl = set(highlight)
    keep = set()
    if hl:
        for o in history.operations:
            if o.invoke.index in hl or (o.completion is not None and o.completion.index in hl):
                keep.add(o.invoke.index)
    ops, odd_stride, ok_stride, named_stride = _sample(history.operations, keep, budget)
    procs = sorted({o.invoke.process for o in history.operations}, key=lambda p: (isinstance(p, str), p))
    lane, packed = _lanes(history.operations, axis, procs)
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
            cd.append([o.invoke.index, plot_text(o.f, limit=40), plot_text(value_text(o.value), limit=60),
                       plot_text(o.process, limit=20)])
        if not mx:
            continue
        color = STATUS_COLORS[status]
        traces.append({"type": "scattergl", "mode": "lines", "x": xs, "y": ys, "name": status,
                       "legendgroup": status, "line": {"color": color, "width": 6}, "hoverinfo": "skip"})
        traces.append({"type": "scattergl", "mode": "markers", "x": mx, "y": my, "name": status,
                       "legendgroup": status, "showlegend": False, "customdata": cd,
                       "marker": {"color": color, "size": 4, "symbol": "line-ns-open"},
                       "hovertemplate": "op %{customdata[0]} %{customdata[1]} %{customdata[2]}"
                                        "<br>process %{customdata[3]}, " + status + "<extra></extra>"})
    marked = [o for o in ops if o.invoke.index in keep]
    if marked:
        traces.append({"type": "scattergl", "mode": "markers", "name": "named by an anomaly",
                       "x": [axis.x(op_span(axis, o)[0]) for o in marked],
                       "y": [lane[o.process] for o in marked],
                       "customdata": [o.invoke.index for o in marked],
                       "marker": {"color": "black", "size": 9, "symbol": "x"},
                       "hovertemplate": "op %{customdata} (named by an anomaly)<extra></extra>"})
    traces += _fault_legend(windows)
    lanes = list(dict.fromkeys(lane[p] for p in procs)) if not packed else \
        sorted(set(lane.values()), key=lambda s: int(s.split()[1]))
    title = "process" if not packed else f"lane ({len(procs):,} processes, one after another in each lane)"
    layout = _layout(axis, windows, yaxis={"title": {"text": title}, "type": "category",
                                           "categoryorder": "array", "categoryarray": lanes})
    return Timeline(figure={"data": traces, "layout": layout}, shown=len(ops),
                    total=len(history.operations), odd_stride=odd_stride, ok_stride=ok_stride,
                    processes=len(procs), packed=packed, named_stride=named_stride)


# --- latency and throughput -----------------------------------------------------


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted, non-empty sequence."""
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def _bins(axis: Axis) -> tuple[int, float]:
    width = max(1.0, axis.end / N_BINS)
    return N_BINS, width


def latency_figure(history: History, windows: Sequence[FaultWindow], axis: Axis) -> dict[str, Any] | None:
    """The figure of :func:`latency_chart` (``None`` without times)."""
    chart = latency_chart(history, windows, axis)
    return None if chart is None else chart.figure


def latency_chart(history: History, windows: Sequence[FaultWindow], axis: Axis, *,
                  highlight: Iterable[int] = (), budget: int = MAX_LATENCY_POINTS) -> Sampled | None:
    """Completed operations as points (x invocation, y latency ms) by status, with p50/p95/p99 lines.

    At most ``budget`` points: every operation ``highlight`` names (by either
    event's index), the rest shared out between the outcomes (:func:`_shares`)
    and thinned to every k-th of each; the quantile lines use every operation.
    ``None`` when the history has no times (latency is undefined without them).
    """
    if not axis.timed:
        return None
    hl = set(highlight)
    n_bins, width = _bins(axis)
    per_bin: list[list[int]] = [[] for _ in range(n_bins + 1)]  # latencies in ns, by invocation time
    groups: dict[str, list[Operation]] = {s: [] for s in STATUS_COLORS}
    named: list[Operation] = []
    total = 0
    for o in history.operations:  # one tight pass over every op: it is most of the chart's cost
        c = o.completion
        if c is None or c.time is None:
            continue
        t0 = o.invoke.time or 0
        b = int(t0 / width)
        per_bin[b if b < n_bins else n_bins].append(c.time - t0)
        total += 1
        if hl and (o.invoke.index in hl or c.index in hl):
            named.append(o)
        else:
            groups[c.type].append(o)
    counts = {s: len(g) for s, g in groups.items()}
    n_named, named_stride = len(named), _stride(len(named), MAX_NAMED_DRAWN)
    named = named[::named_stride] if named_stride else []
    strides = _shares(counts, budget - len(named)) if total > budget else {s: 1 for s in counts}
    pts: dict[str, tuple[list[float], list[float], list[int]]] = {}
    for status, group in groups.items():
        k = strides[status]
        chosen = (group[::k] if k else []) + [o for o in named if o.completion.type == status]  # type: ignore[union-attr]
        pts[status] = ([axis.x(o.invoke.time or 0) for o in chosen],
                       [max(0.0, round((o.completion.time - (o.invoke.time or 0)) / 1e6, 3))  # type: ignore[union-attr, operator]
                        for o in chosen],
                       [o.invoke.index for o in chosen])
    traces: list[dict[str, Any]] = []
    shown = 0
    for status, (xs, ys, idx) in pts.items():
        shown += len(xs)
        if xs:
            traces.append({"type": "scattergl", "mode": "markers", "name": status, "x": xs, "y": ys,
                           "customdata": idx, "marker": {"color": STATUS_COLORS[status],
                                                         "size": 5 if total < 5000 else 3,
                                                         "opacity": 0.6},
                           "hovertemplate": "op %{customdata}: %{y:.2f} ms<extra>" + status + "</extra>"})
    for q, dash in ((0.5, "solid"), (0.95, "dash"), (0.99, "dot")):
        qx: list[float] = []
        qy: list[float] = []
        for b, vals in enumerate(per_bin):
            if vals:
                vals.sort()
                qx.append(axis.x(int((b + 0.5) * width)))
                qy.append(max(0.0, round(quantile(vals, q) / 1e6, 3)))
        traces.append({"type": "scatter", "mode": "lines", "name": f"p{int(q * 100)}", "x": qx, "y": qy,
                       "line": {"color": "#212121", "width": 1.5, "dash": dash}})
    traces += _fault_legend(windows)
    layout = _layout(axis, windows, yaxis={"title": {"text": "latency (ms)"}, "type": "log"})
    chart = Sampled(figure={"data": traces, "layout": layout}, shown=shown, total=total, named=n_named,
                    named_stride=named_stride, strides=tuple((s, strides[s]) for s in STATUS_COLORS if counts[s]))
    if chart.downsampled:
        layout["title"] = {"text": f"{chart.shown:,} of {chart.total:,} completed ops drawn; "
                                   "the quantile lines use all", "font": {"size": 12}}
    return chart


def throughput_figure(history: History, windows: Sequence[FaultWindow], axis: Axis) -> dict[str, Any] | None:
    """Completions per second by status, stacked, in :data:`N_BINS` bins; ``None`` without times."""
    if not axis.timed:
        return None
    n_bins, width = _bins(axis)
    counts = {s: [0] * (n_bins + 1) for s in STATUS_COLORS}
    for o in history.operations:
        c = o.completion
        if c is not None and c.time is not None:
            b = int(c.time / width)
            counts[c.type][b if b < n_bins else n_bins] += 1
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
