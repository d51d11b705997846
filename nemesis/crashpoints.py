"""The crash nemesis: arm a named crash point on one node for a window, see it fire and the node come back.

``--nemesis crash`` arms, each episode, one crash point on one node: a node
drawn among those whose role declares points (:attr:`harness.target.Role.crash_points`)
and one of its role's points; ``crash:ROLE`` draws among ROLE's nodes and
points; ``crash:ROLE:POINT`` arms POINT (``crash::POINT``: on a node of any
role declaring it). The episode holds the arming for about the nemesis
interval, then disarms it. A node dies at the point the first time it reaches
it (probability 1, once per arming), as etcd's robustness tests use gofail
failpoints and FoundationDB ``BUGGIFY``; the node side is
:mod:`harness.node.crashpoints` (a control file in the node's data dir, a
``crashes.jsonl`` the node appends to as it dies), reached through the
backend's :class:`~harness.cluster.NodeFiles` on every backend.

Ops and events (docs/DESIGN.md, "Nemesis events in the history"):

``arm-crash``     ``{"node", "point"}``: write the node's control file. The
                  completion adds ``nodes``, ``arm`` (this arming's id) and ``p``.
``disarm-crash``  ``{"node", "point"}``, or ``"all"`` (the final heal): empty the
                  control file, look once more for a crash, and if the node died
                  and is not back, wait for it (starting it when it exited),
                  at most ``restart_wait_s``. The completion lists each arming
                  with its ``outcome``: ``"fired"`` or ``"armed, never reached"``,
                  so a point the workload never reached is reported, not a
                  silent no-op.
``crash-fired``   reported by :meth:`CrashNemesis.poll` (the runner's
                  :class:`~harness.runner.EventSource`): ``{"node", "nodes",
                  "point", "order", "at", "arm"}``, ``order`` what the node
                  passed to ``hit`` (order or transaction id), ``at`` its wall
                  clock when it died.
``restart``       also from ``poll``: ``{"node", "nodes", "point", "arm",
                  "down_s", "started"}`` once the node answers its readiness
                  probe again, ``started`` true when this nemesis had to start it.

A node that re-executes itself (``crash_restart`` S) is alive throughout; it
counts as back when its readiness probe answers at least ``fire_grace_s``
after the crash (the old process may answer for the microseconds between the
record and the exec). :func:`draw_arm` and :func:`check_faults` are the pure
part the schedule uses (:mod:`nemesis.package`).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Collection, Mapping, Sequence

from harness.client import Completion
from harness.cluster import Cluster, NodeFiles
from harness.history import Op
from harness.node.crashpoints import CONTROL_FILE, CRASHES_FILE, Arm, encode_control, parse_crashes
from harness.runner import NemesisEvent
from nemesis import aim
from nemesis.core import NemesisError, info

if TYPE_CHECKING:
    from harness.target import Target

__all__ = [
    "ARM", "DISARM", "FIRED", "NEVER_REACHED", "RESTART", "CrashNemesis", "check_faults", "declared_points",
    "draw_arm", "parse_aim",
]

ARM, DISARM, FIRED, RESTART = "arm-crash", "disarm-crash", "crash-fired", "restart"
NEVER_REACHED = "armed, never reached"


def declared_points(target: "Target | None") -> dict[str, tuple[str, ...]]:
    """Role name -> the crash points it declares (roles declaring none left out)."""
    if target is None:
        return {}
    from harness.nodes import roles_of

    return {r.name: tuple(r.crash_points) for r in roles_of(target) if r.crash_points}


def parse_aim(fault: str) -> tuple[str | None, str | None]:
    """``crash`` -> (None, None); ``crash:ROLE`` -> (ROLE, None); ``crash:ROLE:POINT``; ``crash::POINT``."""
    kind, rest = aim.split(fault)
    if kind != "crash":
        raise ValueError(f"{fault!r} is not a crash fault")
    if rest is None:
        return None, None
    role, _, point = rest.partition(":")
    return role.strip() or None, point.strip() or None


def _candidates(fault: str, roles: Mapping[str, str],
                points: Mapping[str, Sequence[str]]) -> list[tuple[str, tuple[str, ...]]]:
    """(node, the points it may arm) for ``fault``; ``ValueError`` saying why there are none."""
    role, point = parse_aim(fault)
    if not points:
        raise ValueError(f"--nemesis {fault}: the target declares no crash points (each role lists its "
                         f"own in Role.crash_points); drop 'crash' or declare some")
    if role is not None:
        aim.members(roles, role)  # an unknown role: names the roles there are
        if role not in points:
            raise ValueError(f"--nemesis {fault}: role {role!r} declares no crash points; the roles that "
                             f"do: {', '.join(f'{r} ({len(p)})' for r, p in points.items())}")
    out = []
    for node, r in roles.items():
        pts = tuple(points.get(r, ()))
        if role is not None and r != role:
            continue
        if point is not None:
            pts = (point,) if point in pts else ()
        if pts:
            out.append((node, pts))
    if not out:
        where = f"role {role!r}" if role is not None else "any role"
        known = sorted({p for r, ps in points.items() if role in (None, r) for p in ps})
        raise ValueError(f"--nemesis {fault}: {where} declares no crash point {point!r}; "
                         f"declared: {', '.join(known)}")
    return out


def check_faults(faults: Collection[str], roles: Mapping[str, str], points: Mapping[str, Sequence[str]]) -> None:
    """``ValueError`` for a crash fault that could arm nothing (no points, unknown role or point)."""
    for f in faults:
        if aim.split(f)[0] == "crash":
            _candidates(f, roles, points)


def draw_arm(rng: random.Random, fault: str, roles: Mapping[str, str],
             points: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The ``arm-crash`` value of one episode of ``fault``: a node, then one of its points."""
    node, pts = rng.choice(_candidates(fault, roles, points))
    return {"node": node, "point": rng.choice(list(pts))}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Armed:
    """One arming of one node, until its outcome is known and reported."""

    node: str
    point: str
    arm: str
    fired: dict[str, Any] | None = None  # the node's crash record
    back: bool = False
    disarmed: bool = False


class CrashNemesis:
    """``arm-crash`` and ``disarm-crash``, and the ``crash-fired``/``restart`` events (see the module docstring).

    ``target``: for each node's readiness probe (None: the target of the cluster's
    ``spec`` where it has one, else the backend's ``alive`` only).
    ``restart_wait_s``: how long a disarm waits for a crashed node to be back.
    """

    fs = frozenset({ARM, DISARM})

    def __init__(self, *, target: "Target | None" = None, restart_wait_s: float = 30.0,
                 fire_grace_s: float = 0.05) -> None:
        self.target = target
        self.restart_wait_s = restart_wait_s
        self.fire_grace_s = fire_grace_s
        self._cluster: Cluster | None = None
        self._armed: dict[str, _Armed] = {}   # node -> its arming (the last one)
        self._queued: list[NemesisEvent] = []
        self._count = 0

    def setup(self, cluster: Cluster) -> "CrashNemesis":
        if not isinstance(cluster, NodeFiles):
            raise NemesisError(f"the {type(cluster).__name__} backend cannot reach a node's data directory "
                               f"(NodeFiles), so it cannot arm crash points; drop 'crash' from --nemesis")
        self._cluster = cluster
        return self

    def teardown(self) -> None:
        return None

    # -- ops ---------------------------------------------------------------------

    def invoke(self, op: Op) -> Completion:
        c = self._files()
        if op.f == ARM:
            v = op.value if isinstance(op.value, dict) else {}
            node, point = v.get("node"), v.get("point")
            if node not in self._cluster_nodes() or not isinstance(point, str) or not point:
                return info(op.value, error=f'arm-crash: expected {{"node": one of {list(self._cluster_nodes())}, '
                                            f'"point": name}} (not {op.value!r})')
            self._count += 1
            arm = Arm(point=point, arm=f"a{self._count}", p=1.0)
            try:
                c.write_node_file(node, CONTROL_FILE, encode_control([arm]))
            except Exception as e:  # noqa: BLE001 - the node's files may be unreachable (container down)
                return info({**v, "nodes": [node]}, error=f"arm-crash: could not write {node}'s {CONTROL_FILE}: {e!r}")
            self._armed[node] = _Armed(node=node, point=point, arm=arm.arm)
            return info({"node": node, "nodes": [node], "point": point, "arm": arm.arm, "p": arm.p})
        if op.f == DISARM:
            v = op.value
            if isinstance(v, dict) and v.get("node") is not None:
                nodes = [str(v["node"])] if v["node"] in self._armed else []
            else:
                nodes = sorted(self._armed)  # every arming whose outcome is not yet settled
            return self._disarm(nodes)
        raise NemesisError(f"CrashNemesis does not handle {op.f!r}; it handles {sorted(self.fs)}")

    def _disarm(self, nodes: Sequence[str]) -> Completion:
        c = self._files()
        rows, errors = [], []
        for node in nodes:
            a = self._armed[node]
            if not a.disarmed:
                try:
                    c.write_node_file(node, CONTROL_FILE, encode_control([]))
                except Exception as e:  # noqa: BLE001 - say so; the arming is spent if it fired anyway
                    errors.append(f"{node}: could not empty its {CONTROL_FILE}: {e!r}")
                a = self._armed[node] = replace(a, disarmed=True)
            self._look(a)
            a = self._armed[node]
            if a.fired is not None and not a.back:
                why = self._bring_back(self._armed[node])
                if why:
                    errors.append(why)
            a = self._armed[node]
            rows.append({"node": node, "point": a.point, "arm": a.arm,
                         "outcome": "fired" if a.fired is not None else NEVER_REACHED})
            if a.fired is None or a.back:
                del self._armed[node]  # its outcome is known and every event of it queued
        value = {"nodes": list(nodes), "disarmed": rows}
        return info(value, error="; ".join(errors) or None)

    def _bring_back(self, a: _Armed) -> str | None:
        """Wait until the crashed node is back, starting it if it exited; None, or why it is not back."""
        c = self._cluster
        assert c is not None
        deadline = time.monotonic() + self.restart_wait_s
        started = False
        while time.monotonic() < deadline:
            if self._check_back(self._armed[a.node], started=started):
                return None
            if not c.alive(a.node) and not started:
                try:
                    c.start(a.node)  # returns once it answers
                    started = True
                except Exception as e:  # noqa: BLE001 - reported in the disarm's error
                    return f"{a.node}: crashed at {a.point} and could not be started: {e!r}"
                continue
            time.sleep(0.05)
        return f"{a.node}: crashed at {a.point} and not back within {self.restart_wait_s:g} s"

    # -- events --------------------------------------------------------------------

    def poll(self) -> list[NemesisEvent]:
        """``crash-fired`` and ``restart`` events since the last poll (no I/O when nothing is armed)."""
        for node in list(self._armed):
            a = self._armed[node]
            if a.fired is None:
                self._look(a)
            elif not a.back:
                self._check_back(a, started=False)
            a = self._armed.get(node)
            if a is not None and a.disarmed and (a.fired is None or a.back):
                del self._armed[node]
        out, self._queued = self._queued, []
        return out

    def _look(self, a: _Armed) -> None:
        """Read the node's crash records; queue ``crash-fired`` when this arming fired."""
        if a.fired is not None:
            return
        try:
            data = self._files().read_node_file(a.node, CRASHES_FILE)
        except Exception:  # noqa: BLE001 - unreachable now (container restarting): look again next poll
            return
        rec = next((r for r in parse_crashes(data or b"") if r.get("arm") == a.arm), None)
        if rec is None:
            return
        self._armed[a.node] = replace(a, fired=rec)
        self._queued.append(NemesisEvent(f=FIRED, value={
            "node": a.node, "nodes": [a.node], "point": rec.get("point", a.point), "order": rec.get("order"),
            "at": rec.get("at"), "arm": a.arm}))

    def _check_back(self, a: _Armed, *, started: bool) -> bool:
        """Whether the crashed node answers again; queues ``restart`` the first time it does."""
        if a.back:
            return True
        assert a.fired is not None
        at = float(a.fired.get("at") or 0)
        if time.time() < at + self.fire_grace_s or not self._ready(a.node):
            return False
        self._armed[a.node] = replace(a, back=True)
        self._queued.append(NemesisEvent(f=RESTART, value={
            "node": a.node, "nodes": [a.node], "point": a.point, "arm": a.arm,
            "down_s": round(time.time() - at, 3) if at else None, "started": started}))
        return True

    # -- the cluster -----------------------------------------------------------------

    def _files(self) -> NodeFiles:
        if self._cluster is None:
            raise NemesisError("CrashNemesis used before setup; call setup(cluster) first")
        assert isinstance(self._cluster, NodeFiles)
        return self._cluster

    def _cluster_nodes(self) -> tuple[str, ...]:
        assert self._cluster is not None
        return tuple(self._cluster.nodes)

    def _ready(self, node: str) -> bool:
        c = self._cluster
        assert c is not None
        try:
            if not c.alive(node):
                return False
            probe = self._probe(node)
            return probe is None or bool(probe(c.address(node)))
        except Exception:  # noqa: BLE001 - a probe that raises is a node not ready
            return False

    def _probe(self, node: str) -> Callable[[Any], bool] | None:
        target = self.target or getattr(getattr(self._cluster, "spec", None), "target", None)
        if target is None:
            return None
        from harness.nodes import ready_of, role_of

        assert self._cluster is not None
        return ready_of(role_of(target, self._cluster.nodes, node), target)
