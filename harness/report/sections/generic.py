"""The fallback section: the operations an anomaly names, and its data as a table.

Used for every anomaly kind with no section of its own, and by specific sections
for the parts of ``data`` they do not understand.
"""

from __future__ import annotations

from markupsafe import Markup

from checkers.api import Anomaly
from harness.report.sections.base import SectionContext

__all__ = ["GenericSection"]


class GenericSection:
    """Named operations (resolved against the history), then ``data`` key by key."""

    def render(self, anomaly: Anomaly, ctx: SectionContext) -> Markup:
        parts = []
        if anomaly.ops:
            parts.append(ctx.ops_table(list(anomaly.ops)))
        if anomaly.data:
            parts.append(ctx.generic_data(anomaly.data))
        return Markup("").join(parts)
