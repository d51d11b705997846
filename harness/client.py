"""The client protocol: how a worker talks to one node of the system under test.

Jepsen's client, in Python. The runner calls ``open`` once per worker to get a
client bound to a node, ``setup`` once on the first client before any op,
``invoke`` for every operation, and ``teardown`` then ``close`` at the end.

``open(node, address, context)`` receives the run's
:class:`~harness.target.WorkloadContext` (variant, ``--option`` settings,
nodes, concurrency), as Jepsen's ``open!`` receives the test map: a client-side
setting (a timeout, a consistency level) is read from ``context.options``, never
from a module global. Clients written before the context existed define
``open(node, address)``; :func:`open_client` calls either kind.

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

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.cluster import Address
from harness.history import Op

if TYPE_CHECKING:
    from harness.target import WorkloadContext

__all__ = ["Client", "Completion", "open_client"]


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
    def open(self, node: str, address: Address, context: "WorkloadContext") -> "Client":
        """Return a new client bound to ``node``. Must not change the system's logical state."""

    def setup(self) -> None:
        """Once per run, before any op (create tables, seed data)."""

    def invoke(self, op: Op) -> Completion:
        """Perform ``op`` (an ``invoke`` event: ``op.f``, ``op.value``) and say how it ended."""

    def teardown(self) -> None:
        """Once per run, after the last op."""

    def close(self) -> None:
        """Release this client's connections."""


def open_client(client: Any, node: str, address: Address, context: "WorkloadContext") -> Client:
    """``client.open(node, address, context)``, or ``client.open(node, address)`` for an old client.

    An old client is one whose ``open`` takes two arguments: it keeps working,
    without the context. A parameter named ``context`` gets it by keyword.
    Whatever ``open`` raises propagates unchanged.
    """
    how = _context_passing(client.open)
    if how == "keyword":
        return client.open(node, address, context=context)
    if how == "positional":
        return client.open(node, address, context)
    return client.open(node, address)


def _context_passing(open_: Any) -> str | None:
    try:
        params = list(inspect.signature(open_).parameters.values())
    except (TypeError, ValueError):  # a builtin or C extension: assume the current protocol
        return "positional"
    if any(p.name == "context" and p.kind is not p.POSITIONAL_ONLY for p in params):
        return "keyword"
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in params):
        return "positional"
    return None
