"""Nemesis packages: a nemesis, its fault schedule, and the generator that heals.

Jepsen's nemesis packages bundle what must change together: the nemesis that
knows how to inject a fault, the generator that schedules it, and the final
generator that undoes it. :func:`package` builds one from the fault names the
CLI takes (``--nemesis partition,kill,pause`` or ``none``).

The schedule is a sequence of *episodes*, each: quiet for about
``interval_s``, one fault chosen among the enabled kinds, held for about
``interval_s`` (counted from the moment the nemesis reported the fault), then
healed. Durations are uniform in ``[0.5, 1.5) * interval_s``. One fault at a
time, so a heal never has to untangle two faults, and the quiet periods let the
system recover and show whether it did.

Reproducibility: with ``seed`` (the run's ``--seed``), episode *k* is drawn from
its own ``random.Random`` seeded by ``(seed, k)``, so the faults, their targets
and their durations are the same for a seed however the interpreter interleaves
clients (which draw from the shared ``ctx.rng`` as often as timing makes them).
Without ``seed`` the episodes draw from ``ctx.rng``.

Crash points (``crash``, ``crash:ROLE``, ``crash:ROLE:POINT``): an episode
arms one point on one node (:func:`nemesis.crashpoints.draw_arm`, among the
points the target's roles declare) and disarms it when the hold ends;
``package`` needs the ``target`` for these.

Clock skew (``clock``, ``clock:ROLE``): an episode bumps one node's clock or a
minority's, or strobes them, and resets them when the hold ends
(:func:`nemesis.clock.draw`); the run must start its nodes with per-node
clocks (``ClusterSpec.clock``), and the target must declare ``Target.clock``.

The final generator resumes paused nodes, disarms crash points (waiting for a
crashed node to be back), restarts dead ones and heals every
partition, in that order (a heal is verified by probes, which need live nodes),
then resets every clock.
It sends these whatever the schedule did, since the run may have been cut short
in the middle of a fault.

The time limit: with ``time_limit_s`` (the run's ``--time-limit``) the schedule
knows when the main phase ends, counted like :func:`harness.generators.time_limit`
from the moment it is first asked. A fault starts only while at least
``0.5 * interval_s`` (the shortest hold ever drawn) remains, and its hold is cut
to end at the limit; so no fault begins after the limit or is held for a few
milliseconds before the final heal. The draws are unchanged, so a seed's faults
are the same whatever the limit, up to where it cuts them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any, Collection, Mapping, Sequence

from harness import generators as gen
from harness.generators import Context, Generator, OpResult, OpSpec
from harness.history import NEMESIS, Op
from nemesis.core import Compose, Nemesis, Noop, Validate
from nemesis import aim
from nemesis import clock as clock_faults
from nemesis.crashpoints import ARM as CRASH_ARM, DISARM as CRASH_DISARM, CrashNemesis, check_faults, \
    declared_points, draw_arm
from nemesis.grudge import GRUDGE_KINDS, isolate, make_grudge
from nemesis.packet import START as PACKET_START, STOP as PACKET_STOP, PacketNemesis, draw_behaviour
from nemesis.partition import START, STOP, PartitionNemesis
from nemesis.process import KillNemesis, PauseNemesis, pick_targets

__all__ = ["FAULTS", "NemesisPackage", "final_generator", "package", "parse_faults", "schedule"]

FAULTS: tuple[str, ...] = ("partition", "kill", "pause", "packet", "crash", "clock")
"""Fault names the CLI accepts (plus ``none``)."""

_MIN_NODES = {"halves": 2, "one": 2, "majorities-ring": 3, "bridge": 3}
NS = 1_000_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class NemesisPackage:
    """What the runner needs for faults.

    ``nemesis``          to ``setup(cluster)`` before the run and ``teardown()`` after
                         (wrapped in :class:`~nemesis.core.Validate`).
    ``generator``        the fault schedule (already routed to the nemesis); run it
                         alongside the clients, under the run's time limit.
    ``final_generator``  heals everything; run it after the main phase, before final reads.
    ``faults``           the enabled fault names, sorted (``()`` for ``none``).
    """

    nemesis: Nemesis
    generator: Generator
    final_generator: Generator
    faults: tuple[str, ...]


def parse_faults(text: str | Collection[str]) -> tuple[str, ...]:
    """``"partition,kill"`` or a collection of names -> sorted names; ``ValueError`` if unknown.

    ``none`` (alone) means no faults; an empty string too.
    """
    names = [s.strip() for s in text.split(",")] if isinstance(text, str) else [str(s).strip() for s in text]
    names = [n for n in names if n]
    if "none" in names:
        if len(names) > 1:
            raise ValueError(f"--nemesis none cannot be combined with other faults (got {names})")
        return ()
    unknown = sorted(n for n in set(names) if aim.split(n)[0] not in FAULTS)
    if unknown:
        raise ValueError(f"unknown fault(s) {unknown}; expected a comma-separated subset of "
                         f"{list(FAULTS)}, each optionally aimed at a role (kill:coordinator), or none")
    return tuple(sorted(set(names)))


# --- the schedule ------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """One episode, drawn at its start."""

    quiet_ns: int
    start: OpSpec
    hold_ns: int
    stop: OpSpec


def _draw(rng: random.Random, *, faults: Sequence[str], nodes: Sequence[str],
          partitions: Sequence[str], interval_ns: int, roles: Mapping[str, str] | None = None,
          crash_points: Mapping[str, Sequence[str]] | None = None) -> _Plan:
    """Draw an episode; the order of draws is part of the seed's meaning (do not reorder).

    An aimed fault (``kill:ROLE``; :mod:`nemesis.aim`) draws among its role's nodes.
    """
    quiet = int(interval_ns * rng.uniform(0.5, 1.5))
    name = rng.choice(list(faults))
    fault, role = aim.split(name)
    if fault == "crash":  # crash:ROLE:POINT; the role is checked with its points
        aimed: tuple[str, ...] = ()
    else:
        aimed = tuple(nodes) if role is None else aim.members(roles or aim.default_roles(nodes), role)
    if fault == "crash":
        arm = draw_arm(rng, name, roles or aim.default_roles(nodes), crash_points or {})
        start = OpSpec(f=CRASH_ARM, value=arm)
        stop = OpSpec(f=CRASH_DISARM, value=dict(arm))
    elif fault == "partition" and role is not None:
        grudge = isolate(nodes, aimed, label=role)
        start = OpSpec(f=START, value={"kind": "isolate", "grudge": grudge.to_json()})
        stop = OpSpec(f=STOP, value=None)
    elif fault == "partition":
        kind = rng.choice(list(partitions))
        grudge = make_grudge(kind, nodes, rng)
        start = OpSpec(f=START, value={"kind": kind, "grudge": grudge.to_json()})
        stop = OpSpec(f=STOP, value=None)
    elif fault == "kill":
        targets = pick_targets(aimed, rng)
        start = OpSpec(f="kill", value={"nodes": targets})
        stop = OpSpec(f="start", value={"nodes": targets})
    elif fault == "pause":
        targets = pick_targets(aimed, rng)
        start = OpSpec(f="pause", value={"nodes": targets})
        stop = OpSpec(f="resume", value={"nodes": targets})
    elif fault == "packet":
        targets = pick_targets(aimed, rng)
        start = OpSpec(f=PACKET_START, value={"nodes": targets, "behaviour": draw_behaviour(rng)})
        stop = OpSpec(f=PACKET_STOP, value=None)
    elif fault == "clock":
        (f1, v1), (f2, v2) = clock_faults.draw(rng, pick_targets(aimed, rng), interval_ns)
        start, stop = OpSpec(f=f1, value=v1), OpSpec(f=f2, value=v2)
    else:  # parse_faults keeps this out
        raise ValueError(f"unknown fault {fault!r}")
    hold = int(interval_ns * rng.uniform(0.5, 1.5))
    return _Plan(quiet_ns=quiet, start=start, hold_ns=hold, stop=stop)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Episodes:
    """The alternating schedule as a pure generator (see the module docstring).

    ``phase``     ``"quiet"`` -> ``"fault"`` -> ``"hold"`` -> ``"heal"`` -> next episode.
    ``until``     end of the current quiet or hold period, once it has begun.
    ``plan``      the current episode, once drawn.
    ``awaiting``  nemesis events still expected for the op in flight (2, 1, 0).
    ``limit_ns``  the time limit (``None``: endless); ``end`` its cutoff, once first asked.
    """

    faults: tuple[str, ...]
    nodes: tuple[str, ...]
    partitions: tuple[str, ...]
    interval_ns: int
    seed: int | None
    roles: Mapping[str, str] | None = None
    crash_points: Mapping[str, tuple[str, ...]] | None = None
    episode: int = 0
    phase: str = "quiet"
    until: int | None = None
    plan: _Plan | None = None
    awaiting: int = 0
    limit_ns: int | None = None
    end: int | None = None

    def _plan(self, ctx: Context) -> _Plan:
        rng = ctx.rng if self.seed is None else random.Random(f"splitbrain-nemesis:{self.seed}:{self.episode}")
        return _draw(rng, faults=self.faults, nodes=self.nodes, partitions=self.partitions,
                     interval_ns=self.interval_ns, roles=self.roles, crash_points=self.crash_points)

    def op(self, ctx: Context) -> OpResult:
        if self.awaiting:
            return gen.PENDING, self
        g = self
        if g.limit_ns is not None and g.end is None:
            g = replace(g, end=ctx.time + g.limit_ns)
        if g.end is not None and g.phase == "quiet" and g.until is None and ctx.time >= g.end:
            return None, g  # past the limit before the next episode began
        if g.plan is None:
            g = replace(g, plan=g._plan(ctx))
        plan = g.plan
        assert plan is not None
        if g.phase in ("quiet", "hold"):
            until = g.until if g.until is not None else ctx.time + (
                plan.quiet_ns if g.phase == "quiet" else plan.hold_ns)
            if g.end is not None and g.phase == "hold":
                until = min(until, g.end)
            if ctx.time < until:
                return gen.PENDING, (g if until == g.until else replace(g, until=until))
            spec = plan.start if g.phase == "quiet" else plan.stop
            if g.end is not None and g.phase == "quiet" and g.end - ctx.time < self.interval_ns // 2:
                return None, g  # too little time left to hold a fault: none starts
            if NEMESIS not in ctx.free:
                return gen.PENDING, replace(g, until=until)
            nxt = replace(g, phase="fault" if g.phase == "quiet" else "heal", until=None, awaiting=2)
            return OpSpec(f=spec.f, value=spec.value, process=NEMESIS, time=ctx.time), nxt
        raise AssertionError(f"schedule asked for an op in phase {g.phase!r} with nothing awaited")

    def update(self, ctx: Context, event: Op) -> Generator:
        if not self.awaiting or event.process != NEMESIS:
            return self
        left = self.awaiting - 1
        if left:
            return replace(self, awaiting=left)  # the invocation; its completion is next
        if self.phase == "fault":
            return replace(self, phase="hold", awaiting=0)
        return replace(self, phase="quiet", episode=self.episode + 1, plan=None, awaiting=0)


def schedule(faults: Sequence[str], *, nodes: Sequence[str], interval_s: float,
             seed: int | None = None, partitions: Sequence[str] | None = None,
             time_limit_s: float | None = None, roles: Mapping[str, str] | None = None,
             crash_points: Mapping[str, Sequence[str]] | None = None) -> Generator:
    """The fault/quiet schedule for ``faults`` (names from :data:`FAULTS`), routed to the nemesis.

    Endless unless ``time_limit_s`` is given (see the module docstring); bound
    it with the run's time limit either way. ``partitions`` restricts the
    grudge kinds (default: every kind the node count allows). ``roles``: node
    -> role, for faults aimed at a role (default: every node in one role).
    ``crash_points``: role -> its declared crash points, for ``crash`` faults.
    """
    faults = parse_faults(faults)
    if not faults:
        return gen.seq(())
    roles = dict(roles) if roles is not None else aim.default_roles(nodes)
    aim.check_aims(faults, roles)
    points = {r: tuple(p) for r, p in (crash_points or {}).items()}
    check_faults(faults, roles, points)
    if interval_s <= 0:
        raise ValueError(f"the nemesis interval must be > 0 s (not {interval_s!r})")
    kinds = _partition_kinds(nodes, partitions) if "partition" in faults else ()
    limit = None if time_limit_s is None else int(time_limit_s * NS)
    return gen.nemesis(_Episodes(faults=faults, nodes=tuple(nodes), partitions=kinds,
                                 interval_ns=int(interval_s * NS), seed=seed, limit_ns=limit,
                                 roles=roles, crash_points=points))


def _partition_kinds(nodes: Sequence[str], partitions: Sequence[str] | None) -> tuple[str, ...]:
    wanted = tuple(GRUDGE_KINDS) if partitions is None else tuple(partitions)
    unknown = sorted(set(wanted) - set(GRUDGE_KINDS))
    if unknown:
        raise ValueError(f"unknown partition kind(s) {unknown}; expected some of {list(GRUDGE_KINDS)}")
    kinds = tuple(k for k in wanted if len(nodes) >= _MIN_NODES[k])
    if not kinds:
        raise ValueError(f"no partition of {list(wanted)} is possible with {len(nodes)} node(s); "
                         f"run with at least 2 nodes or drop 'partition' from --nemesis")
    return kinds


def final_generator(faults: Sequence[str]) -> Generator:
    """Resume every paused node, disarm every crash point, restart every dead node, heal every partition."""
    faults = aim.kinds(parse_faults(faults))
    specs: list[Any] = []
    if "pause" in faults:
        specs.append(OpSpec(f="resume", value="all", process=NEMESIS))
    if "crash" in faults:
        specs.append(OpSpec(f=CRASH_DISARM, value="all", process=NEMESIS))
    if "kill" in faults:
        specs.append(OpSpec(f="start", value="all", process=NEMESIS))
    if "partition" in faults:
        specs.append(OpSpec(f=STOP, value=None, process=NEMESIS))
    if "packet" in faults:
        specs.append(OpSpec(f=PACKET_STOP, value=None, process=NEMESIS))
    if "clock" in faults:  # after the restarts: a reset is verified by reading each node's clock
        specs.append(OpSpec(f=clock_faults.RESET, value="all", process=NEMESIS))
    return gen.nemesis(gen.seq(specs))


def package(faults: str | Collection[str], *, nodes: Sequence[str], interval_s: float = 3.0,
            seed: int | None = None, partitions: Sequence[str] | None = None,
            probe_timeout_s: float = 1.0, verify_s: float = 5.0,
            time_limit_s: float | None = None, roles: Mapping[str, str] | None = None,
            target: Any = None) -> NemesisPackage:
    """Bundle the nemesis, schedule and final heal for ``faults``.

    ``faults``: names from :data:`FAULTS` (or ``"partition,kill"``, or ``none``).
    ``interval_s``: mean length of each quiet period and of each fault (3 s by
    default, so that a 30 s run sees about five faults: measured on the quorum
    store's seed variant, 5 s caught it in 5-8 runs of 10, 3 s in 10 of 10).
    ``nodes``: the cluster's node names. ``seed``: the run's seed (see the module
    docstring). ``probe_timeout_s``/``verify_s``: see :class:`PartitionNemesis`.
    ``time_limit_s``: the run's time limit; no fault starts too close to it.
    ``roles``: node -> role (:func:`harness.nodes.role_map`), for aimed faults
    such as ``kill:coordinator`` (:mod:`nemesis.aim`).
    ``target``: the :class:`~harness.target.Target`, for ``crash`` (its roles'
    declared crash points, its readiness probes), and for ``clock`` (its
    ``clock`` probe, which verifies each skew).
    Raises ``ValueError`` with what is wrong (unknown fault, too few nodes).
    """
    names = parse_faults(faults)
    if not names:
        return NemesisPackage(nemesis=Noop(), generator=gen.seq(()),
                              final_generator=gen.seq(()), faults=())
    s = 0 if seed is None else seed
    parts: list[Nemesis] = []
    kinds = aim.kinds(names)
    if "partition" in kinds:
        parts.append(PartitionNemesis(probe_timeout_s=probe_timeout_s, verify_s=verify_s, seed=s, roles=roles))
    if "kill" in kinds:
        parts.append(KillNemesis(seed=s, roles=roles))
    if "pause" in kinds:
        parts.append(PauseNemesis(seed=s, roles=roles))
    if "packet" in kinds:
        parts.append(PacketNemesis(seed=s))
    if "crash" in kinds:
        parts.append(CrashNemesis(target=target))
    if "clock" in kinds:
        parts.append(clock_faults.ClockNemesis(probe=getattr(target, "clock", None),
                                               target=f"target {getattr(target, 'name', '?')!r}"))
    return NemesisPackage(
        nemesis=Validate(Compose(parts)),
        generator=schedule(names, nodes=nodes, interval_s=interval_s, seed=seed, partitions=partitions,
                           time_limit_s=time_limit_s, roles=roles, crash_points=declared_points(target)),
        final_generator=final_generator(names),
        faults=names)
