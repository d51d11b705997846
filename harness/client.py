"""The client protocol: how a worker talks to one node of the system under test.

Jepsen's client, in Python. The runner calls ``open`` once per worker to get a
client bound to a node, ``setup`` once on the first client before any op,
``invoke`` for every operation, and ``teardown`` then ``close`` at the end.

``invoke`` receives the invocation and returns a :class:`Completion`:

* ``ok``   the operation took effect; ``value`` is its result (a read's value).
* ``fail`` it certainly did not take effect (the system said so definitely).
* ``info`` the outcome is unknown (timeout, connection reset mid-request).

If ``invoke`` raises, the runner records ``info`` with the exception as error:
an unexpected exception is never taken as proof that nothing happened. A
client must bound every request with a timeout so that a partition or a paused
node turns into ``info`` instead of a hung worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from harness.cluster import Address
from harness.history import Op

__all__ = ["Client", "Completion"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    type: str  # "ok" | "fail" | "info"
    value: Any = None
    error: Any = None

    def __post_init__(self) -> None:
        if self.type not in ("ok", "fail", "info"):
            raise ValueError(f'Completion.type must be "ok", "fail" or "info" (not {self.type!r})')


@runtime_checkable
class Client(Protocol):
    def open(self, node: str, address: Address) -> "Client":
        """Return a new client bound to ``node``. Must not change the system's logical state."""

    def setup(self) -> None:
        """Once per run, before any op (create tables, seed data)."""

    def invoke(self, op: Op) -> Completion:
        """Perform ``op`` (an ``invoke`` event: ``op.f``, ``op.value``) and say how it ended."""

    def teardown(self) -> None:
        """Once per run, after the last op."""

    def close(self) -> None:
        """Release this client's connections."""
