"""A node's step trace: every call it made for an order or a transaction, with times and outcome.

An observation record for the final reads and the report, never read by the
protocol (the ``seed`` variants keep their progress in memory, as the guide
does; this file does not change that). Each record is one JSON line appended
to ``trace.jsonl`` in the node's data dir, beside ``crashes.jsonl``, after
the call returned::

    {"node", "subject": order or txn id, "step": "processPayment" | "prepare" | ...,
     "to": the service called, "start", "end": wall seconds,
     "outcome": "ok" | "refused" | "unreachable", "error"?: str, "detail"?: any}

``unreachable`` is a call whose outcome the node does not know (a timeout, a
reset): the checker shows it as such, never as "not done". :meth:`StepTrace.call`
also writes a ``"sent"`` record (``end`` null) before the call, so a call the
node died in the middle of (a kill, a crash point in the callee's answer
path) still shows as sent and never answered; :meth:`StepTrace.read` drops the
``sent`` record of every call that has its full one. A line is written
with one ``write`` on a file opened for appending, so a SIGKILL loses at most
the call in flight (its record was never written) and never tears another.
The file is bounded by the run (a few thousand calls in 30 s).

Only the standard library, so a node runs in a container with bare python3.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from harness.node.http import Refused, Unreachable

__all__ = ["StepTrace"]

T = TypeVar("T")


class StepTrace:
    """Append-only trace of one node's calls (see the module docstring)."""

    def __init__(self, data_dir: str | Path, node: str) -> None:
        self.file = Path(data_dir) / "trace.jsonl"
        self.node = node
        self._mu = threading.Lock()

    def record(self, subject: Any, step: str, *, to: str | None = None, start: float | None = None,
               end: float | None = None, outcome: str = "ok", error: str | None = None,
               detail: Any = None) -> None:
        now = time.time()
        rec: dict[str, Any] = {"node": self.node, "subject": subject, "step": step, "to": to,
                               "start": now if start is None else start, "end": now if end is None else end,
                               "outcome": outcome}
        if outcome == "sent":
            rec["end"] = None
        if error is not None:
            rec["error"] = error[:300]
        if detail is not None:
            rec["detail"] = detail
        line = json.dumps(rec, default=str) + "\n"
        with self._mu, open(self.file, "a") as f:
            f.write(line)

    def call(self, subject: Any, step: str, to: str, fn: Callable[[], T],
             detail: Callable[[T], Any] | None = None) -> T:
        """Run ``fn`` (one call to ``to``), record its times and outcome, return its answer or re-raise."""
        start = time.time()
        self.record(subject, step, to=to, start=start, end=0.0, outcome="sent")
        try:
            out = fn()
        except Refused as e:
            self.record(subject, step, to=to, start=start, outcome="refused", error=str(e))
            raise
        except Unreachable as e:
            self.record(subject, step, to=to, start=start, outcome="unreachable", error=str(e))
            raise
        self.record(subject, step, to=to, start=start, detail=None if detail is None else detail(out))
        return out

    def read(self) -> list[dict[str, Any]]:
        """Every record, oldest first: a call's full record, or its ``sent`` one if it never got further.

        A torn last line, from a write cut short, is skipped.
        """
        if not self.file.exists():
            return []
        out = []
        for line in self.file.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue

        def call_of(r: dict[str, Any]) -> tuple[Any, ...]:
            return (r.get("subject"), r.get("step"), r.get("to"), r.get("start"))
        done = {call_of(r) for r in out if r.get("outcome") != "sent"}
        return [r for r in out if r.get("outcome") != "sent" or call_of(r) not in done]
