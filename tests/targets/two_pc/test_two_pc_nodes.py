"""The 2PC nodes' protocol, in-process, over real SQLite and real HTTP on 127.0.0.1.

Each participant is a real :class:`Participant` served by the target's own
HTTP server in a thread; "restarting" one closes its server and builds a
new participant on the same data dir (its memory gone, its database kept),
which is what a kill and restart does to a node. The coordinator runs
in-process too; its crash-point seam (``CrashPoints.hit``, called after each
prepare) is where a test restarts a participant between the two phases.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

pytestmark = pytest.mark.slow  # real HTTP servers in threads, ~10 s in all

from harness.node.crashpoints import CrashPoints
from harness.node.http import HttpError, call, serve
from targets.two_pc.coordinator import DurableCoordinator, SeedCoordinator
from targets.two_pc.participant import Participant

PRICES = {"p1": 30, "p2": 20, "p3": 10}
INITIAL = {"order": {}, "inventory": {"p1": 10, "p2": 10, "p3": 10}, "payment": {"u1": 100, "u2": 100}}


class Node:
    """One participant behind a real HTTP server; ``restart`` keeps the port and the database."""

    def __init__(self, kind: str, variant: str, data: Path, coordinator: tuple[str, int] | None = None) -> None:
        self.kind, self.variant, self.data, self.coordinator = kind, variant, data, coordinator
        self.port = 0
        self.start()

    def start(self) -> None:
        self.p = Participant(kind=self.kind, name=self.kind, variant=self.variant,
                             db_path=str(self.data / f"{self.kind}.db"), initial=INITIAL[self.kind],
                             crash=CrashPoints("", 0, str(self.data), self.kind), coordinator=self.coordinator,
                             timeout=0.5, inquire_after=0.3)
        self.server = serve("127.0.0.1", self.port, self.p.routes(), self.kind)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.p.close()
        self.server.shutdown()
        self.server.server_close()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def addr(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


class Hook(CrashPoints):
    """A crash-point seam that runs ``fn(point)`` instead of dying."""

    def __init__(self, data: Path, fn: Any) -> None:
        super().__init__("", 0, str(data), "coordinator")
        self.fn = fn

    def hit(self, point: str, order: Any = None) -> None:
        self.fn(point)


@pytest.fixture
def nodes(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Node]]:
    variant = getattr(request, "param", "seed")
    ns = {}
    for k in INITIAL:
        (tmp_path / k).mkdir()
        ns[k] = Node(k, variant, tmp_path / k)
    yield ns
    for n in ns.values():
        n.stop()


@pytest.fixture
def coordinator(request: pytest.FixtureRequest) -> Any:
    """A factory of in-process coordinators over ``nodes``, each stopped when the test ends."""
    def make(nodes: dict[str, Node], tmp_path: Path, cls: Any = SeedCoordinator, hook: Any = None,
             **kw: Any) -> Any:
        crash = Hook(tmp_path, hook or (lambda point: None))
        c = cls(name="coordinator", participants={k: n.addr for k, n in nodes.items()}, prices=PRICES,
                crash=crash, timeout=0.5, **kw)
        if hasattr(c, "close"):
            request.addfinalizer(c.close)
        return c
    return make


def txn(t: str, user: str = "u1", items: Any = (("p1", 2),)) -> dict[str, Any]:
    return {"txn": t, "user": user, "items": [list(i) for i in items]}


def locks(n: Node) -> list[str]:
    return [lk["txn"] for lk in n.p.state()["locks"]]


def test_seed_commits_and_every_participant_logs_it(
        nodes: dict[str, Node], tmp_path: Path, coordinator: Any) -> None:
    c = coordinator(nodes, tmp_path)
    assert c.place(txn("t1"))[1]["status"] == "COMMITTED"
    for n in nodes.values():
        assert n.p.state()["log"]["t1"]["state"] == "committed" and locks(n) == []
    assert nodes["inventory"].p.snapshot()["resources"]["p1"] == 8
    assert nodes["payment"].p.snapshot()["resources"]["u1"] == 40


def test_seed_abort_all_passes_no_transaction_so_the_locks_stay(
        nodes: dict[str, Node], tmp_path: Path, coordinator: Any) -> None:
    c = coordinator(nodes, tmp_path)
    status, d = c.place(txn("big", items=[["p1", 3]], user="u2"))  # 90 <= 100: yes; then a second one
    assert d["status"] == "COMMITTED"
    d = c.place(txn("t2", items=[["p1", 2]], user="u2"))[1]  # payment: 10 left, 60 needed -> NO
    assert d == {"status": "ABORTED", "reason": "payment voted NO"}
    assert locks(nodes["order"]) == ["t2"] and locks(nodes["inventory"]) == ["t2"] and locks(nodes["payment"]) == []
    assert nodes["inventory"].p.state()["log"]["t2"]["state"] == "prepared"
    with pytest.raises(HttpError, match="nothing to release"):
        nodes["inventory"].p.abort(None)
    # the locked stock is gone for everyone else: 10 - 3 sold - 2 locked = 5 free
    assert c.place(txn("t3", items=[["p1", 6]]))[1]["reason"] == "inventory voted NO"


def test_seed_commit_failing_on_a_participant_is_still_reported_committed(nodes: dict[str, Node], coordinator: Any,
                                                                          tmp_path: Path) -> None:
    def restart_payment(point: str) -> None:  # payment restarts between its YES and the commit
        if point == "after-prepare-payment":
            nodes["payment"].restart()
    c = coordinator(nodes, tmp_path, hook=restart_payment)
    _, d = c.place(txn("t1"))
    assert d["status"] == "COMMITTED"
    assert [r["status"] for r in d["results"]] == ["COMMITTED", "COMMITTED", "FAILED"]
    assert "Transaction not prepared" in d["results"][2]["error"]
    assert nodes["payment"].p.state()["log"]["t1"]["state"] == "prepared" and locks(nodes["payment"]) == []
    assert nodes["payment"].p.snapshot()["resources"]["u1"] == 100  # never charged, order created
    e = nodes["payment"].p.state()["log"]["t1"]  # the lock was lost when payment restarted, and it says when
    assert e["lost_at"] is not None and e["lost_at"] >= e["prepared_at"]
    assert nodes["order"].p.state()["log"]["t1"]["lost_at"] is None


@pytest.mark.parametrize("nodes", ["durable"], indirect=True)
def test_durable_prepare_survives_a_restart_and_the_commit_is_retried(nodes: dict[str, Node], coordinator: Any,
                                                                       tmp_path: Path) -> None:
    def restart_payment(point: str) -> None:
        if point == "after-prepare-payment":
            nodes["payment"].restart()
    c = coordinator(nodes, tmp_path, cls=DurableCoordinator, hook=restart_payment, data_dir=str(tmp_path))
    assert c.place(txn("t1"))[1]["status"] == "COMMITTED"
    for n in nodes.values():
        assert n.p.state()["log"]["t1"]["state"] == "committed" and locks(n) == []
    assert nodes["payment"].p.snapshot()["resources"]["u1"] == 40
    assert c.undone() == []


@pytest.mark.parametrize("nodes", ["durable"], indirect=True)
def test_durable_abort_releases_and_a_late_prepare_votes_no(
        nodes: dict[str, Node], tmp_path: Path, coordinator: Any) -> None:
    c = coordinator(nodes, tmp_path, cls=DurableCoordinator, data_dir=str(tmp_path))
    assert c.place(txn("t1", user="u1", items=[["p1", 4]]))[1]["status"] == "ABORTED"  # 120 > 100
    assert all(locks(n) == [] for n in nodes.values())
    assert nodes["order"].p.state()["log"]["t1"]["state"] == "aborted"
    assert call(nodes["order"].addr, "POST", "/prepare", {**txn("t1"), "total": 1}, timeout=2)["vote"] == "NO"


@pytest.mark.parametrize("nodes", ["durable"], indirect=True)
def test_durable_in_doubt_participants_ask_and_presumed_abort_resolves(nodes: dict[str, Node], coordinator: Any,
                                                                        tmp_path: Path) -> None:
    import time

    c = coordinator(nodes, tmp_path, cls=DurableCoordinator, data_dir=str(tmp_path))
    server = serve("127.0.0.1", 0, c.routes(), "coordinator")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for n in nodes.values():  # the participants learn the coordinator's address, then restart with it
            n.coordinator = ("127.0.0.1", server.server_address[1])
            n.restart()
        # prepared at order with no decision at the coordinator: presumed abort
        assert call(nodes["order"].addr, "POST", "/prepare", {**txn("lost"), "total": 60}, timeout=2)["vote"] == "YES"
        assert c.decision({"txn": "lost"})[1] == {"decision": "abort"}
        deadline = time.monotonic() + 5
        while locks(nodes["order"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert locks(nodes["order"]) == [] and nodes["order"].p.state()["log"]["lost"]["state"] == "aborted"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("nodes", ["durable"], indirect=True)
def test_durable_decision_is_unknown_in_phase_one_and_commit_once_logged(
        nodes: dict[str, Node], tmp_path: Path, coordinator: Any) -> None:
    seen: dict[str, Any] = {}
    c = coordinator(nodes, tmp_path, cls=DurableCoordinator, data_dir=str(tmp_path),
                    hook=lambda point: seen.setdefault(point, c.decision({"txn": "t1"})[1]["decision"]))
    assert c.place(txn("t1"))[1]["status"] == "COMMITTED"
    assert seen["after-prepare-order"] == "unknown"  # a participant asking now must keep waiting
    assert seen["after-decision"] == "commit"
    assert c.decision({"txn": "never-seen"})[1] == {"decision": "abort"}
