"""``write_report(run_dir)``: one self-contained ``report.html`` per run folder.

The page is a pure function of ``results.json`` and ``history.jsonl``: verdicts
per checker at the top, the run's facts and reproducing command, one section
per anomaly (chosen by kind, :mod:`harness.report.sections`), the fault windows,
and the charts (:mod:`harness.report.charts`). plotly.js is inlined once, so the
file opens offline and travels as a CI artifact.

Long runs (issue 15: a million operations, written in under 15 s, open in
under 5 s): the charts sample (:mod:`harness.report.charts`: a budget of ops
per chart, lanes packed, fault bands merged) and the page says what each drew
and of how many; anomalies are never sampled away: every operation an anomaly
names is on the page, as a row of its section, as a row the page adds after
it (:func:`_with_named`, up to :data:`MAX_NAMED_ROWS` over the page), or past
those by its index, and is drawn on the charts (up to
:data:`harness.report.charts.MAX_NAMED_DRAWN`).

Escaping: the template is Jinja2 with autoescape on, so every value from the
run is escaped in HTML; figure data is embedded with
:func:`harness.report.embed.script_json`. Nothing from the run is ever marked
safe. A section that crashes is replaced by the generic view with a warning,
never by a missing report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import jinja2
from markupsafe import Markup

from checkers.api import Anomaly
from harness.notation import value_text
from harness.report.charts import (Axis, axis_for, latency_chart, mark_anomalies, op_span, share_text,
                                   throughput_figure, timeline_figure)
from harness.report.clock_chart import clock_figure
from harness.report.embed import plot_div
from harness.report.faults import FaultWindow, fault_text, fault_windows
from harness.report.rundata import RunData, load_run, write_text_atomic
from harness.report.sections import DEFAULT_SECTIONS, GENERIC, Section, SectionContext, section_for

__all__ = ["MAX_ANOMALIES", "REPORT", "make_env", "render_report", "verdict_name", "write_report"]

REPORT = "report.html"
MAX_ANOMALIES = 30
"""Anomalies rendered in full; the rest are listed by summary (keeps huge reports openable)."""
RUN_CHART = "sb-run"
"""The run-wide charts' class: drawn when the page opens, wherever they are (``report.html.j2``)."""
EAGER_PLOTS = 6
"""Anomaly plots drawn when the page opens; later ones are drawn as they come near the screen
(a long run's page with 30 anomalies would otherwise spend its first seconds on plots nobody sees)."""
MAX_NAMED_ROWS = 5_000
"""Rows, over the whole page, for operations an anomaly names that its section did not show;
past them such operations are named by index (:meth:`SectionContext.ops_table`)."""

_DATA_OP = re.compile(r'data-op="(\d+)"')
_OP_INDICES = re.compile(r'<span class="op-indices">([\d, ]*)</span>')


def verdict_name(valid: Any) -> str:
    """``true``/``false``/other as stored in results.json -> ``valid``/``invalid``/``unknown``."""
    return "valid" if valid is True else "invalid" if valid is False else "unknown"


def _short(value: Any, limit: int = 200) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _pretty(value: Any, limit: int = 20_000) -> str:
    s = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return s if len(s) <= limit else s[: limit - 1] + "…"


_BIDI = {c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
"""Bidirectional controls: a value holding U+202E would reverse the text after it on the page
(and so what a reader takes for an op's value); shown as the escape ``\\u202e`` instead."""
_BIDI_CHARS = tuple(chr(c) for c in _BIDI)


def _no_bidi(v: Any) -> Any:
    """Every value a template prints, with its bidirectional controls made visible (Markup stays Markup).

    Looked for first (a substring search per control, at C speed): translating
    every character of a megabyte of figure data one by one is what costs.
    """
    if isinstance(v, str) and any(c in v for c in _BIDI_CHARS):
        return type(v)(str.translate(v, _BIDI)) if isinstance(v, Markup) else v.translate(_BIDI)
    return v


def make_env() -> jinja2.Environment:
    """The autoescaping Jinja environment of the report templates."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        finalize=_no_bidi)
    env.filters["short"] = _short
    env.filters["pretty"] = _pretty
    env.filters["clip"] = lambda s: _short(s, 2000)
    env.filters["value"] = lambda v: value_text(v, 80)
    env.filters["fault"] = fault_text
    return env


@dataclass(frozen=True, slots=True, kw_only=True)
class _CheckerRow:
    name: str
    verdict: str
    anomalies: tuple[Anomaly, ...]
    error: str | None
    stats: tuple[tuple[str, Any], ...]
    children: tuple["_ChildRow", ...]

    @property
    def figures(self) -> str:
        return figures_text(dict(self.stats))

    @property
    def findings(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return findings_of(dict(self.stats))


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChildRow:
    name: str
    verdict: str
    n_anomalies: int
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _AnomalyBlock:
    checker: str
    kind: str
    summary: str
    body: Markup
    render_error: str | None = None
    when: str | None = None
    number: int = 0


def _anomaly_span(anomaly: Anomaly, ctx: SectionContext) -> tuple[int, int] | None:
    """x positions from the first to the last operation the anomaly names (``None``: names none)."""
    spans = [op_span(ctx.axis, o) for o in (ctx.operation(i) for i in anomaly.ops) if o is not None]
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def _when(span: tuple[int, int] | None, ctx: SectionContext) -> str | None:
    """Where the anomaly sits relative to the faults, in one sentence."""
    if span is None:
        return None
    start, end = span
    unit = (lambda p: f"{p / 1e9:.3f} s") if ctx.axis.timed else (lambda p: f"event {p}")
    where = f"Its operations ran from {unit(start)} to {unit(end)}"
    during = [w for w in ctx.windows if w.start <= end and (w.end is None or w.end >= start)]
    if during:
        faults = "; ".join(f"{w.kind} from {unit(w.start)} to "
                           f"{unit(w.end) if w.end is not None else 'the end'}" for w in during)
        return f"{where}, while a fault was in effect: {faults}."
    before = [w for w in ctx.windows if w.end is not None and w.end < start]
    if before:
        last = max(before, key=lambda w: w.end or 0)
        return f"{where}, with no fault in effect; the last one ({last.kind}) healed at {unit(last.end or 0)}."
    return f"{where}, before any fault." if ctx.windows else f"{where}; no faults were injected."


def _anomaly(d: Any) -> Anomaly:
    """Tolerant :meth:`Anomaly.from_json`: a malformed record still shows what it has."""
    if not isinstance(d, Mapping):
        return Anomaly(kind="malformed", summary=_short(d), data={"record": d})
    data = d.get("data", {})
    ops = d.get("ops", ())
    return Anomaly(kind=str(d.get("kind", "unnamed")), summary=str(d.get("summary", "")),
                   ops=tuple(ops) if isinstance(ops, list) else (),
                   data=data if isinstance(data, Mapping) else {"data": data})


def _checker_rows(results: Mapping[str, Any]) -> list[_CheckerRow]:
    rows = []
    for name, res in results.get("checkers", {}).items():
        res = res if isinstance(res, Mapping) else {"valid": "unknown", "error": f"malformed: {_short(res)}"}
        children = res.get("children", {})
        stats = res.get("stats", {})
        rows.append(_CheckerRow(
            name=str(name), verdict=verdict_name(res.get("valid")),
            anomalies=tuple(_anomaly(a) for a in res.get("anomalies", ()) or ()),
            error=res.get("error"),
            stats=tuple(stats.items()) if isinstance(stats, Mapping) else (),
            children=tuple(
                _ChildRow(name=str(k), verdict=verdict_name(v.get("valid")),
                          n_anomalies=len(v.get("anomalies", ()) or ()), error=v.get("error"))
                for k, v in (children.items() if isinstance(children, Mapping) else ())
                if isinstance(v, Mapping)),
        ))
    return rows


_FIGURES = (  # (stats key, how to say it): the figures a checker or a run reports, in words
    ("ops", "{} ops"), ("ok", "{} ok"), ("fail", "{} failed"), ("info", "{} indeterminate"),
    ("keys", "{} keys"), ("searched", "{} searched"), ("dropped", "{} dropped before the search"),
    ("states_explored", "{} states explored"), ("cache_peak", "cache peak {}"),
    ("nemesis_events", "{} nemesis events"), ("duration_s", "{} s"), ("elapsed_s", "checked in {} s"),
    ("ops_per_s", "{} ops/s"), ("model", "model {}"))


def findings_of(stats: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A checker's findings that leave its verdict alone: each stats list whose items all carry a ``summary``.

    (``atomic-commit``'s ``held_long``: locks held past the bound, then
    released.) As (what, the summaries), in the stats' order: the report lists
    them under the verdicts, and :func:`figures_text` leaves them out.
    """
    out = []
    for k, v in stats.items():
        if isinstance(v, list) and v and all(isinstance(x, Mapping) and isinstance(x.get("summary"), str) for x in v):
            out.append((k.replace("_", " "), tuple(str(x["summary"]) for x in v)))
    return tuple(out)


def figures_text(stats: Mapping[str, Any], *, skip: tuple[str, ...] = ()) -> str:
    """A checker's or a run's figures as a phrase ("1732 ops, 100 keys, checked in 0.015 s"), not ``k=v`` pairs."""
    known = dict(_FIGURES)
    one = {"ops": "1 op", "keys": "1 key", "nemesis_events": "1 nemesis event"}
    parts = [one[k] if stats[k] == 1 and k in one else known[k].format(_short(stats[k], 40))
             for k, _ in _FIGURES if stats.get(k) is not None]
    listed = {what for what, _ in findings_of(stats)}
    parts += [f"{k.replace('_', ' ')} {_short(v, 40)}" for k, v in stats.items()
              if k not in known and k not in skip and k.replace("_", " ") not in listed]
    return ", ".join(parts)


def _facts(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    def show(v: Any) -> str:
        if isinstance(v, list):
            return ", ".join(str(x) for x in v) or "none"
        return "" if v is None else str(v)
    names = [("target", "target"), ("variant", "variant"), ("backend", "backend"), ("workload", "workload"),
             ("nodes", "nodes"), ("nemesis", "nemesis"), ("seed", "seed"), ("time limit (s)", "time_limit_s"),
             ("concurrency", "concurrency"), ("rate (ops/s)", "rate"), ("started at", "started_at"),
             ("run id", "run_id")]
    out = [(label, show(results[k])) for label, k in names if k in results]
    stats = results.get("stats")
    if isinstance(stats, Mapping) and stats:
        out.append(("operations", figures_text(stats, skip=("traffic",))))
        if isinstance(traffic := stats.get("traffic"), Mapping):  # nemesis.effect's record
            out.append(("faults on the nodes' traffic", str(traffic.get("warning") or traffic.get("error") or
                        f"cuts dropped the nodes' own packets ({traffic.get('source')} counters)")))
    return out


def _window_rows(windows: tuple[FaultWindow, ...], axis: Axis) -> list[FaultWindow]:
    """Windows with positions in the unit shown (seconds or index) for the table."""
    if not axis.timed:
        return list(windows)
    return [FaultWindow(kind=w.kind, start=round(w.start / 1e9, 3),  # type: ignore[arg-type]
                        end=None if w.end is None else round(w.end / 1e9, 3),  # type: ignore[arg-type]
                        start_index=w.start_index, end_index=w.end_index, detail=w.detail)
            for w in windows]


def _render_section(section: Section, anomaly: Anomaly, ctx: SectionContext) -> tuple[Markup, str | None]:
    try:
        return section.render(anomaly, ctx), None
    except Exception as e:  # noqa: BLE001 - a renderer bug must not cost the user the report
        return GENERIC.render(anomaly, ctx), f"{type(e).__name__}: {e}"


def _unshown(anomaly: Anomaly, body: Markup, ctx: SectionContext) -> list[int]:
    """The operations ``anomaly`` names (by invocation index, in its order) that ``body`` shows no row of.

    Rows mark each operation with ``data-op`` (``_oprow.html.j2``), index lists
    hold them in a ``span.op-indices`` (``_ops_table.html.j2``), whatever section drew them; so the page can keep the
    promise that every operation an anomaly names is on it.
    """
    shown = {int(m) for m in _DATA_OP.findall(body)}
    shown.update(int(i) for m in _OP_INDICES.findall(body) for i in m.split(", ") if i)
    out: dict[int, None] = {}
    for i in anomaly.ops:
        o = ctx.operation(i)
        if o is not None and o.invoke.index not in shown:
            out[o.invoke.index] = None
    return list(out)


def _with_named(anomaly: Anomaly, body: Markup, ctx: SectionContext, rows_left: int) -> tuple[Markup, int]:
    """``body``, then a table of the named operations it left out; and the page's rows still left."""
    rest = _unshown(anomaly, body, ctx)
    if not rest:
        return body, rows_left
    table = ctx.ops_table(rest, limit=rows_left)
    head = Markup('<h4 class="named-rest">The other {n} operations this anomaly names</h4>').format(n=len(rest))
    return body + head + table, max(0, rows_left - len(rest))


def render_report(run: RunData, *, sections: Mapping[str, Section] | None = None,
                  plotly_js: str | None = None) -> str:
    """The report page as a string (``plotly_js`` overrides the inlined bundle, for tests)."""
    if plotly_js is None:
        from plotly.offline import get_plotlyjs
        plotly_js = get_plotlyjs()
    registry = {**DEFAULT_SECTIONS, **(sections or {})}
    env = make_env()
    results = run.results
    history = run.history
    axis = axis_for(history) if history is not None else Axis(timed=False, end=0)
    windows = fault_windows(history, timed=axis.timed) if history is not None else ()
    ctx = SectionContext.of(history, axis=axis, windows=windows, env=env)
    checkers = _checker_rows(results)
    all_anomalies = [(c.name, a) for c in checkers for a in c.anomalies]
    blocks = []
    marks: list[tuple[str, int]] = []
    rows_left = MAX_NAMED_ROWS
    for n, (name, a) in enumerate(all_anomalies[:MAX_ANOMALIES], start=1):
        body, err = _render_section(section_for(a.kind, registry), a, ctx)
        body, rows_left = _with_named(a, body, ctx, rows_left)
        span = _anomaly_span(a, ctx)
        first = ctx.operation(a.ops[0]) if a.ops else None  # the failing op: checkers name it first
        if first is not None:
            marks.append((f"anomaly {n}", op_span(ctx.axis, first)[0]))
        elif span is not None:
            marks.append((f"anomaly {n}", span[0]))
        blocks.append(_AnomalyBlock(checker=name, kind=a.kind, summary=a.summary, body=body, render_error=err,
                                    when=_when(span, ctx), number=n))
    left_out = [_AnomalyBlock(checker=n, kind=a.kind, summary=a.summary, body=Markup(""))
                for n, a in all_anomalies[MAX_ANOMALIES:MAX_ANOMALIES + 500]]
    verdict = verdict_name(results.get("valid"))
    n_anom = len(all_anomalies)
    sentence = {
        "valid": "Every checker accepted the history.",
        "invalid": f"{n_anom} {'anomaly' if n_anom == 1 else 'anomalies'} found: the system did not hold.",
        "unknown": "At least one checker could not decide; see below why.",
    }[verdict]
    if results.get("status") not in (None, "done") and results.get("error"):  # killed, interrupted...
        sentence = f"The run did not finish ({results['status']}): {results['error']}. {sentence}"
    timeline = latency = throughput = clocks = latency_sampled = None
    if history is not None:
        highlight = {i for _, a in all_anomalies for i in a.ops if isinstance(i, int)}
        timeline = timeline_figure(history, windows, axis, highlight=highlight)
        latency_sampled = latency_chart(history, windows, axis, highlight=highlight)
        latency = latency_sampled.figure if latency_sampled is not None else None
        throughput = throughput_figure(history, windows, axis)
        clocks = clock_figure(history, windows, axis)
        for fig in (timeline.figure, latency, throughput, clocks):
            if fig is not None:
                mark_anomalies(fig, marks, axis)
    n_procs = timeline.n_lanes if timeline is not None else 0
    version = _version()
    return env.get_template("report.html.j2").render(
        r=_Results(results), verdict=verdict, verdict_sentence=sentence, checkers=checkers,
        facts=_facts(results), anomaly_blocks=blocks, anomalies_left_out=max(0, n_anom - MAX_ANOMALIES),
        left_out_summaries=left_out, windows=_window_rows(windows, axis),
        axis_unit="s" if axis.timed else "event", history_present=history is not None,
        timeline=timeline,
        timeline_div=(plot_div(timeline.figure, height=min(900, 160 + 22 * n_procs), css_class=RUN_CHART)
                      if timeline else None),
        latency_sampled=latency_sampled if latency_sampled is not None and latency_sampled.downsampled else None,
        share=share_text,
        latency_div=plot_div(latency, height=380, css_class=RUN_CHART) if latency else None,
        throughput_div=plot_div(throughput, height=300, css_class=RUN_CHART) if throughput else None,
        clock_div=plot_div(clocks, height=300, css_class=RUN_CHART) if clocks else None,
        version=version, run_dir_name=run.run_dir.name, plotly_js=Markup(plotly_js),
        eager_plots=EAGER_PLOTS, run_chart=RUN_CHART,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("splitbrain")
    except PackageNotFoundError:
        return "(not installed)"


class _Results:
    """Attribute access to results.json for the template; missing keys read as ``""``."""

    __slots__ = ("_d",)

    def __init__(self, d: Mapping[str, Any]):
        self._d = d

    def __getattr__(self, name: str) -> Any:
        v = self._d.get(name)
        return "" if v is None else v


def write_report(run_dir: str | Path, *, sections: Mapping[str, Section] | None = None,
                 out: str | Path | None = None) -> Path:
    """Render ``run_dir``'s report to ``run_dir/report.html`` (or ``out``); return its path.

    Raises :class:`harness.report.rundata.RunDirError` when the folder has no
    usable ``results.json`` or its history cannot be read. The file is replaced
    atomically, so a browser never sees half a report.
    """
    run = load_run(run_dir)
    page = render_report(run, sections=sections)
    path = Path(out) if out is not None else run.run_dir / REPORT
    write_text_atomic(path, page)
    return path
