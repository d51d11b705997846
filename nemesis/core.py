"""The nemesis protocol, its no-op, composition by ``f``, and a validating wrapper.

A :class:`Nemesis` is Jepsen's nemesis in Python: the runner calls ``setup``
once with the open cluster (it returns the nemesis to use), then ``invoke`` for
each nemesis op the schedule emits, in order, from one thread, and ``teardown``
at the end, also after a failure. ``fs`` names the ops it handles (Jepsen's
``Reflection``), which is what :class:`Compose` routes by.

``invoke`` receives the first event of a fault (process ``"nemesis"``, type
``"info"``, ``f`` and ``value`` saying what to do) and returns a
:class:`~harness.client.Completion` of type ``"info"`` whose value says what it
did; the runner records that as the second event (see docs/DESIGN.md). A fault
that did not take effect is a completion with ``error`` set, never an
exception: a run goes on when a kill fails, and the history says so.

A nemesis may also report what happened on its own (a crash point firing):
``poll()``, :class:`harness.runner.EventSource`. :class:`Compose` and
:class:`Validate` pass it through (an empty list from nemeses without one).
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence, runtime_checkable

from harness.client import Completion
from harness.cluster import Cluster
from harness.history import Op
from harness.runner import NemesisEvent

__all__ = ["Compose", "Nemesis", "NemesisError", "Noop", "Validate", "info"]


class NemesisError(RuntimeError):
    """A nemesis was used against its contract (unknown ``f``, bad return value).

    The message names the nemesis and what is wrong; these are harness bugs or
    bad schedules, not faults that failed in the cluster.
    """


@runtime_checkable
class Nemesis(Protocol):
    """Injects faults into a cluster."""

    @property
    def fs(self) -> frozenset[str]:
        """The op names (``f``) this nemesis handles."""

    def setup(self, cluster: Cluster) -> "Nemesis":
        """Bind to ``cluster`` and return the nemesis to invoke (often ``self``)."""

    def invoke(self, op: Op) -> Completion:
        """Perform the fault ``op`` describes and say what happened (type ``"info"``)."""

    def teardown(self) -> None:
        """Release what ``setup`` took. Healing is the final generator's job, not this."""


def info(value: object = None, error: object = None) -> Completion:
    """A nemesis completion: always ``info``, as Jepsen records nemesis ops."""
    return Completion(type="info", value=value, error=error)


class Noop:
    """Does nothing, handles nothing: the nemesis of ``--nemesis none``."""

    fs: frozenset[str] = frozenset()

    def setup(self, cluster: Cluster) -> "Noop":
        return self

    def invoke(self, op: Op) -> Completion:
        return info(op.value, error=f"the no-op nemesis does not handle {op.f!r}")

    def teardown(self) -> None:
        return None


class Compose:
    """Several nemeses as one, each op routed by its ``f`` (Jepsen's ``nemesis/compose``).

    The nemeses' ``fs`` must not overlap: two nemeses claiming ``kill`` is a
    schedule that cannot be read unambiguously, so it is refused at construction.
    """

    def __init__(self, nemeses: Iterable[Nemesis]):
        self.nemeses: tuple[Nemesis, ...] = tuple(nemeses)
        self._route: dict[str, Nemesis] = {}
        for n in self.nemeses:
            for f in n.fs:
                if f in self._route:
                    raise NemesisError(
                        f"both {type(self._route[f]).__name__} and {type(n).__name__} handle "
                        f"{f!r}; compose nemeses whose ops are distinct")
                self._route[f] = n

    @property
    def fs(self) -> frozenset[str]:
        return frozenset(self._route)

    def setup(self, cluster: Cluster) -> "Compose":
        done: list[Nemesis] = []
        try:
            for n in self.nemeses:
                done.append(n.setup(cluster))
        except BaseException:
            for d in reversed(done):
                d.teardown()
            raise
        return Compose(done)

    def invoke(self, op: Op) -> Completion:
        target = self._route.get(op.f)
        if target is None:
            raise NemesisError(f"no nemesis handles {op.f!r}; this nemesis handles "
                               f"{sorted(self._route)}")
        return target.invoke(op)

    def poll(self) -> list[NemesisEvent]:
        """Every part's own events (parts without ``poll`` have none), in the parts' order."""
        out: list[NemesisEvent] = []
        for n in self.nemeses:
            poll = getattr(n, "poll", None)
            if poll is not None:
                out.extend(poll())
        return out

    def teardown(self) -> None:
        first: BaseException | None = None
        for n in reversed(self.nemeses):
            try:
                n.teardown()
            except Exception as e:  # tear every one down; report the first failure
                first = first or e
        if first is not None:
            raise first


class Validate:
    """Wraps a nemesis and checks that it keeps the contract (Jepsen's ``nemesis/validate``).

    Raises :class:`NemesisError` naming the wrapped nemesis when it is given an
    op it does not handle, when ``setup`` returns something that is not a
    nemesis, or when ``invoke`` returns anything but an ``info`` completion.
    """

    def __init__(self, nemesis: Nemesis):
        self.nemesis = nemesis

    @property
    def fs(self) -> frozenset[str]:
        return self.nemesis.fs

    def _name(self) -> str:
        return type(self.nemesis).__name__

    def setup(self, cluster: Cluster) -> "Validate":
        got = self.nemesis.setup(cluster)
        if not isinstance(got, Nemesis):
            raise NemesisError(f"{self._name()}.setup returned {type(got).__name__}, "
                               f"not a nemesis; return self or a new nemesis")
        return Validate(got)

    def invoke(self, op: Op) -> Completion:
        if op.process != "nemesis" or op.type != "info":
            raise NemesisError(f"{self._name()} was given a {op.type!r} op of process "
                               f"{op.process!r}; nemesis ops are process 'nemesis', type 'info'")
        if op.f not in self.nemesis.fs:
            raise NemesisError(f"{self._name()} does not handle {op.f!r}; it handles "
                               f"{sorted(self.nemesis.fs)}")
        got = self.nemesis.invoke(op)
        if not isinstance(got, Completion) or got.type != "info":
            raise NemesisError(f"{self._name()}.invoke({op.f!r}) returned {got!r}; "
                               f"a nemesis returns Completion(type='info', ...)")
        return got

    def poll(self) -> Sequence[NemesisEvent]:
        poll = getattr(self.nemesis, "poll", None)
        got = list(poll()) if poll is not None else []
        bad = [e for e in got if not isinstance(e, NemesisEvent)]
        if bad:
            raise NemesisError(f"{self._name()}.poll returned {bad[0]!r}; a nemesis's poll returns "
                               f"NemesisEvent(f=..., value=...) items")
        return got

    def teardown(self) -> None:
        self.nemesis.teardown()
