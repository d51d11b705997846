"""The one interface through which a checker explains its anomalies in the report.

A :class:`Section` turns one :class:`~checkers.api.Anomaly` into an HTML
fragment (:class:`markupsafe.Markup`). The page prints the anomaly's kind and
summary itself; the section adds the explanation: tables, a timeline, prose.
Sections are chosen by the anomaly's ``kind`` (see :mod:`harness.report.sections`);
kinds nobody registered get the generic section, so a new checker shows up in
the report before anyone writes a renderer for it.

Contract for implementers: ``render`` is pure, must not raise on unexpected
``data`` (render what you understand, hand the rest to
:meth:`SectionContext.generic_data`), and must escape every value: render
through :meth:`SectionContext.template` (autoescaping Jinja) or
:func:`markupsafe.escape`, and put figures in the page with
:func:`harness.report.embed.plot_div`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import jinja2
from markupsafe import Markup

from checkers.api import Anomaly
from harness.history import History, Operation
from harness.report.charts import Axis
from harness.report.faults import FaultWindow

__all__ = ["MAX_LISTED", "OpRow", "Section", "SectionContext"]

MAX_LISTED = 100_000
"""Operations an ops table names by index alone, past its rows (about 8 bytes each on the page)."""


@runtime_checkable
class Section(Protocol):
    """Explains anomalies of one kind."""

    def render(self, anomaly: Anomaly, ctx: "SectionContext") -> Markup: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class OpRow:
    """An operation as a table row: its events resolved against the history."""

    index: int
    process: Any
    f: str
    status: str
    invoke_value: Any
    value: Any
    error: Any
    start_s: float | None
    latency_ms: float | None
    node: str | None
    end_s: float | None = None
    line: int | None = None  # the invocation's line in history.jsonl, when known


@dataclass(frozen=True, slots=True, kw_only=True)
class SectionContext:
    """What a section may use besides the anomaly: the history and page helpers."""

    history: History | None
    axis: Axis
    windows: Sequence[FaultWindow]
    env: jinja2.Environment
    by_event: Mapping[int, Operation] = field(default_factory=dict)

    @classmethod
    def of(cls, history: History | None, *, axis: Axis, windows: Sequence[FaultWindow],
           env: jinja2.Environment) -> "SectionContext":
        by_event: dict[int, Operation] = {}
        if history is not None:
            for o in history.operations:
                by_event[o.invoke.index] = o
                if o.completion is not None:
                    by_event[o.completion.index] = o
        return cls(history=history, axis=axis, windows=windows, env=env, by_event=by_event)

    def operation(self, event_index: Any) -> Operation | None:
        """The client operation one of whose events has this index, if any."""
        if isinstance(event_index, int) and not isinstance(event_index, bool):
            return self.by_event.get(event_index)
        return None

    def row(self, o: Operation) -> OpRow:
        t0, t1 = o.invoke.time, (o.completion.time if o.completion is not None else None)
        return OpRow(
            index=o.invoke.index, process=o.process, f=o.f, status=o.status,
            invoke_value=o.invoke.value, value=o.completion.value if o.completion is not None else None,
            error=o.completion.error if o.completion is not None else None,
            start_s=None if t0 is None else round(t0 / 1e9, 6),
            latency_ms=None if (t0 is None or t1 is None) else round((t1 - t0) / 1e6, 3),
            node=o.invoke.node or (o.completion.node if o.completion is not None else None),
            end_s=None if t1 is None else round(t1 / 1e9, 6), line=self.line_of(o.invoke.index),
        )

    def line_of(self, event_index: int) -> int | None:
        """The history file line of the event with this index, if the history was read from a file."""
        h = self.history
        if h is None or h.lines is None:
            return None
        if len(h.ops) > event_index >= 0 and h.ops[event_index].index == event_index:
            return h.lines[event_index]
        return None

    def template(self, name: str, **values: Any) -> Markup:
        """Render a template from ``harness/report/templates`` (autoescaped)."""
        return Markup(self.env.get_template(name).render(**values))

    def generic_data(self, data: Mapping[str, Any], *, skip: Sequence[str] = ()) -> Markup:
        """A key/value table of whatever ``data`` holds (nested values as JSON)."""
        items = [(k, v) for k, v in data.items() if k not in skip]
        return self.template("_data_table.html.j2", items=items)

    def ops_table(self, event_indices: Sequence[Any], *, limit: int = 200) -> Markup:
        """A table of the operations named by ``event_indices`` (unknown ones listed apart).

        The first ``limit`` are rows; the others are named by their index after
        the table (up to :data:`MAX_LISTED`), so none goes unmentioned.
        """
        seen: set[int] = set()
        rows: list[OpRow] = []
        missing: list[Any] = []
        for i in event_indices:
            o = self.operation(i)
            if o is None:
                missing.append(i)
            elif o.invoke.index not in seen:
                seen.add(o.invoke.index)
                rows.append(self.row(o))
        limit = max(0, limit)
        return self.template("_ops_table.html.j2", rows=rows[:limit], more=[r.index for r in rows[limit:]],
                             max_listed=MAX_LISTED, missing=missing[:50])
