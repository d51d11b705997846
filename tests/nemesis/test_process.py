"""Kill/restart and pause/resume nemeses act on the named nodes and say which."""

from __future__ import annotations

import random
from typing import Any

import pytest

from harness.history import NEMESIS, Op
from nemesis.core import NemesisError
from nemesis.process import KillNemesis, PauseNemesis, minority, pick_targets

FIVE = ("n1", "n2", "n3", "n4", "n5")


def _ev(f: str, value: Any = None) -> Op:
    return Op(index=0, type="info", process=NEMESIS, f=f, value=value)


def test_kill_then_start_the_named_nodes(make_cluster: Any) -> None:
    c = make_cluster(FIVE)
    n = KillNemesis(dead_wait_s=0.1).setup(c)
    done = n.invoke(_ev("kill", {"nodes": ["n4", "n2"]}))
    assert done.error is None and done.value == {"nodes": ["n2", "n4"]}
    assert c.dead == {"n2", "n4"}
    done = n.invoke(_ev("start", {"nodes": ["n2"]}))
    assert done.value == {"nodes": ["n2"]} and c.dead == {"n4"}


def test_start_all_restarts_what_was_killed_and_whatever_else_is_dead(make_cluster: Any) -> None:
    c = make_cluster(FIVE)
    n = KillNemesis(dead_wait_s=0.1).setup(c)
    n.invoke(_ev("kill", {"nodes": ["n1"]}))
    c.dead.add("n5")  # died on its own
    done = n.invoke(_ev("start", "all"))
    assert done.value == {"nodes": ["n1", "n5"]} and not c.dead


def test_a_kill_that_fails_on_one_node_names_it_and_does_not_claim_it(make_cluster: Any) -> None:
    c = make_cluster(FIVE, fail_kill=["n3"])
    done = KillNemesis(dead_wait_s=0.1).setup(c).invoke(_ev("kill", {"nodes": ["n1", "n3"]}))
    assert done.value["nodes"] == ["n1"] and "n3" in done.value["failed"]
    assert "kill failed on n3" in done.error


def test_a_node_that_survives_sigkill_is_not_claimed(make_cluster: Any) -> None:
    c = make_cluster(FIVE)
    c.kill = lambda node: None  # the signal is lost
    done = KillNemesis(dead_wait_s=0.05).setup(c).invoke(_ev("kill", {"nodes": ["n2"]}))
    assert done.value["nodes"] == [] and done.value["failed"] == {"n2": "still alive after SIGKILL"}


def test_pause_and_resume(make_cluster: Any) -> None:
    c = make_cluster(FIVE)
    n = PauseNemesis().setup(c)
    assert n.invoke(_ev("pause", {"nodes": ["n5"]})).value == {"nodes": ["n5"]}
    assert c.paused == {"n5"}
    assert n.invoke(_ev("resume", None)).value == {"nodes": ["n5"]}
    assert not c.paused
    assert n.invoke(_ev("resume", "all")).value == {"nodes": []}


def test_unknown_nodes_are_an_error_in_the_completion(make_cluster: Any) -> None:
    c = make_cluster(FIVE)
    done = PauseNemesis().setup(c).invoke(_ev("pause", {"nodes": ["n9"]}))
    assert "unknown node(s) ['n9']" in done.error and not c.paused


def test_setup_refuses_clusters_without_the_ability(bare_cluster: Any) -> None:
    with pytest.raises(NemesisError, match="cannot kill"):
        KillNemesis().setup(bare_cluster)
    with pytest.raises(NemesisError, match="cannot pause"):
        PauseNemesis().setup(bare_cluster)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7])
def test_targets_are_one_node_or_a_minority(n: int) -> None:
    nodes = [f"n{i}" for i in range(1, n + 1)]
    sizes = {len(pick_targets(nodes, random.Random(s))) for s in range(40)}
    assert sizes == ({1, minority(n)} if minority(n) >= 1 else {1})
    assert minority(5) == 2 and minority(4) == 1
