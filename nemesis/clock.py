"""Clock faults: skew nodes' wall clocks, one node at a time, without touching the host's clock.

A run with ``--nemesis clock`` starts every node under libfaketime
(``ClusterSpec.clock``, :mod:`harness.faketime`) on every backend, containers
included; :class:`ClockNemesis` sets a node's offset through the backend
(:class:`~harness.cluster.ClockSkewable`), then *verifies* it by reading the
node's clock through the target (``Target.clock``, e.g. the quorum store's
``GET /time``): the offset measured, against the harness's own clock around
the probe, must be the one requested within ``tolerance_ms`` plus half the
probe's round trip. A skew that did not take effect (a node started without
the preload, a node that does not answer) is an ``error`` in the completion,
naming the node, the offset requested and the one measured: never a silent
no-op.

Ops (Jepsen's clock nemesis, in ms):

``clock-offset``  ``{"offsets_ms": {"n1": 5000}}``: set offsets.
``clock-bump``    ``{"deltas_ms": {"n1": -250}}``: add to the current offsets.
``clock-strobe``  ``{"nodes": [...], "delta_ms": D, "period_ms": P, "duration_ms": T}``:
                  verify the offset ``+ D``, then flip between the current offset
                  and ``+ D`` every ``P`` ms for ``T`` ms from the completion, in a
                  thread of the nemesis; the next op (a reset) ends it early.
``clock-reset``   ``{"nodes": [...]}``, or ``None``/``"all"`` for every node: offset 0.

Every completion says ``"offsets_ms"`` (each node acted on whose offset was
verified -> its offset now: what :mod:`harness.clock_offsets` reads back),
``"requested_ms"``, ``"measured_ms"``, ``"verified"`` and, for a strobe,
``"strobe"`` (its base offsets are the ``offsets_ms``); the op after a strobe
says how often it flipped (``"strobe_toggles"``); ``"failed"`` names the nodes
whose skew did not take effect, and why.

:func:`draw` makes the schedule's episodes (:mod:`nemesis.package`): a bump of
one node or a minority by 128 ms to 16 s either way, or a strobe; the heal is
a reset of those nodes.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from harness.client import Completion
from harness.clock_offsets import BUMP, CLOCK_FS, OFFSET, RESET, STROBE
from harness.cluster import Address, ClockSkewable, Cluster, EnvironmentError_
from harness.history import Op
from nemesis.core import NemesisError, info

__all__ = ["BUMP", "ClockNemesis", "OFFSET", "RESET", "STROBE", "apply", "draw", "measure", "within"]

Probe = Callable[[Address], float]


# --- pure: offset arithmetic and the measurement ---------------------------------

def _ms(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != x or abs(x) > 1e10:
        raise ValueError(f"{what} must be a finite number of ms (not {x!r})")
    return float(x)


def apply(f: str, value: Any, current: Mapping[str, float], nodes: Sequence[str]) -> dict[str, float]:
    """The offsets ``f`` asks for, node -> ms (strobe: its base, the current offset); ``ValueError`` if malformed."""
    def known(names: Any) -> list[str]:
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{f}: expected a non-empty list of node names (not {names!r})")
        unknown = sorted(set(names) - set(nodes))
        if unknown:
            raise ValueError(f"{f}: unknown node(s) {unknown}; the cluster has {list(nodes)}")
        return list(dict.fromkeys(names))

    v = value if isinstance(value, Mapping) else {}
    if f == OFFSET:
        got = v.get("offsets_ms")
        if not isinstance(got, Mapping):
            raise ValueError(f'{f} needs {{"offsets_ms": {{node: ms}}}} (not {value!r})')
        return {n: _ms(got[n], f"{f} of {n}") for n in known(list(got))}
    if f == BUMP:
        got = v.get("deltas_ms")
        if not isinstance(got, Mapping):
            raise ValueError(f'{f} needs {{"deltas_ms": {{node: ms}}}} (not {value!r})')
        return {n: current.get(n, 0.0) + _ms(got[n], f"{f} of {n}") for n in known(list(got))}
    if f == STROBE:
        return {n: current.get(n, 0.0) for n in known(v.get("nodes"))}
    if f == RESET:
        if value is None or value == "all" or v.get("nodes") in (None, "all"):
            return {n: 0.0 for n in nodes}
        return {n: 0.0 for n in known(v.get("nodes"))}
    raise ValueError(f"not a clock op: {f!r}")


def strobe_params(value: Any) -> tuple[float, float, float]:
    """``(delta_ms, period_ms, duration_ms)`` of a strobe; ``ValueError`` unless period and duration are > 0."""
    v = value if isinstance(value, Mapping) else {}
    delta = _ms(v.get("delta_ms"), "delta_ms")
    period, duration = _ms(v.get("period_ms"), "period_ms"), _ms(v.get("duration_ms"), "duration_ms")
    if period <= 0 or duration <= 0:
        raise ValueError(f"a strobe needs period_ms and duration_ms > 0 (not {period:g}, {duration:g})")
    return delta, period, duration


def measure(before_s: float, node_s: float, after_s: float) -> tuple[float, float]:
    """The node's offset in ms from one probe, and its uncertainty (half the round trip, ms)."""
    return (node_s - (before_s + after_s) / 2) * 1000.0, max(0.0, after_s - before_s) * 500.0


def within(requested_ms: float, measured_ms: float, uncertainty_ms: float, tolerance_ms: float) -> bool:
    """Whether a measured offset is the requested one."""
    return abs(measured_ms - requested_ms) <= tolerance_ms + uncertainty_ms


def draw(rng: random.Random, targets: Sequence[str], interval_ns: int) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """One episode's start and heal, ``((f, value), (f, value))``; the order of draws is part of a seed's meaning."""
    if rng.random() < 0.75:
        deltas = {n: rng.choice((-1, 1)) * int(2 ** rng.uniform(7, 14)) for n in targets}
        start: tuple[str, Any] = (BUMP, {"deltas_ms": deltas})
    else:
        start = (STROBE, {"nodes": list(targets), "delta_ms": int(2 ** rng.uniform(7, 13)),
                          "period_ms": int(2 ** rng.uniform(5, 9)),
                          "duration_ms": int(interval_ns / 1e6 * rng.uniform(0.5, 1.5))})
    return start, (RESET, {"nodes": list(targets)})


# --- the nemesis -----------------------------------------------------------------

class ClockNemesis:
    """Sets, bumps, strobes and resets node clocks, verified through the target's ``clock`` probe.

    ``probe``: reads a node's wall clock at an address (``Target.clock``).
    ``tolerance_ms``: measured minus requested may differ by this plus half a
    probe's round trip. ``probes``: tries per verification (the best kept).
    """

    fs = frozenset(CLOCK_FS)

    def __init__(self, *, probe: Probe | None, tolerance_ms: float = 50.0, probes: int = 3,
                 target: str = "the target") -> None:
        self.probe = probe
        self.tolerance_ms = tolerance_ms
        self.probes = probes
        self._target = target
        self._cluster: Any = None
        self._offsets: dict[str, float] = {}
        self._strobing: tuple[threading.Thread, threading.Event] | None = None
        self._strobe_errors: dict[str, str] = {}
        self._toggles = 0

    def setup(self, cluster: Cluster) -> "ClockNemesis":
        if not isinstance(cluster, ClockSkewable):
            raise EnvironmentError_(f"the {type(cluster).__name__} backend cannot skew node clocks; "
                                    f"drop 'clock' from --nemesis or use --backend netns, local or docker")
        if self.probe is None:
            raise EnvironmentError_(f"{self._target} declares no clock probe (Target.clock), so clock skews "
                                    f"could not be verified; drop 'clock' from --nemesis")
        self._cluster = cluster
        self._offsets = {n: 0.0 for n in cluster.nodes}
        return self

    def teardown(self) -> None:
        self._stop_strobe()

    def invoke(self, op: Op) -> Completion:
        c = self._cluster
        if c is None:
            raise NemesisError("ClockNemesis.invoke before setup; call setup(cluster) first")
        if op.f not in self.fs:
            raise NemesisError(f"ClockNemesis does not handle {op.f!r}; it handles {sorted(self.fs)}")
        ended = self._stop_strobe()
        try:
            wanted = apply(op.f, op.value, self._offsets, c.nodes)
            strobe = strobe_params(op.value) if op.f == STROBE else None
        except ValueError as e:
            return info(op.value, error=str(e))
        if strobe is not None:
            got = self._strobe(wanted, *strobe)
        else:
            failed, measured = self._set(wanted)
            got = self._completion(wanted, measured, failed, extra={})
        if ended:  # what the strobe this op ended did, with its errors
            value = {**got.value, **ended}
            error = got.error
            if "strobe_failed" in ended:
                error = "; ".join(x for x in (error, "the strobe failed on " + ", ".join(
                    f"{n}: {why}" for n, why in ended["strobe_failed"].items())) if x)
            return info(value, error=error)
        return got

    # -- helpers -------------------------------------------------------------------

    def _set(self, wanted: Mapping[str, float]) -> tuple[dict[str, str], dict[str, float]]:
        """Write every wanted offset, then verify each; (failed node -> why, measured ms)."""
        failed: dict[str, str] = {}
        for n, ms in wanted.items():
            try:
                self._cluster.set_clock_offset(n, ms)
                self._offsets[n] = ms
            except Exception as e:  # one node's failure must not stop the others
                failed[n] = f"could not set its clock: {e}"
        measured: dict[str, float] = {}
        for n, ms in wanted.items():
            if n in failed:
                continue
            got = self._verify(n, ms)
            if isinstance(got, str):
                failed[n] = got
            else:
                measured[n] = got
        return failed, measured

    def _verify(self, node: str, requested: float) -> float | str:
        """The measured offset (ms) when it is the requested one; else why not, for a person."""
        assert self.probe is not None
        best: tuple[float, float] | None = None
        error: str | None = None
        for _ in range(self.probes):
            try:
                before = time.time()
                node_s = self.probe(self._cluster.address(node))
                after = time.time()
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
                continue
            m = measure(before, node_s, after)
            if best is None or m[1] < best[1]:
                best = m
            if within(requested, m[0], m[1], self.tolerance_ms):
                return round(m[0], 1)
        if best is None:
            return f"its clock could not be read ({error}), so the offset {requested:+.0f} ms is unverified"
        return (f"offset {requested:+.0f} ms requested, {best[0]:+.0f} ms (+-{best[1]:.0f}) measured: the skew "
                f"did not take effect (a node started without libfaketime keeps the host's clock)")

    def _strobe(self, base: Mapping[str, float], delta: float, period: float, duration: float) -> Completion:
        """Verify the high phase, then flip in the background for ``duration`` (or until the next op)."""
        high = {n: ms + delta for n, ms in base.items()}
        failed, measured = self._set(high)
        for n in failed:  # not strobing: leave it at its base if it can be
            try:
                self._cluster.set_clock_offset(n, base[n])
            except Exception:
                pass
        for n, ms in base.items():
            self._offsets[n] = ms
        live = {n: ms for n, ms in base.items() if n not in failed}
        if live:
            stop = threading.Event()
            thread = threading.Thread(target=self._flip, args=(live, delta, period, duration, stop),
                                      name="splitbrain-clock-strobe", daemon=True)
            self._strobing = (thread, stop)
            thread.start()
        extra = {"strobe": {"nodes": sorted(base), "delta_ms": delta, "period_ms": period,
                            "duration_ms": duration}}
        return self._completion(dict(base), measured, failed, extra=extra)

    def _flip(self, base: Mapping[str, float], delta: float, period: float, duration: float,
              stop: threading.Event) -> None:
        """The strobe's thread: high and low every ``period`` ms, then the base offsets again."""
        start = time.monotonic()
        end = start + duration / 1000.0
        toggles, up = 0, True
        while not stop.is_set():
            nxt = min(end, start + (toggles + 1) * period / 1000.0)
            if stop.wait(max(0.0, nxt - time.monotonic())) or time.monotonic() >= end:
                break
            up = not up
            toggles += 1
            self._write_all({n: ms + delta if up else ms for n, ms in base.items()})
        self._write_all(dict(base))
        self._toggles = toggles

    def _write_all(self, offsets: Mapping[str, float]) -> None:
        for n, ms in offsets.items():
            try:
                self._cluster.set_clock_offset(n, ms)
            except Exception as e:  # reported with the next op
                self._strobe_errors.setdefault(n, f"mid-strobe: could not set its clock: {e}")

    def _stop_strobe(self) -> dict[str, Any]:
        """End a strobe still flipping (its nodes back at their base); what it did, for the next completion."""
        if self._strobing is None:
            return {}
        thread, stop = self._strobing
        stop.set()
        thread.join()
        self._strobing = None
        done: dict[str, Any] = {"strobe_toggles": self._toggles}
        if self._strobe_errors:
            done["strobe_failed"], self._strobe_errors = dict(self._strobe_errors), {}
        return done

    def _completion(self, wanted: Mapping[str, float], measured: Mapping[str, float],
                    failed: Mapping[str, str], *, extra: Mapping[str, Any]) -> Completion:
        value: dict[str, Any] = {
            "offsets_ms": {n: ms for n, ms in sorted(wanted.items()) if n not in failed},
            "requested_ms": dict(sorted(wanted.items())), "measured_ms": dict(sorted(measured.items())),
            "verified": not failed, **extra}
        if failed:
            value["failed"] = dict(sorted(failed.items()))
            return info(value, error="clock skew not in effect on " +
                        "; ".join(f"{n}: {why}" for n, why in sorted(failed.items())))
        return info(value)
