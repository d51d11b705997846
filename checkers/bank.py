"""Jepsen's bank checker: transfers between accounts must conserve the total.

Ops: ``transfer`` (any value; not judged) and ``read`` whose ``ok`` value maps
account to balance. Every ``ok`` read must hold only known accounts
(``accounts``, when given), a balance for each, no negative balance unless
``negative_balances=True``, and balances summing to ``total`` (when not given,
the total of the first ``ok`` read). Each bad read is an
:class:`~checkers.api.Anomaly` of kind ``wrong-total``, ``negative-value``,
``unexpected-key`` or ``nil-balance`` (``jepsen.tests.bank/checker``).
Account names are compared as strings (EDN and JSON map keys both arrive so).
"""

from __future__ import annotations

from typing import Any, Iterable

from checkers.api import Anomaly, CheckResult, Verdict
from harness.history import History

__all__ = ["Bank"]

LIMIT = 8


class Bank:
    """The bank checker (see the module docstring)."""

    def __init__(self, *, total: int | None = None, accounts: Iterable[Any] | None = None,
                 negative_balances: bool = False, name: str = "bank"):
        self.total = total
        self.accounts = None if accounts is None else {str(a) for a in accounts}
        self.negative_balances = negative_balances
        self.name = name

    def check(self, history: History) -> CheckResult:
        total = self.total
        found: dict[str, list[Anomaly]] = {}
        n_reads = 0
        for o in history.operations:
            if o.f != "read" or o.status != "ok":
                continue
            n_reads += 1
            value = o.completion.value  # type: ignore[union-attr]
            idx = o.completion.index  # type: ignore[union-attr]
            at = f"the read completed at index {idx} (process {o.process})"

            def note(kind: str, summary: str, **data: Any) -> None:
                found.setdefault(kind, []).append(Anomaly(kind=kind, summary=f"{at} {summary}", ops=(idx,),
                                                          data={"read": value, **data}))

            if not isinstance(value, dict):
                note("nil-balance", f"returned {value!r}, not a map of balances")
                continue
            bal = {str(k): v for k, v in value.items()}
            if self.accounts is not None:
                extra = sorted(set(bal) - self.accounts)
                if extra:
                    note("unexpected-key", f"holds unknown account(s) {extra}", keys=extra)
            nil = sorted(k for k, v in bal.items() if not isinstance(v, (int, float)))
            if nil:
                note("nil-balance", f"has no balance for account(s) {nil}", keys=nil)
                continue
            if not self.negative_balances:
                neg = {k: v for k, v in bal.items() if v < 0}
                if neg:
                    note("negative-value", f"has negative balance(s) {neg}", negative=neg)
            s = sum(bal.values())
            if total is None:
                total = s
            elif s != total:
                note("wrong-total", f"sums to {s}, not {total}", total=s, expected=total)
        anomalies = tuple(a for v in found.values() for a in v[:LIMIT])
        verdict = Verdict.INVALID if found else Verdict.VALID if n_reads else Verdict.UNKNOWN
        return CheckResult(checker=self.name, verdict=verdict, anomalies=anomalies,
                           stats={"reads": n_reads, "total": total,
                                  "counts": {k: len(v) for k, v in found.items()}},
                           error=None if n_reads else "no ok read")
