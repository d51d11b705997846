"""A lane chart: one order's or transaction's events, one lane per service, against time.

Draws a lane trace (:mod:`checkers.lanes`: ``lanes``, ``events``, ``faults``,
``end``, times in run seconds) as a Plotly figure dict, on the report's time
axis (:class:`~harness.report.charts.Axis`, seconds since the run began) and
with its fault bands (:func:`~harness.report.charts.fault_shapes`): a fault
that hit some lanes only (a kill, a pause) is shaded on those lanes, one
that hit all of them (most partitions) over the whole chart. Crash points
are dashed lines across the chart (:func:`~harness.report.charts.mark_anomalies`).

How events are drawn: a ``message`` as a sequence-diagram "V" from its
sender's lane to the receiver's (at ``peer_at``, when the receiver recorded
it, else half way) and back, labelled with its answer; a span (a held lock,
a client request) as a bar; an instant as a marker, by kind (a step, a
compensation, a decision, a crash, a restart); what the final read still
found (``state``) at the right edge, since the final read is usually long
after. Every label and hover is escaped (:func:`~harness.report.embed.plot_text`).

:func:`trace_rows` gives the same events as table rows, so the chart and the
table say the same thing; :func:`trace_lines` as plain text, for terminals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from harness.report.charts import STATUS_COLORS, Axis, fault_shapes, mark_anomalies
from harness.report.embed import plot_text
from harness.report.faults import FaultWindow

__all__ = ["LaneRow", "lanes_figure", "trace_lines", "trace_rows"]

KIND_STYLE: Mapping[str, tuple[str, str, str]] = {  # kind -> (legend name, colour, marker symbol)
    "step": ("step", STATUS_COLORS["ok"], "circle"),
    "compensation": ("compensation / abort", "#6a1b9a", "diamond"),
    "decision": ("decision", "#1565c0", "star"),
    "crash": ("crash point", "#b71c1c", "x"),
    "restart": ("restart", "#455a64", "triangle-up"),
    "state": ("left at the end", "#b71c1c", "square"),
}
OUTCOME_COLORS = {"ok": "#1565c0", "refused": STATUS_COLORS["fail"], "unreachable": STATUS_COLORS["info"],
                  "no": "#6a1b9a", "lost": "#b71c1c"}
SPAN_COLORS = {"lock": "#8d6e63", "client": "#546e7a"}
MIN_VIEW_S = 0.2


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _events(trace: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    evs = trace.get("events")
    return [e for e in evs if isinstance(e, Mapping) and _num(e.get("at")) is not None] if isinstance(evs, list) else []


def view(trace: Mapping[str, Any]) -> tuple[float, float]:
    """The time range shown: every event but what the final read found, padded.

    Spans with no end (a lock still held, a request never answered) run to the right edge. A fault
    beginning up to 1 s after the last event is brought in: it is what the explanation says came next.
    """
    ts = [t for e in _events(trace) if e.get("kind") != "state"
          for t in (_num(e.get("at")), _num(e.get("end")), _num(e.get("peer_at"))) if t is not None]
    if not ts:
        ts = [_num(e.get("at")) or 0.0 for e in _events(trace)] or [0.0]
    lo, hi = min(ts), max(ts)
    faults = trace.get("faults") if isinstance(trace.get("faults"), list) else []
    starts = [t for f in faults if isinstance(f, Mapping) and (t := _num(f.get("start"))) is not None]
    hi = max([hi, *(t for t in starts if lo - 0.5 <= t <= hi + 1.0)])
    span = max(hi - lo, MIN_VIEW_S)
    right = 0.45 if any(e.get("kind") == "state" for e in _events(trace)) else 0.08
    return lo - 0.08 * span, hi + right * span  # room on the right for what was left


def _ns(s: float) -> int:
    return int(round(s * 1e9))


def lanes_figure(trace: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Plotly figure of one lane trace; ``None`` if it has no event."""
    evs = _events(trace)
    given = trace.get("lanes")
    lanes = [str(x) for x in given if isinstance(x, str)] if isinstance(given, list) else []
    for e in evs:  # lanes named by events but not listed still get drawn
        for ln in (e.get("lane"), e.get("to")):
            if isinstance(ln, str) and ln not in lanes:
                lanes.append(ln)
    if not evs or not lanes:
        return None
    lo, hi = view(trace)
    edge = hi - 0.015 * (hi - lo)  # where "left at the end" markers sit, labelled to their left
    end = _num(trace.get("end"))
    axis = Axis(timed=True, end=_ns(end if end is not None else hi))
    # every lane drawn, even one nothing happened on (a category axis shows only the values it is given)
    traces: list[dict[str, Any]] = [{"type": "scatter", "mode": "markers", "x": [lo] * len(lanes), "y": lanes,
                                     "marker": {"opacity": 0}, "showlegend": False, "hoverinfo": "skip"}]

    # messages: one V per call, coloured by its outcome
    by_outcome: dict[str, tuple[list[Any], list[Any], list[str]]] = {}
    labels: tuple[list[float], list[str], list[str], list[str]] = ([], [], [], [])
    for e in evs:
        if e.get("kind") != "message" or not isinstance(e.get("to"), str):
            continue
        t0 = _num(e["at"]) or 0.0
        t1 = _num(e.get("end"))
        mid = _num(e.get("peer_at"))
        if mid is None:
            mid = (t0 + t1) / 2 if t1 is not None else t0 + 0.03 * (hi - lo)
        out = str(e.get("outcome", "ok"))
        xs, ys, hv = by_outcome.setdefault(out, ([], [], []))
        answered = "never answered" if t1 is None else f"answered {t1:.3f} s"
        hover = (f"{plot_text(e.get('what'))}<br>{plot_text(e['lane'])} → {plot_text(e['to'])}: sent {t0:.3f} s, "
                 f"{answered}" + (f"<br>{plot_text(e.get('detail'), limit=200)}" if e.get("detail") else ""))
        if t1 is None:  # one way: the answer never came back
            xs += [t0, mid, None]
            ys += [e["lane"], e["to"], None]
            hv += [hover, hover, ""]
        else:
            xs += [t0, mid, t1, None]
            ys += [e["lane"], e["to"], e["lane"], None]
            hv += [hover, hover, hover, ""]
        if t1 is None and out == "ok":
            continue  # a one-way notice that arrived (an event published): its hover is enough
        labels[0].append(mid)
        labels[1].append(str(e["to"]))
        labels[2].append(plot_text(e.get("what"), limit=40))
        labels[3].append(hover)
    for out, (xs, ys, hv) in by_outcome.items():
        name = {"ok": "message, answered", "refused": "message, refused", "unreachable": "message, no answer",
                "no": "message, voted NO", "lost": "message, never answered"}.get(out, f"message, {out}")
        traces.append({"type": "scatter", "mode": "lines+markers", "x": xs, "y": ys, "name": name,
                       "line": {"color": OUTCOME_COLORS.get(out, "#555"), "width": 1.5,
                                "dash": "dot" if out in ("unreachable", "lost") else "solid"},
                       "marker": {"size": 5}, "hovertext": hv, "hoverinfo": "text"})
    if labels[0]:
        traces.append({"type": "scatter", "mode": "text", "x": labels[0], "y": labels[1], "text": labels[2],
                       "textposition": "bottom center", "hovertext": labels[3], "hoverinfo": "text",
                       "showlegend": False, "textfont": {"size": 10, "color": "#37474f"}})

    # spans: locks and client requests, as bars
    for kind, color in SPAN_COLORS.items():
        xs, ys, tx, ty, tt, th = [], [], [], [], [], []
        for e in evs:
            if e.get("kind") != kind:
                continue
            t0 = _num(e["at"]) or 0.0
            t1 = _num(e.get("end"))
            open_ = t1 is None
            t1 = hi if t1 is None else t1
            xs += [t0, t1, None]
            ys += [e["lane"], e["lane"], None]
            tx.append((max(t0, lo) + min(t1, hi)) / 2)
            ty.append(e["lane"])
            wide = min(t1, hi) - max(t0, lo) > 0.15 * (hi - lo)  # a short span's label would cover its neighbours
            tt.append(plot_text(e.get("what"), limit=50) if wide else "")
            th.append(f"{plot_text(e.get('what'))}<br>{t0:.3f} s to " + ("no end" if open_ else f"{t1:.3f} s"))
        if xs:
            traces.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys,
                           "name": "lock held" if kind == "lock" else "client request",
                           "line": {"color": color, "width": 9}, "opacity": 0.55, "hoverinfo": "skip"})
            traces.append({"type": "scatter", "mode": "text", "x": tx, "y": ty, "text": tt, "hovertext": th,
                           "hoverinfo": "text", "textposition": "top center", "showlegend": False,
                           "textfont": {"size": 10, "color": "#3e2723"}})

    # instants, by kind
    for kind, (name, color, symbol) in KIND_STYLE.items():
        xs, ys, tt, th = [], [], [], []
        for e in evs:
            if e.get("kind") != kind:
                continue
            t = _num(e["at"]) or 0.0
            x = edge if kind == "state" and t > edge else t
            xs.append(x)
            ys.append(e["lane"])
            tt.append(plot_text(e.get("what"), limit=44))
            when = f"at the final read, {t:.3f} s" if kind == "state" else f"{t:.3f} s"
            th.append(f"{plot_text(e.get('what'))}<br>{plot_text(e['lane'])}, {when}"
                      + (f"<br>{plot_text(e.get('detail'), limit=200)}" if e.get("detail") else ""))
        if xs:
            traces.append({"type": "scatter", "mode": "markers+text", "x": xs, "y": ys, "name": name, "text": tt,
                           "textposition": {"state": "middle left", "decision": "bottom left"}.get(kind, "top center"),
                           "hovertext": th, "hoverinfo": "text",
                           "marker": {"color": color, "symbol": symbol, "size": 13 if kind == "crash" else 10,
                                      "line": {"width": 2 if kind == "crash" else 0, "color": color}},
                           "textfont": {"size": 11, "color": color if kind in ("crash", "state") else "#212121"}})

    figure = {"data": traces, "layout": {
        "margin": {"l": 95, "r": 20, "t": 30, "b": 45},
        "xaxis": {"title": {"text": axis.title}, "zeroline": False, "range": [lo, hi]},
        "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": lanes, "autorange": "reversed",
                  "fixedrange": True},
        "shapes": [], "annotations": [], "legend": {"orientation": "h", "y": -0.25},
        "hovermode": "closest"}}
    _fault_bands(figure["layout"], trace, lanes, axis, lo)
    crashes = sorted((_num(e["at"]) or 0.0, str(e.get("what"))) for e in evs if e.get("kind") == "crash")[:6]
    marks, last = [], None
    for t, what in crashes:  # a dashed line each; a label only where it does not run into the previous one
        marks.append((what if last is None or t - last > 0.12 * (hi - lo) else "", _ns(t)))
        last = t if marks[-1][0] else last
    if marks:
        mark_anomalies(figure, marks, axis)
    return figure


def _fault_bands(layout: dict[str, Any], trace: Mapping[str, Any], lanes: Sequence[str], axis: Axis,
                 lo: float) -> None:
    """The report's fault shading, each band labelled; a fault that hit some lanes only is shaded on those."""
    shapes: list[dict[str, Any]] = layout["shapes"]
    notes: list[dict[str, Any]] = layout["annotations"]
    for f in trace.get("faults", []) if isinstance(trace.get("faults"), list) else []:
        start = _num(f.get("start")) if isinstance(f, Mapping) else None
        if start is None:
            continue
        stop = _num(f.get("end"))
        w = FaultWindow(kind=str(f.get("kind")), start=_ns(start), end=None if stop is None else _ns(stop),
                        start_index=0, end_index=None, detail=f.get("what"))
        hit = [ln for ln in f.get("lanes", []) if ln in lanes] if isinstance(f.get("lanes"), list) else []
        label = {"x": max(start, lo), "xanchor": "left", "showarrow": False, "text": plot_text(f.get("what"), limit=60),
                 "font": {"size": 10, "color": "#6d4c41"}}
        for shape in fault_shapes([w], axis):
            if hit and len(hit) < len(lanes):
                for ln in hit:
                    i = lanes.index(ln)
                    shapes.append({**shape, "yref": "y", "y0": i - 0.45, "y1": i + 0.45})
                    notes.append({**label, "xref": "x", "yref": "y", "y": i + 0.32})
            else:
                shapes.append(shape)
                notes.append({**label, "xref": "x", "yref": "paper", "y": 1.0, "yanchor": "bottom"})


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneRow:
    """One event as a table row (times in seconds; ``until`` for spans and answered messages)."""

    at: float
    until: float | None
    lane: str
    to: str
    what: str
    kind: str
    outcome: str
    detail: str


def trace_rows(trace: Mapping[str, Any]) -> list[LaneRow]:
    """The trace's events as rows, in time order, faults among them."""
    rows = [LaneRow(at=_num(e["at"]) or 0.0, until=_num(e.get("end")), lane=str(e.get("lane", "")),
                    to=str(e.get("to") or ""), what=str(e.get("what", "")), kind=str(e.get("kind", "")),
                    outcome=str(e.get("outcome", "")), detail=str(e.get("detail") or ""))
            for e in _events(trace)]
    for f in trace.get("faults", []) if isinstance(trace.get("faults"), list) else []:
        if isinstance(f, Mapping) and _num(f.get("start")) is not None:
            rows.append(LaneRow(at=_num(f["start"]) or 0.0, until=_num(f.get("end")),
                                lane=", ".join(str(x) for x in f.get("lanes", []) or []) or "all",
                                to="", what=str(f.get("what", f.get("kind", ""))), kind="fault",
                                outcome="" if f.get("end") is not None else "never healed", detail=""))
    return sorted(rows, key=lambda r: r.at)


def trace_lines(trace: Mapping[str, Any]) -> list[str]:
    """The same rows as text: ``  12.300 s  payment       charged 250 (c7)``."""
    out = [str(trace.get("title") or trace.get("subject") or "")]
    for r in trace_rows(trace):
        span = "" if r.until is None else f"-{r.until:.3f}"
        arrow = f" -> {r.to}" if r.to else ""
        extra = f"  ({r.outcome})" if r.outcome not in ("", "ok") else ""
        out.append(f"  {r.at:8.3f}{span:<9} s  {r.lane + arrow:<24} {r.what}{extra}"
                   + (f"  {r.detail}" if r.detail else ""))
    return out
