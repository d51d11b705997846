"""The lane section: for saga and 2PC anomalies, the explanation first, then one lane chart per named subject.

The saga checker (:mod:`checkers.saga`) and the atomic-commit checker
(:mod:`checkers.atomic_commit`) put into each anomaly's ``data`` a list of
lane traces (``lanes``, :mod:`checkers.lanes`) and the ``explanation``
told from them. This section prints the explanation, then for each traced
order or transaction its chart (:func:`harness.report.lanes.lanes_figure`)
and, folded, the same events as a table; the client's operations the
anomaly names; and whatever else ``data`` holds in the generic table. An
anomaly without traces (an older run, a kind that names no order) gets the
explanation and the generic view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from checkers.api import Anomaly
from harness.report.embed import plot_div
from harness.report.lanes import lanes_figure, trace_rows
from harness.report.sections.base import SectionContext

__all__ = ["LaneSection", "SAGA", "TWO_PC"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneSection:
    """Explanation, lane charts, event tables; ``subject_word`` names what a trace is of."""

    subject_word: str
    lane_word: str
    legend: str
    skip: tuple[str, ...] = ("lanes", "explanation")

    def render(self, anomaly: Anomaly, ctx: SectionContext) -> Markup:
        data = anomaly.data
        given = data.get("lanes")
        traces = [t for t in given if isinstance(t, dict)] if isinstance(given, list) else []
        subjects = []
        for t in traces:
            fig = lanes_figure(t)
            n = len(t.get("lanes", [])) if isinstance(t.get("lanes"), list) else 4
            subjects.append({"subject": str(t.get("subject", "")), "title": str(t.get("title") or t.get("subject")),
                             "figure": None if fig is None else plot_div(fig, height=150 + 52 * n,
                                                                         css_class="sb-lanes"),
                             "rows": trace_rows(t)})
        named = data.get("orders", data.get("txns"))
        more = max(0, len(named) - len(traces)) if isinstance(named, list) and traces else 0
        explanation = data.get("explanation")
        parts = [ctx.template("_lanes.html.j2", explanation=explanation if isinstance(explanation, str) else None,
                              subjects=subjects, subject_word=self.subject_word, lane_word=self.lane_word,
                              legend=self.legend, more=more)]
        if anomaly.ops:
            parts.append(ctx.ops_table(list(anomaly.ops)))
        rest: dict[str, Any] = {k: v for k, v in data.items() if k not in self.skip}
        if rest:
            parts.append(ctx.generic_data(rest))
        return Markup("").join(parts)


SAGA = LaneSection(subject_word="order", lane_word="service (and the client and orchestrator)",
                   legend="A V from the orchestrator to a service is one call and its answer (dotted: none came); "
                          "markers are the rows each service wrote: steps green, compensations purple, what the "
                          "final read still found red at the right edge.")
TWO_PC = LaneSection(subject_word="transaction", lane_word="participant (and the coordinator and client)",
                     legend="A V from the coordinator to a participant is one message and its answer (the vote, the "
                            "ack; dotted: none came); brown bars are locks held from the prepare; commits green, "
                            "aborts purple, the decision a blue star, what the final read still found red.")
