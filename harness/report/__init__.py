"""The HTML report: one self-contained ``report.html`` per run, and the runs index.

``write_report(run_dir)`` renders ``results.json`` + ``history.jsonl`` of a run
folder; ``write_index(store_root)`` lists every run under ``histories/``.
Checkers explain their anomalies through one interface, :class:`Section`
(:mod:`harness.report.sections`). See :mod:`harness.report.render` for the page.
"""

from harness.report.faults import FaultWindow, fault_windows
from harness.report.index import write_index
from harness.report.render import REPORT, write_report
from harness.report.rundata import RunDirError
from harness.report.sections import Section, SectionContext, section_for

__all__ = ["REPORT", "FaultWindow", "RunDirError", "Section", "SectionContext", "fault_windows",
           "section_for", "write_index", "write_report"]
