"""A run in which no operation succeeded proves nothing: its verdict is unknown, not valid.

A history whose every client operation failed or timed out is trivially
linearizable (nothing happened), so a checker calls it valid. That is how a
client that never reached its nodes, a wrong port, or a cluster that never
formed would pass. :class:`RequireSuccess` wraps the run's checker and turns a
``VALID`` verdict on such a history into ``UNKNOWN`` with the reason, counting
what did happen. An ``INVALID`` verdict is kept: an anomaly found among failed
and indeterminate operations is still an anomaly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from checkers.api import Checker, CheckResult, Verdict, check_safe
from harness.history import History

__all__ = ["RequireSuccess", "no_success_reason"]


def no_success_reason(history: History) -> str | None:
    """Why the history shows nothing, or None when some client operation completed ``ok``."""
    counts = Counter(o.status for o in history.operations)
    if counts["ok"]:
        return None
    if not history.operations:
        return "no client operation was invoked, so the history shows nothing"
    return (f"no operation succeeded: {len(history.operations)} invoked, {counts['fail']} failed, "
            f"{counts['info']} indeterminate (info); a valid verdict would prove nothing: check "
            f"that the client reaches the nodes (the node logs, the first errors in the history)")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequireSuccess:
    """``checker``'s result, but ``UNKNOWN`` (with the reason) where it is ``VALID`` and nothing succeeded."""

    checker: Checker

    @property
    def name(self) -> str:
        return getattr(self.checker, "name", type(self.checker).__name__)

    def check(self, history: History) -> CheckResult:
        result = check_safe(self.checker, history)
        reason = no_success_reason(history)
        if reason is None or result.verdict is not Verdict.VALID:
            return result
        return replace(result, verdict=Verdict.UNKNOWN, error=reason)
