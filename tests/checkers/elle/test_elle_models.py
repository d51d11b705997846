"""The consistency-model table: implications keep proscriptions monotone; boundaries."""

from __future__ import annotations

import pytest

from checkers.elle.cycles import CYCLE_ANOMALIES
from checkers.elle.models import IMPLIES, MODELS, boundary, proscribed


def test_a_stronger_model_proscribes_everything_a_weaker_one_does() -> None:
    for m, weaker in IMPLIES.items():
        for w in weaker:
            assert proscribed([w]) <= proscribed([m]), (m, w)


def test_snapshot_isolation_allows_write_skew_only() -> None:
    si = proscribed(["snapshot-isolation"])
    assert {"G0", "G1a", "G1b", "G1c", "G-single", "G-nonadjacent", "lost-update", "internal"} <= si
    assert "G2-item" not in si and not any(a.endswith("-realtime") for a in si)
    assert proscribed(["serializable"]) - si == {"G2-item"}


def test_strict_serializable_proscribes_every_cycle() -> None:
    assert set(CYCLE_ANOMALIES) <= proscribed(["strict-serializable"])
    assert not any(a.endswith(("-process", "-realtime")) for a in proscribed(["serializable"]))


@pytest.mark.parametrize("found, satisfies, violates", [
    ([], ["strict-serializable"], []),
    (["G2-item"], ["strong-snapshot-isolation"], ["repeatable-read"]),
    (["G-single-realtime"], ["strong-session-serializable"], ["strong-snapshot-isolation"]),
    (["G1a"], ["read-uncommitted"], ["read-committed"]),
    (["G0"], [], ["read-uncommitted"]),
    (["lost-update"], ["read-committed"], ["snapshot-isolation", "repeatable-read"]),
])
def test_boundary(found: list[str], satisfies: list[str], violates: list[str]) -> None:
    assert boundary(found) == {"satisfies": satisfies, "violates": violates}


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown consistency model 'snapshot'.*snapshot-isolation"):
        proscribed(["snapshot"])
    assert "strict-serializable" in MODELS
