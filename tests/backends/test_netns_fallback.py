"""Where the netns backend cannot run, it falls back to the local backend with one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends import netns
from harness.backends.local import LocalCluster
from harness.cluster import ClusterSpec, EnvironmentError_
from tests.support import ping_target


@pytest.mark.slow
def test_falls_back_to_local_and_says_what_it_cannot_fault(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(netns, "available", lambda: "user namespaces are not usable: EPERM")
    said: list[str] = []
    spec = ClusterSpec(target=ping_target.TARGET, variant="default", nodes=("n1", "n2"), run_id="sbn-fallback",
                       run_dir=tmp_path / "run")
    with netns.open_netns_cluster(spec, echo=said.append) as c:
        assert isinstance(c, LocalCluster) and c.alive("n1")
    assert len(said) == 1 and "EPERM" in said[0] and "using the local backend" in said[0]
    assert "cannot drop, delay or duplicate packets" in said[0]
    with pytest.raises(EnvironmentError_, match="not available here"):
        with netns.open_netns_cluster(spec, fallback=False):
            pass
