"""Packet faults: delay, loss, duplication and reordering of what nodes send (Jepsen's ``net`` shape).

``start-packet`` takes ``{"nodes": [...], "behaviour": {"delay_ms": 50, ...}}``
(a :class:`~harness.cluster.PacketFault` as JSON), shapes what those nodes send
to the other nodes (:meth:`~harness.cluster.PacketShapeable.shape`), then
verifies it on the path the nodes' traffic takes, as partitions are verified:

* it measures TCP connects from a shaped node to a peer's peer port before and
  after shaping (:meth:`measure_link` of the backend): a delay must raise the
  median connect time by at least half the delay; a loss must lose connects
  or show in the rule counters;
* where the backend counts its rules (``packet_hits``: iptables), the loss,
  duplication and delay rules must each have hit packets of that measurement.

Only then is the completion ``"verified": true``. A backend that cannot shape
packets (the local proxies) makes ``setup``
refuse with one sentence saying so (an environment error: exit 4). ``stop-packet`` removes every shape.

Behaviours drawn by the schedule (:func:`draw_behaviour`), after Jepsen's
defaults: delay 50 ms +- 10 ms; loss 20 %; duplication 20 %; reordering 20 %
(of packets sent ahead of others delayed 50 ms).
"""

from __future__ import annotations

import random
import statistics
from dataclasses import asdict
from typing import Any, Sequence

from harness.client import Completion
from harness.cluster import Cluster, EnvironmentError_, PacketFault, PacketShapeable
from harness.history import Op
from nemesis.core import NemesisError, info

__all__ = ["BEHAVIOURS", "PacketNemesis", "START", "STOP", "draw_behaviour"]

START = "start-packet"
STOP = "stop-packet"

_UNAVAILABLE = {
    "LocalCluster": "its links are TCP proxies, which see streams, not packets",
}

BEHAVIOURS: dict[str, PacketFault] = {
    "delay": PacketFault(delay_ms=50.0, jitter_ms=10.0),
    "loss": PacketFault(loss=0.2),
    "duplicate": PacketFault(duplicate=0.2),
    "reorder": PacketFault(delay_ms=50.0, reorder=0.2),
}


def draw_behaviour(rng: random.Random) -> dict[str, Any]:
    """One of :data:`BEHAVIOURS`, as the JSON an op carries (with its name)."""
    name = rng.choice(sorted(BEHAVIOURS))
    return {"name": name, **asdict(BEHAVIOURS[name])}


def _fault(value: Any) -> PacketFault:
    b = value.get("behaviour") if isinstance(value, dict) else None
    if isinstance(b, str):
        if b not in BEHAVIOURS:
            raise ValueError(f"unknown packet behaviour {b!r}; expected one of {sorted(BEHAVIOURS)}")
        return BEHAVIOURS[b]
    if not isinstance(b, dict):
        raise ValueError(f'start-packet needs {{"nodes": [...], "behaviour": {{...}}}} (not {value!r})')
    fields = {k: float(v) for k, v in b.items() if k in PacketFault.__dataclass_fields__}
    return PacketFault(**fields)


class PacketNemesis:
    """Shapes packets, verified by measurement (see the module docstring).

    ``probes``: connects per measurement; ``timeout_s``: per connect.
    """

    fs = frozenset({START, STOP})

    def __init__(self, *, probes: int = 10, timeout_s: float = 1.0, seed: int = 0):
        self.probes = probes
        self.timeout_s = timeout_s
        self._rng = random.Random(seed)
        self._cluster: Any = None
        self._nodes: tuple[str, ...] = ()

    def setup(self, cluster: Cluster) -> "PacketNemesis":
        if not isinstance(cluster, PacketShapeable):
            why = _UNAVAILABLE.get(type(cluster).__name__, "it has no way to shape packets")
            raise EnvironmentError_(f"packet faults are unavailable on the {type(cluster).__name__} backend "
                                    f"({why}); drop 'packet' from --nemesis or use --backend netns")
        self._cluster = cluster
        self._nodes = tuple(cluster.nodes)
        return self

    def teardown(self) -> None:
        return None

    def invoke(self, op: Op) -> Completion:
        if self._cluster is None:
            raise NemesisError("PacketNemesis.invoke before setup; call setup(cluster) first")
        if op.f == START:
            return self._start(op.value)
        if op.f == STOP:
            try:
                self._cluster.unshape()
            except Exception as e:
                return info({"verified": False}, error=f"unshape failed: {e!r}")
            return info({"verified": True})
        raise NemesisError(f"PacketNemesis does not handle {op.f!r}; it handles {sorted(self.fs)}")

    def _start(self, value: Any) -> Completion:
        try:
            fault = _fault(value)
            nodes = [str(n) for n in value.get("nodes", [])]
            if not nodes or set(nodes) - set(self._nodes):
                raise ValueError(f"start-packet needs nodes among {list(self._nodes)} (not {nodes!r})")
        except (ValueError, TypeError, AttributeError) as e:
            return info({"verified": False}, error=str(e))
        out: dict[str, Any] = {"nodes": sorted(nodes), "behaviour": asdict(fault)}
        src = nodes[0]
        dst = next((n for n in self._nodes if n not in nodes), None) or next(n for n in self._nodes if n != src)
        measure = getattr(self._cluster, "measure_link", None)
        try:
            before = measure(src, dst, count=self.probes, timeout=self.timeout_s) if measure else None
            self._cluster.shape(nodes, fault)
            after = measure(src, dst, count=self.probes, timeout=self.timeout_s) if measure else None
            hits = self._cluster.packet_hits().get(src, {}) if hasattr(self._cluster, "packet_hits") else None
        except Exception as e:
            out["verified"] = False
            self._undo()
            return info(out, error=f"packet fault failed: {e!r}")
        verdict, why = _verify(fault, before, after, hits)
        out["probe"] = {"link": [src, dst], "before": _summary(before), "after": _summary(after), "hits": hits}
        out["verified"] = verdict
        if not verdict:
            self._undo()
            return info(out, error=f"packet fault not in effect on {src}->{dst}: {why}; it was undone")
        return info(out)

    def _undo(self) -> None:
        try:
            self._cluster.unshape()
        except Exception:
            pass


def _summary(m: dict[str, Any] | None) -> dict[str, Any] | None:
    if m is None:
        return None
    rtts = m.get("rtt_ms") or []
    return {"sent": m.get("sent"), "lost": m.get("lost"),
            "median_ms": round(statistics.median(rtts), 3) if rtts else None}


def _verify(fault: PacketFault, before: dict | None, after: dict | None,
            hits: dict[str, int] | None) -> tuple[bool, str]:
    """Whether the measurement shows ``fault``; (ok, what is missing)."""
    missing: list[str] = []
    if hits is not None:  # rule counters: each mechanism must have touched the probes' packets
        if fault.loss and not hits.get("loss"):
            missing.append("the loss rule dropped nothing")
        if fault.duplicate and not hits.get("dup"):
            missing.append("the duplication rule copied nothing")
        if (fault.delay_ms or fault.reorder) and not hits.get("delay"):
            missing.append("the delay queue held nothing")
    if before is not None and after is not None:
        b = _summary(before)["median_ms"] or 0.0  # type: ignore[index]
        a = _summary(after)["median_ms"]  # type: ignore[index]
        if fault.delay_ms and fault.reorder == 0 and (a is None or a - b < fault.delay_ms / 2):
            missing.append(f"median connect time {b:.1f} -> {a} ms, expected +{fault.delay_ms / 2:g} ms or more")
        if fault.loss and hits is None and not after.get("lost"):
            missing.append("no connect was lost")
    if hits is None and (before is None or after is None):
        missing.append("the backend can neither measure nor count its packet rules")
    return (not missing, "; ".join(missing))


def packet_targets(nodes: Sequence[str], rng: random.Random) -> list[str]:
    """The nodes whose sending is shaped: one, or a minority (as kill and pause pick)."""
    from nemesis.process import pick_targets

    return pick_targets(nodes, rng)
