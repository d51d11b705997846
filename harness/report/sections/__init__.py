"""Anomaly sections by kind: the report's one extension point for checkers.

:data:`DEFAULT_SECTIONS` maps an anomaly ``kind`` to the :class:`Section` that
explains it; :func:`section_for` falls back to :class:`GenericSection`. The
mapping is read-only; a checker that wants its own section adds a row here
(one import and one line), and callers with private kinds pass their own
mapping to :func:`harness.report.write_report` (``sections=``), merged over this one.

Planned rows as the checkers land (issue 5): saga orders with step traces,
2PC outcomes per participant, Elle cycles in prose and as a graph.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from checkers.elle.cycles import CYCLE_ANOMALIES
from harness.report.sections.base import OpRow, Section, SectionContext
from harness.report.sections.elle import ElleCycleSection
from harness.report.sections.generic import GenericSection
from harness.report.sections.linear import LinearizabilitySection

__all__ = ["DEFAULT_SECTIONS", "ElleCycleSection", "GenericSection", "LinearizabilitySection", "OpRow", "Section",
           "SectionContext", "section_for"]

_LINEAR = LinearizabilitySection()

DEFAULT_SECTIONS: Mapping[str, Section] = MappingProxyType({
    "nonlinearizable": _LINEAR,
    "not-linearizable": _LINEAR,
    "linearizability": _LINEAR,
    **{kind: ElleCycleSection() for kind in CYCLE_ANOMALIES},  # G0 .. G2-item and variants
})

GENERIC: Section = GenericSection()


def section_for(kind: str, sections: Mapping[str, Section] = DEFAULT_SECTIONS) -> Section:
    """The section explaining anomalies of ``kind``; the generic one if none is registered."""
    return sections.get(kind, GENERIC)
