"""The linearizability section: the cause first (the witness), the search's prefix folded below.

When the checker found a minimal witness (:mod:`checkers.linear.witness`;
``data["witness"]``, ``data["cause"]``, ``data["around"]``) the page's summary
line already carries the cause in prose; this section adds the witness as a
table (role, process, node, times, result, error; each op linked to its
history line and its node's log) and a chart of the witness with the key's
operations around it, one lane per process, every bar at least
:data:`MIN_BAR` of the chart wide, the fault windows overlapping it (only
those) and a dashed line at the failing operation. The search's own account
(the longest linearizable prefix, numbered, with the model state after each
step; the failing op; the ops concurrent with it) follows folded in a
``<details>``. Without a witness that account is the explanation: open, with
the Porcupine-like chart of the prefix's end, the failing op and its
concurrent ops.

The checker's ``data`` layout is :mod:`checkers.linear.explain`'s (``key``,
``op``, ``prefix`` of ``{"op", "state"}``, ``prefix_length``, ``state``,
``initial_state``, ``reason``, ``concurrent``, ``concurrent_count``; ops carry
``invoke_index`` and the model's ``call`` description). It is read
defensively all the same: each field is looked up under a few names, an
operation may be an event index or a dict carrying one (``index``,
``invoke_index``) or the op's own fields, and a prefix step may be
``{"op": …, "state": …}``, ``{"index": …, "state": …}`` or ``[op, state]``.
Anything not understood is shown by the generic table, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Sequence

from markupsafe import Markup

from checkers.api import Anomaly
from harness.history import Operation
from harness.notation import value_text
from harness.report.charts import STATUS_COLORS, fault_shapes, mark_anomalies, op_span
from harness.report.embed import plot_div, plot_text
from harness.report.sections.base import OpRow, SectionContext

__all__ = ["LinearizabilitySection", "LinStep", "parse_linear"]

KEY_FIELDS = ("key",)
FAILING_FIELDS = ("op", "failing_op", "failing", "breaking_op", "illegal_op", "last_op")
PREFIX_FIELDS = ("prefix", "linearizable_prefix", "longest_prefix", "linearized", "best_prefix")
CONCURRENT_FIELDS = ("concurrent", "concurrent_ops", "overlapping")
STATE_FIELDS = ("state", "model_state", "state_after", "after", "model")
INDEX_FIELDS = ("index", "invoke_index", "call_index", "op_index")
MAX_FIGURE_PREFIX = 60
MAX_TABLE_ROWS = 200
FOCUS_PREFIX = 20
"""The chart opens zoomed on the last prefix ops, the failing op and its concurrent ops."""
MIN_BAR = 0.012
"""The narrowest bar, as a share of the chart's time span: a 1 ms read stays visible in a 2 s view."""
WITNESS_FIELDS = ("witness", "witness_minimal", "witness_note", "cause", "around", "around_count", "search")
WITNESS_COLOR = "#1565c0"
FAILING_COLOR = "#b71c1c"
AROUND_COLOR = "#9e9e9e"
_NO_STATE = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class LinStep:
    """One operation named by the anomaly, resolved against the history if possible."""

    raw: Any
    op: Operation | None
    state: Any = _NO_STATE

    @property
    def has_state(self) -> bool:
        return self.state is not _NO_STATE

    def field(self, name: str) -> Any:
        if self.op is not None:
            return {"process": self.op.process, "f": self.op.f, "value": self.op.value,
                    "index": self.op.invoke.index, "status": self.op.status}.get(name)
        return self.raw.get(name) if isinstance(self.raw, Mapping) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedLinear:
    key: Any
    failing: LinStep | None
    prefix: tuple[LinStep, ...]
    concurrent: tuple[LinStep, ...]
    used: frozenset[str]
    writers: tuple[LinStep, ...] | None = None  # who wrote the value a failing read returned
    prefix_length: int = 0
    concurrent_count: int = 0
    reason: Any = None
    initial_state: Any = _NO_STATE
    end_state: Any = _NO_STATE


def _first(data: Mapping[str, Any], names: Sequence[str]) -> tuple[str | None, Any]:
    for n in names:
        if n in data:
            return n, data[n]
    return None, None


def _ref_index(ref: Any) -> Any:
    if isinstance(ref, Mapping):
        for n in INDEX_FIELDS:
            if n in ref:
                return ref[n]
        return None
    return ref


def _step(ref: Any, ctx: SectionContext, state: Any = _NO_STATE) -> LinStep:
    return LinStep(raw=ref, op=ctx.operation(_ref_index(ref)), state=state)


def _prefix_step(entry: Any, ctx: SectionContext) -> LinStep:
    if isinstance(entry, (list, tuple)) and len(entry) == 2:
        return _step(entry[0], ctx, entry[1])
    if isinstance(entry, Mapping):
        _, state = _first(entry, STATE_FIELDS)
        has_state = any(n in entry for n in STATE_FIELDS)
        ref = entry["op"] if "op" in entry else entry
        return _step(ref, ctx, state if has_state else _NO_STATE)
    return _step(entry, ctx)


def parse_linear(data: Mapping[str, Any], ctx: SectionContext) -> ParsedLinear:
    """Pull key, failing op, prefix and concurrent ops out of ``data``, whatever they are called."""
    kname, key = _first(data, KEY_FIELDS)
    fname, failing = _first(data, FAILING_FIELDS)
    pname, prefix = _first(data, PREFIX_FIELDS)
    cname, concurrent = _first(data, CONCURRENT_FIELDS)
    prefix_ok, concurrent_ok = isinstance(prefix, list), isinstance(concurrent, list)
    used = {n for n, ok in ((kname, True), (fname, True), (pname, prefix_ok), (cname, concurrent_ok))
            if n is not None and ok}
    steps = tuple(_prefix_step(e, ctx) for e in prefix) if prefix_ok else ()
    others = tuple(_step(e, ctx) for e in concurrent) if concurrent_ok else ()
    counts = {}
    for name, shown in (("prefix_length", len(steps)), ("concurrent_count", len(others))):
        v = data.get(name)
        ok = isinstance(v, int) and not isinstance(v, bool) and v >= shown
        counts[name] = v if ok else shown
        if ok:
            used.add(name)
    writers = data.get("writers")
    if isinstance(writers, list):
        used.add("writers")
    extras: dict[str, Any] = {}
    for name in ("reason", "initial_state", "state"):
        if name in data and not isinstance(data[name], (dict, list)):
            extras[name] = data[name]
            used.add(name)
    return ParsedLinear(
        key=key,
        failing=None if failing is None else _step(failing, ctx),
        prefix=steps, concurrent=others, used=frozenset(used),
        prefix_length=counts["prefix_length"], concurrent_count=counts["concurrent_count"],
        reason=extras.get("reason"), initial_state=extras.get("initial_state", _NO_STATE),
        end_state=extras.get("state", _NO_STATE),
        writers=tuple(_step(e, ctx) for e in writers) if isinstance(writers, list) else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessRow:
    """One witness operation: its table row (``None`` if not in the history), role, and whether it failed."""

    raw: Any
    op: Operation | None
    row: OpRow | None
    role: str
    failing: bool


def _witness(data: Mapping[str, Any], ctx: SectionContext, failing: Any) -> list[WitnessRow]:
    out = []
    for w in data.get("witness") or ():
        op = ctx.operation(_ref_index(w))
        role = w.get("role", "") if isinstance(w, Mapping) else ""
        out.append(WitnessRow(raw=w, op=op, row=None if op is None else ctx.row(op), role=str(role or ""),
                              failing=op is not None and failing is not None and op is failing))
    return out


def _rows(steps: Sequence[LinStep], ctx: SectionContext) -> list[tuple[LinStep, OpRow | None]]:
    return [(s, None if s.op is None else ctx.row(s.op)) for s in steps]


def _hover(o: Operation, extra: str = "") -> str:
    res = f" → {plot_text(value_text(o.value), limit=50)}" if o.status == "ok" and o.f == "read" else ""
    node = f" via {plot_text(o.invoke.node)}" if o.invoke.node else ""
    return (f"op {o.invoke.index}: p{plot_text(o.process)}{node} {plot_text(o.f, limit=30)} "
            f"{plot_text(value_text(o.invoke.value), limit=50)}{res} ({o.status}){extra}")


class LinearizabilitySection:
    """Witness table and chart first; the search's prefix, failing and concurrent ops folded."""

    def render(self, anomaly: Anomaly, ctx: SectionContext) -> Markup:
        data = anomaly.data
        p = parse_linear(data, ctx)
        failing = p.failing.op if p.failing is not None else None
        witness = _witness(data, ctx, failing)
        used = set(p.used) | {n for n in WITNESS_FIELDS if n in data}
        around_raw = data.get("around") if isinstance(data.get("around"), list) else []
        around = [o for o in (ctx.operation(_ref_index(r)) for r in around_raw) if o is not None]
        if witness:
            figure = self._witness_figure(witness, around, failing, ctx)
        else:
            figure = self._figure(p, ctx)
        shown_prefix = p.prefix[-MAX_TABLE_ROWS:]
        search = data.get("search") if isinstance(data.get("search"), str) else None
        return ctx.template(
            "_linear.html.j2",
            key=p.key, has_key=any(n in data for n in KEY_FIELDS), reason=p.reason,
            initial_state=p.initial_state, has_initial=p.initial_state is not _NO_STATE,
            end_state=p.end_state, has_end=p.end_state is not _NO_STATE,
            failing=None if p.failing is None else _rows([p.failing], ctx)[0],
            prefix=_rows(shown_prefix, ctx), prefix_total=p.prefix_length,
            prefix_offset=p.prefix_length - len(shown_prefix),
            concurrent=_rows(p.concurrent[:MAX_TABLE_ROWS], ctx), concurrent_total=p.concurrent_count,
            writers=None if p.writers is None else _rows(p.writers[:MAX_TABLE_ROWS], ctx),
            witness=witness, minimal=bool(data.get("witness_minimal")),
            witness_note=data.get("witness_note"), around_total=data.get("around_count", len(around)),
            search=search if search != anomaly.summary else None,
            figure=figure, figure_prefix_cut=max(0, p.prefix_length - MAX_FIGURE_PREFIX), min_bar=MIN_BAR,
            rest=ctx.generic_data(data, skip=sorted(used)) if set(data) - used else None,
            other_ops=ctx.ops_table(list(anomaly.ops)) if anomaly.ops and not (p.prefix or p.failing) else None,
        )

    def _witness_figure(self, witness: Sequence[WitnessRow], around: Sequence[Operation],
                        failing: Operation | None, ctx: SectionContext) -> Markup | None:
        """The witness (blue, with roles; the failing op red) and the key's ops around it (grey)."""
        axis = ctx.axis
        mine = [w for w in witness if w.op is not None]
        if not mine:
            return None
        spans = [op_span(axis, w.op) for w in mine]  # type: ignore[arg-type]
        ends = [e for (_, e), w in zip(spans, mine) if w.op.completion is not None]  # type: ignore[union-attr]
        lo = min(s for s, _ in spans)
        hi = max(ends + [s for s, _ in spans])
        pad = max(hi - lo, 1) * 0.15
        groups = [
            _Group("the key's other operations then", AROUND_COLOR, 8, [(o, "", "") for o in around]),
            _Group("witness", WITNESS_COLOR, 14, [(w.op, w.role, "") for w in mine if not w.failing]),  # type: ignore[misc]
            _Group("breaks linearizability", FAILING_COLOR, 16,
                   [(w.op, f"✗ {w.role}".strip(), "") for w in mine if w.failing]),  # type: ignore[misc]
        ]
        mark = None if failing is None else op_span(axis, failing)[0]
        return _lanes_figure(groups, ctx, lo - pad, hi + pad, mark=mark)

    def _figure(self, p: ParsedLinear, ctx: SectionContext) -> Markup | None:
        """Without a witness: the prefix's end (numbered, with states), the failing op, its concurrent ops."""
        axis = ctx.axis
        offset = max(0, len(p.prefix) - MAX_FIGURE_PREFIX)
        base = p.prefix_length - len(p.prefix)  # the checker may already have cut the prefix
        tail = set(map(id, p.prefix[-FOCUS_PREFIX:]))
        in_prefix = set(map(id, p.prefix))

        def state(step: LinStep) -> str:
            return f"<br>model state after: {plot_text(step.state, limit=80)}" if step.has_state else ""

        groups = [
            _Group("linearizable prefix", STATUS_COLORS["ok"], 11,
                   [(st.op, f"#{base + offset + i + 1}", state(st)) for i, st in enumerate(p.prefix[offset:])
                    if st.op is not None]),
            _Group("concurrent with the failing op", STATUS_COLORS["info"], 11,
                   [(st.op, "", "") for st in p.concurrent[:MAX_TABLE_ROWS] if st.op is not None]),
            _Group("breaks linearizability", FAILING_COLOR, 16,
                   [(p.failing.op, "✗", "")] if p.failing is not None and p.failing.op is not None else []),
        ]
        focus = [x for st in (*p.prefix[offset:], *p.concurrent[:MAX_TABLE_ROWS], *([p.failing] if p.failing else []))
                 if st.op is not None and (id(st) in tail or id(st) not in in_prefix) for x in op_span(axis, st.op)]
        if not focus:
            return None
        lo, hi = min(focus), max(focus)
        pad = max((hi - lo) * 0.05, 1e6 if axis.timed else 1.0)
        return _lanes_figure(groups, ctx, lo - pad, hi + pad, mark=None, all_faults=True)


class _Group(NamedTuple):
    """One legend entry of a lanes chart: bars of ``(op, label, extra hover html)``."""

    name: str
    color: str
    width: int
    bars: list[tuple[Operation, str, str]]


def _lanes_figure(groups: Sequence[_Group], ctx: SectionContext, view_lo: float, view_hi: float, *,
                  mark: int | None, all_faults: bool = False) -> Markup | None:
    """One lane per process, a labelled bar per op, at least :data:`MIN_BAR` of the view wide.

    The view is ``[view_lo, view_hi]`` (axis positions); only the fault windows
    overlapping it are shaded unless ``all_faults``; ``mark`` draws the dashed
    failing-op line.
    """
    axis = ctx.axis
    min_w = (view_hi - view_lo) * MIN_BAR
    traces: list[dict[str, Any]] = []
    lanes: set[Any] = set()
    for g in groups:
        xs: list[float | None] = []
        ys: list[str | None] = []
        mx: list[float] = []
        my: list[str] = []
        text: list[str] = []
        hover: list[str] = []
        for o, label, extra in g.bars:
            s, e = op_span(axis, o)
            e = max(e, s + min_w)
            lane = f"p{o.process}"
            lanes.add(o.process)
            xs += [axis.x(s), axis.x(int(e)), None]
            ys += [lane, lane, None]
            mx.append(axis.x(int((max(s, view_lo) + min(e, view_hi)) / 2)))
            my.append(lane)
            text.append(plot_text(label, limit=40))
            hover.append(_hover(o, (f"<br>{plot_text(label)}" if label else "") + extra))
        if not mx:
            continue
        traces.append({"type": "scatter", "mode": "lines+markers", "x": xs, "y": ys, "name": g.name,
                       "legendgroup": g.name, "line": {"color": g.color, "width": g.width}, "hoverinfo": "skip",
                       # white ticks at both ends keep back-to-back ops of one process apart
                       "marker": {"symbol": "line-ns-open", "size": g.width + 4, "color": "white",
                                  "line": {"width": 2, "color": "white"}}})
        traces.append({"type": "scatter", "mode": "text", "x": mx, "y": my, "text": text,
                       "textposition": "top center", "hovertext": hover, "hoverinfo": "text",
                       "legendgroup": g.name, "showlegend": False, "textfont": {"size": 11, "color": "#212121"}})
    if not traces:
        return None
    cats = [f"p{q}" for q in sorted(lanes, key=lambda q: (isinstance(q, str), q))]
    windows = ctx.windows if all_faults else [
        w for w in ctx.windows if w.start <= view_hi and (w.end is None or w.end >= view_lo)]
    figure = {"data": traces, "layout": {
        "margin": {"l": 60, "r": 20, "t": 40, "b": 45},
        "xaxis": {"title": {"text": axis.title}, "zeroline": False,
                  "range": [axis.x(int(view_lo)), axis.x(int(view_hi))]},
        "yaxis": {"title": {"text": "process"}, "type": "category", "categoryorder": "array",
                  "categoryarray": cats},
        "shapes": fault_shapes(windows, axis), "legend": {"orientation": "h", "y": 1.2},
        "hovermode": "closest"}}
    if mark is not None:
        mark_anomalies(figure, [("failing op", mark)], axis)
    return plot_div(figure, height=min(700, 170 + 40 * len(cats)), css_class="sb-linear")
