"""``NodeFiles`` on every backend: the harness writes and reads a small file in a running node's data dir.

The crash nemesis's control channel (:mod:`nemesis.crashpoints`). Each
backend opens a real one-node cluster of the ping target; the test writes a
file twice (the second replaces the first whole), reads it back, and checks
that the node's own data directory holds it, as the node sees it: on the
host for local and netns, inside the container (``docker exec cat``) for
Docker.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from harness.cluster import ClusterSpec, NodeFiles
from tests.support.ping_target import TARGET

pytestmark = pytest.mark.slow


def spec(tmp_path: Path, target: Any = TARGET) -> ClusterSpec:
    return ClusterSpec(target=target, variant="default", nodes=("n1",), run_id=f"t{uuid.uuid4().hex[:10]}",
                       run_dir=tmp_path / "run")


def round_trip(c: Any) -> None:
    assert isinstance(c, NodeFiles)
    assert c.read_node_file("n1", "crash-control.json") is None
    c.write_node_file("n1", "crash-control.json", b'{"armed": [{"point": "x", "arm": "a1"}]}')
    c.write_node_file("n1", "crash-control.json", b'{"armed": []}')
    assert c.read_node_file("n1", "crash-control.json") == b'{"armed": []}'
    with pytest.raises(ValueError, match="plain file name"):
        c.write_node_file("n1", "../escape", b"")


def test_local(tmp_path: Path) -> None:
    from harness.backends.local import open_local_cluster

    with open_local_cluster(spec(tmp_path), state_dir=tmp_path / "state") as c:
        round_trip(c)
        assert (c._node("n1").data_dir / "crash-control.json").read_bytes() == b'{"armed": []}'


def test_netns(tmp_path: Path) -> None:
    from harness.backends.netns import available, open_netns_cluster

    why = available()
    if why is not None:
        pytest.skip(f"netns backend: {why}")
    with open_netns_cluster(spec(tmp_path)) as c:
        round_trip(c)
        assert (c._node("n1").data_dir / "crash-control.json").read_bytes() == b'{"armed": []}'


@pytest.mark.docker
def test_docker(tmp_path: Path) -> None:
    from harness.backends.docker import DATA_DIR, open_docker_cluster
    from harness.backends.docker_engine import clean_leftovers, connect
    from harness.cluster import EnvironmentError_
    from harness.images import ImageBuildError, ensure_base_image, ensure_target_image
    from tests.backends.docker_ping.target import TARGET as DOCKER_TARGET

    try:
        client = connect(timeout=10)
        ensure_target_image(client, DOCKER_TARGET, base=ensure_base_image(client))
    except (EnvironmentError_, ImageBuildError) as e:
        pytest.skip(f"no Docker engine or images: {e}")
    s = spec(tmp_path, DOCKER_TARGET)
    try:
        with open_docker_cluster(s) as c:
            round_trip(c)
            assert c.exec("n1", ["cat", f"{DATA_DIR}/crash-control.json"]) == (0, '{"armed": []}')
            assert c.exec("n1", ["sh", "-c", f"ls -A {DATA_DIR} | grep -c tmp || true"])[1].strip() == "0"
    finally:
        clean_leftovers(s.run_id, client)
        client.close()
