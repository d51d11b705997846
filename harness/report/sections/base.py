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

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import jinja2
from markupsafe import Markup

from checkers.api import Anomaly
from harness.history import NEMESIS, History, Operation
from harness.report.charts import Axis
from harness.report.faults import FaultWindow

__all__ = ["MAX_LISTED", "OpRow", "OperationIndex", "Section", "SectionContext"]

MAX_LISTED = 20_000
"""Operations an ops table names by index alone, past its rows (about 8 bytes each on the page:
30 anomalies in full at most, so 5 MB at worst); past those, the table says how many more
results.json names."""


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
    end_index: int | None = None  # the completion's event index


class OperationIndex(Mapping[int, Operation]):
    """Event index -> the client operation it belongs to, without a table of every event up front.

    A report looks up a few hundred events of a history of millions. Operations
    are in invocation order, so an invocation is found by bisection on their
    invocation indices; a completion by looking back from there for the
    operation it completes (as many operations back as were in flight), and
    past :data:`SCAN_LIMIT` steps, or when the events' indices are not their
    positions, in a table of every event built once (what this replaces).
    """

    SCAN_LIMIT = 10_000

    def __init__(self, history: History):
        self._history = history
        self._invokes = [o.invoke.index for o in history.operations]
        self._table: dict[int, Operation] | None = None

    def _full(self) -> dict[int, Operation]:
        if self._table is None:
            ops = self._history.operations
            self._table = {o.invoke.index: o for o in ops}
            self._table.update({o.completion.index: o for o in ops if o.completion is not None})
        return self._table

    def __getitem__(self, event_index: int) -> Operation:
        o = self.get(event_index)
        if o is None:
            raise KeyError(event_index)
        return o

    def get(self, event_index: int, default: Any = None) -> Any:  # type: ignore[override]
        if self._table is not None:
            return self._table.get(event_index, default)
        operations, events = self._history.operations, self._history.ops
        k = bisect.bisect_left(self._invokes, event_index)
        if k < len(self._invokes) and self._invokes[k] == event_index:
            return operations[k]
        if not (0 <= event_index < len(events)) or events[event_index].index != event_index:
            return self._full().get(event_index, default)
        ev = events[event_index]
        if ev.process == NEMESIS:
            return default
        for j in range(k - 1, max(-1, k - 1 - self.SCAN_LIMIT), -1):
            c = operations[j].completion
            if c is ev:
                return operations[j]
        return self._full().get(event_index, default)

    def __iter__(self) -> Iterator[int]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())


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
        by_event: Mapping[int, Operation] = {} if history is None else OperationIndex(history)
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
            end_index=o.completion.index if o.completion is not None else None,
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
