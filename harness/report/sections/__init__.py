"""Anomaly sections by kind: the report's one extension point for checkers.

:data:`DEFAULT_SECTIONS` maps an anomaly ``kind`` to the :class:`Section` that
explains it; :func:`section_for` falls back to :class:`GenericSection`. The
mapping is read-only; a checker that wants its own section adds a row here
(one import and one line), and callers with private kinds pass their own
mapping to :func:`harness.report.write_report` (``sections=``), merged over this one.

Saga anomalies (:mod:`checkers.saga`) and atomic-commit ones
(:mod:`checkers.atomic_commit`) get the lane section: each named order or
transaction on one lane per service or participant, against time.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from checkers.atomic_commit import KINDS as ATOMIC_COMMIT_KINDS
from checkers.elle.cycles import CYCLE_ANOMALIES
from checkers.saga import KINDS as SAGA_KINDS
from harness.report.sections.base import OpRow, Section, SectionContext
from harness.report.sections.elle import ElleCycleSection
from harness.report.sections.generic import GenericSection
from harness.report.sections.lanes import SAGA, TWO_PC, LaneSection
from harness.report.sections.linear import LinearizabilitySection

__all__ = ["DEFAULT_SECTIONS", "ElleCycleSection", "GenericSection", "LaneSection", "LinearizabilitySection", "OpRow",
           "Section", "SectionContext", "section_for"]

_LINEAR = LinearizabilitySection()

DEFAULT_SECTIONS: Mapping[str, Section] = MappingProxyType({
    "nonlinearizable": _LINEAR,
    "not-linearizable": _LINEAR,
    "linearizability": _LINEAR,
    **{kind: ElleCycleSection() for kind in CYCLE_ANOMALIES},  # G0 .. G2-item and variants
    **{kind: SAGA for kind in SAGA_KINDS},  # orders on one lane per service
    **{kind: TWO_PC for kind in ATOMIC_COMMIT_KINDS},  # transactions on one lane per participant
})

GENERIC: Section = GenericSection()


def section_for(kind: str, sections: Mapping[str, Section] = DEFAULT_SECTIONS) -> Section:
    """The section explaining anomalies of ``kind``; the generic one if none is registered."""
    return sections.get(kind, GENERIC)
