"""A target's ``check_options`` turns a bad option value into a usage error before any node starts."""

from __future__ import annotations

import dataclasses

import pytest

from harness import registry
from harness.commands.run import resolve
from harness.target import WorkloadContext


def _quorum_within_nodes(ctx: WorkloadContext) -> None:
    w = int(ctx.options.get("w", "1"))
    if not 1 <= w <= len(ctx.nodes):
        raise ValueError(f"--option w={w}: a write quorum is 1..{len(ctx.nodes)} for {len(ctx.nodes)} nodes")


def test_a_bad_value_is_refused_with_the_targets_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    base = registry.get_target("quorum-store")
    strict = dataclasses.replace(base, check_options=_quorum_within_nodes)
    monkeypatch.setattr(registry, "get_target", lambda name: strict)
    with pytest.raises(ValueError, match=r"w=0: a write quorum is 1\.\.5 for 5 nodes"):
        resolve("quorum-store", nodes=5, options={"w": "0"})
    with pytest.raises(ValueError, match=r"w=4: a write quorum is 1\.\.3"):
        resolve("quorum-store", nodes=3, options={"w": "4"})
    assert resolve("quorum-store", nodes=3, options={"w": "2"}).options == {"w": "2"}


@pytest.mark.parametrize("option, says", [
    ("w=0", "from 1 to N = 5"), ("r=6", "from 1 to N = 5"), ("w=two", "not 'two'"),
    ("hot=1.5", "fraction from 0 to 1"), ("keys=0", "at least 1"), ("peer_timeout=-1", "> 0"),
])
def test_the_quorum_store_refuses_values_its_nodes_cannot_use(option: str, says: str) -> None:
    k, _, v = option.partition("=")
    with pytest.raises(ValueError, match=f"--option {k}={v}: .*{says}"):
        resolve("quorum-store", nodes=5, options={k: v})


def test_abd_with_quorums_that_need_not_intersect_runs_only_when_asked() -> None:
    with pytest.raises(ValueError, match=r"abd needs W \+ R > N = 5 .* weak_quorum=1"):
        resolve("quorum-store", variant="abd", nodes=5, options={"w": "2", "r": "2"})
    req = resolve("quorum-store", variant="abd", nodes=5, options={"w": "2", "r": "2", "weak_quorum": "1"})
    assert req.options["weak_quorum"] == "1"
    resolve("quorum-store", variant="seed", nodes=5, options={"w": "1", "r": "1"})  # the guide's W=R=1 row
