"""The partition nemesis: cut a grudge's links, and prove that they are cut.

``start-partition`` takes a grudge (see :mod:`nemesis.grudge`), cuts its
directed links, then probes every cut link with
:meth:`~harness.cluster.Partitionable.reachable` until none passes (retrying
for up to ``verify_s``: a backend may need a moment to drop connections that
were open). It also probes a sample of links that were *not* cut, which must
still pass. Only when every cut link drops traffic does the completion say
``"verified": true``; otherwise the completion carries an ``error`` naming the
links that still pass, the cut is undone (``heal``) so that nothing is in
effect that the history does not claim, and :func:`nemesis.windows.fault_windows`
shows no fault for it.

``stop-partition`` heals every link and probes the links it had cut until they
pass again; a heal that cannot be verified also carries an ``error``.

Probes run in parallel on a small thread pool owned by the nemesis (a probe of
a cut link costs its full timeout, and a 5-node majorities ring cuts 10 links).

Op values. The first event of ``start-partition`` is
``{"kind": ..., "grudge": Grudge.to_json()}`` (the schedule draws the grudge
with the run's rng); a value of just ``{"kind": K}`` or the string ``K`` makes
the nemesis draw it with its own rng; ``{"role": R}`` isolates every node of
role R from the others (:func:`nemesis.grudge.isolate`; the roles are the
nemesis's ``roles``). Completions describe the grudge, the links cut and the
probe results.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Collection, Mapping, Sequence

from harness.client import Completion
from harness.cluster import Cluster, Link, Partitionable
from harness.history import Op
from nemesis.core import NemesisError, info
from nemesis import aim
from nemesis.grudge import Grudge, isolate, make_grudge

__all__ = ["PartitionNemesis", "START", "STOP"]

START = "start-partition"
STOP = "stop-partition"


class PartitionNemesis:
    """Partitions by grudge, verified with probes.

    ``probe_timeout_s``  how long one probe waits for traffic to get through.
    ``verify_s``         how long to keep re-probing links that are not yet as expected.
    ``sample``           how many uncut links to probe after a cut (0: none).
    ``seed``             rng for grudges the op does not spell out, and for the sample.
    ``workers``          probe threads; enough to probe every link of 5 nodes at once.
    """

    fs = frozenset({START, STOP})

    def __init__(self, *, probe_timeout_s: float = 1.0, verify_s: float = 5.0,
                 sample: int = 3, seed: int = 0, workers: int = 20,
                 roles: Mapping[str, str] | None = None):
        self.probe_timeout_s = probe_timeout_s
        self.roles = dict(roles) if roles is not None else None
        self.verify_s = verify_s
        self.sample = sample
        self._rng = random.Random(seed)
        self._workers = workers
        self._cluster: Partitionable | None = None
        self._nodes: tuple[str, ...] = ()
        self._pool: ThreadPoolExecutor | None = None
        self._cut: list[Link] = []

    def setup(self, cluster: Cluster) -> "PartitionNemesis":
        if not isinstance(cluster, Partitionable):
            raise NemesisError(f"the {type(cluster).__name__} backend cannot cut links; "
                               f"drop 'partition' from --nemesis or use a backend that can")
        self._cluster = cluster
        self._nodes = tuple(cluster.nodes)
        self._pool = ThreadPoolExecutor(max_workers=self._workers,
                                        thread_name_prefix="nemesis-probe")
        return self

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    # --- ops ----------------------------------------------------------------

    def invoke(self, op: Op) -> Completion:
        if self._cluster is None:
            raise NemesisError("PartitionNemesis.invoke before setup; call setup(cluster) first")
        if op.f == START:
            return self._start(op.value)
        if op.f == STOP:
            return self._stop()
        raise NemesisError(f"PartitionNemesis does not handle {op.f!r}; it handles {sorted(self.fs)}")

    def _grudge(self, value: Any) -> Grudge:
        if isinstance(value, str):
            return make_grudge(value, self._nodes, self._rng)
        if isinstance(value, dict) and "grudge" in value:
            return Grudge.from_json(value["grudge"])
        if isinstance(value, dict) and value.get("role") is not None:
            role = str(value["role"])
            return isolate(self._nodes, aim.members(self.roles or aim.default_roles(self._nodes), role),
                           label=role)
        if isinstance(value, dict) and "kind" in value:
            return make_grudge(str(value["kind"]), self._nodes, self._rng)
        raise ValueError(f"start-partition needs a partition kind, a role to isolate or a grudge "
                         f"as value (not {value!r})")

    def _start(self, value: Any) -> Completion:
        assert self._cluster is not None
        try:
            grudge = self._grudge(value)
        except ValueError as e:
            return info({"verified": False}, error=str(e))
        links = grudge.links()
        out: dict[str, Any] = {"kind": grudge.kind, "summary": grudge.summary,
                               "grudge": grudge.to_json(), "links": [list(l) for l in links]}
        try:
            self._cluster.cut(links)
        except Exception as e:
            out["verified"] = False
            return info(out, error=f"cut failed: {e!r}")
        self._cut = sorted(set(self._cut) | set(links))
        passing = self._settle(links, expect=False)
        uncut = self._sample_uncut(set(self._cut))
        blocked = self._settle(uncut, expect=True) if uncut else []
        out["probe"] = {"cut_passing": [list(l) for l in passing],
                        "uncut_sampled": [list(l) for l in uncut],
                        "uncut_blocked": [list(l) for l in blocked]}
        if passing:
            out["verified"] = False
            healed = self._undo()
            return info(out, error=(
                f"partition not in effect: {len(passing)} of {len(links)} cut links still pass "
                f"traffic ({_fmt(passing)}); the cut was undone ({healed})"))
        out["verified"] = True
        if blocked:
            return info(out, error=(
                f"partition in effect, but links that were not cut drop traffic too "
                f"({_fmt(blocked)}): a node may be down or paused"))
        return info(out)

    def _stop(self) -> Completion:
        assert self._cluster is not None
        links, self._cut = self._cut, []
        out: dict[str, Any] = {"links": [list(l) for l in links]}
        try:
            self._cluster.heal()
        except Exception as e:
            self._cut = links
            out["verified"] = False
            return info(out, error=f"heal failed: {e!r}")
        blocked = self._settle(links, expect=True)
        out["verified"] = not blocked
        out["probe"] = {"still_blocked": [list(l) for l in blocked]}
        if blocked:
            return info(out, error=(f"healed, but {len(blocked)} links still drop traffic "
                                    f"({_fmt(blocked)})"))
        return info(out)

    def _undo(self) -> str:
        assert self._cluster is not None
        try:
            self._cluster.heal()
        except Exception as e:
            return f"heal failed: {e!r}"
        self._cut = []
        return "healed"

    # --- probes ---------------------------------------------------------------

    def _probe(self, links: Sequence[Link]) -> list[bool]:
        assert self._cluster is not None and self._pool is not None
        cluster, t = self._cluster, self.probe_timeout_s

        def one(link: Link) -> bool:
            try:
                return bool(cluster.reachable(link[0], link[1], t))
            except Exception:
                return False  # a probe that errors got no traffic through
        return list(self._pool.map(one, links))

    def _settle(self, links: Sequence[Link], *, expect: bool) -> list[Link]:
        """Re-probe until every link's reachability is ``expect``; return those that are not."""
        deadline = time.monotonic() + self.verify_s
        wrong = list(links)
        while wrong:
            wrong = [l for l, ok in zip(wrong, self._probe(wrong)) if ok != expect]
            if not wrong or time.monotonic() >= deadline:
                break
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return wrong

    def _sample_uncut(self, cut: Collection[Link]) -> list[Link]:
        uncut = [(a, b) for a in self._nodes for b in self._nodes if a != b and (a, b) not in cut]
        if len(uncut) <= self.sample:
            return uncut
        return sorted(self._rng.sample(uncut, self.sample))


def _fmt(links: Sequence[Link], limit: int = 6) -> str:
    shown = ", ".join(f"{a}->{b}" for a, b in links[:limit])
    return shown + (f" and {len(links) - limit} more" if len(links) > limit else "")
