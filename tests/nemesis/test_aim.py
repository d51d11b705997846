"""Faults aimed at roles: ``kill:coordinator``, ``pause:participant``, ``partition:orchestrator``."""

from __future__ import annotations

from typing import Any

import pytest

from harness import generators as gen
from harness.history import NEMESIS
from nemesis import aim
from nemesis.grudge import Grudge, isolate
from nemesis.package import package, parse_faults

ROLES = {"coordinator": "coordinator", "participant1": "participant",
         "participant2": "participant", "participant3": "participant"}
NODES = tuple(ROLES)
SHOP = {"orchestrator": "orchestrator", "orders": "orders", "inventory": "inventory", "payment": "payment"}


def _nemesis_ops(faults: str, roles: dict[str, str], *, seed: int = 3, seconds: float = 200) -> list[Any]:
    p = package(faults, nodes=tuple(roles), roles=roles, interval_s=2, seed=seed)
    history = gen.simulate(gen.time_limit(seconds, p.generator), seed=1, concurrency=0,
                           tick_ns=50_000_000, latency_ns=20_000_000)
    return [(op.f, op.value) for op in history if op.process == NEMESIS and op.type == "info"]


def test_split_and_kinds() -> None:
    assert aim.split("kill:coordinator") == ("kill", "coordinator")
    assert aim.split("kill") == ("kill", None)
    assert aim.kinds(["kill:coordinator", "pause", "partition:orchestrator"]) == {"kill", "pause", "partition"}
    with pytest.raises(ValueError, match="a role must follow"):
        aim.split("kill:")


def test_parse_faults_takes_aims_and_rejects_unknown_kinds() -> None:
    assert parse_faults("kill:coordinator,pause:participant") == ("kill:coordinator", "pause:participant")
    with pytest.raises(ValueError, match="unknown fault"):
        parse_faults("explode:coordinator")


def test_an_aim_at_a_role_nobody_has_names_the_roles() -> None:
    with pytest.raises(ValueError, match="no node has role 'leader'; the roles are coordinator, participant"):
        package("kill:leader", nodes=NODES, roles=ROLES)
    with pytest.raises(ValueError, match="no node has role 'coordinator'; the roles are node"):
        package("kill:coordinator", nodes=("n1", "n2", "n3"))
    with pytest.raises(ValueError, match="cuts nothing"):
        package("partition:node", nodes=("n1", "n2", "n3"))


def test_isolate_cuts_the_group_from_everyone_else_both_ways() -> None:
    g = isolate(tuple(SHOP), ["orchestrator"], label="orchestrator")
    services = {"orders", "inventory", "payment"}
    assert set(g.links()) == {(a, b) for a in SHOP for b in SHOP
                              if a != b and "orchestrator" in (a, b)}
    assert g.sees("orchestrator") == {"orchestrator"} and all(g.sees(s) == services for s in services)
    assert g.summary == "orchestrator | orders inventory payment"
    assert Grudge.from_json(g.to_json()) == g
    with pytest.raises(ValueError, match="proper subset"):
        isolate(tuple(SHOP), list(SHOP))
    with pytest.raises(ValueError, match="proper subset"):
        isolate(tuple(SHOP), ["billing"])


def test_kill_aimed_at_the_coordinator_only_ever_kills_the_coordinator() -> None:
    ops = _nemesis_ops("kill:coordinator", ROLES)
    kills = [v for f, v in ops if f == "kill"]
    assert len(kills) >= 20
    assert all(v == {"nodes": ["coordinator"]} for v in kills)


def test_pause_aimed_at_participants_pauses_one_participant_at_a_time() -> None:
    ops = _nemesis_ops("pause:participant", ROLES)
    paused = [tuple(v["nodes"]) for f, v in ops if f == "pause"]
    assert len(paused) >= 20 and all(len(p) == 1 and p[0].startswith("participant") for p in paused)
    assert len(set(paused)) == 3  # the draw covers every participant


def test_partition_aimed_at_the_orchestrator_isolates_it_and_nothing_else() -> None:
    ops = _nemesis_ops("partition:orchestrator", SHOP)
    starts = [Grudge.from_json(v["grudge"]) for f, v in ops if f == "start-partition"]
    assert len(starts) >= 20
    for g in starts:
        assert g.kind == "isolate" and g.sees("orchestrator") == {"orchestrator"}
        assert all("orchestrator" in link for link in g.links())


def test_aimed_and_plain_faults_mix_and_the_final_heal_covers_both() -> None:
    p = package("kill:coordinator,partition", nodes=NODES, roles=ROLES, interval_s=2, seed=5)
    ops = _nemesis_ops("kill:coordinator,partition", ROLES)
    assert {f for f, _ in ops} >= {"kill", "start-partition"}
    final = gen.simulate(p.final_generator, seed=1, concurrency=0)
    assert [op.f for op in final if op.type == "invoke" or op.process == NEMESIS][::2] == ["start", "stop-partition"]


def _op(f: str, value: Any) -> Any:
    from harness.history import Op
    return Op(index=0, type="info", process=NEMESIS, f=f, value=value)


def test_process_nemeses_take_a_role_and_draw_its_nodes_themselves() -> None:
    from nemesis.process import KillNemesis, PauseNemesis
    from tests.nemesis.conftest import FakeCluster

    c = FakeCluster(NODES)
    kill = KillNemesis(seed=4, roles=ROLES).setup(c)
    for _ in range(10):
        done = kill.invoke(_op("kill", {"role": "participant"}))
        assert done.error is None and len(done.value["nodes"]) == 1
        assert done.value["nodes"][0].startswith("participant") and "coordinator" not in c.dead
        kill.invoke(_op("start", {"role": "participant"}))
        assert not c.dead
    assert kill.invoke(_op("kill", {"role": "coordinator"})).value == {"nodes": ["coordinator"]}
    assert c.dead == {"coordinator"}
    bad = PauseNemesis(roles=ROLES).setup(c).invoke(_op("pause", {"role": "leader"}))
    assert bad.error is not None and "no node has role 'leader'" in bad.error


def test_the_partition_nemesis_isolates_a_role_given_by_name() -> None:
    from nemesis.partition import PartitionNemesis
    from tests.nemesis.conftest import FakeCluster

    c = FakeCluster(tuple(SHOP))
    nem = PartitionNemesis(roles=SHOP, verify_s=0.5, probe_timeout_s=0.1).setup(c)
    try:
        done = nem.invoke(_op("start-partition", {"role": "orchestrator"}))
        assert done.error is None and done.value["verified"] is True and done.value["kind"] == "isolate"
        assert c.cut_links == {(a, b) for a in SHOP for b in SHOP if a != b and "orchestrator" in (a, b)}
    finally:
        nem.teardown()
