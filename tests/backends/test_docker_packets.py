"""Packet faults in containers: the shared Shaper (netem, or iptables + the NFQUEUE delayer) on Docker."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from harness.backends.docker import open_docker_cluster
from harness.backends.docker_engine import connect
from harness.cluster import ClusterSpec, EnvironmentError_, PacketFault
from tests.backends.docker_ping.target import TARGET

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):  # type: ignore[no-untyped-def]
    try:
        client = connect(timeout=10)
    except EnvironmentError_ as e:
        pytest.skip(f"no Docker engine: {e}")
    from harness.images import ImageBuildError, ensure_base_image, ensure_target_image

    try:
        ensure_target_image(client, TARGET, base=ensure_base_image(client))
    except ImageBuildError as e:
        pytest.skip(f"cannot build the images here: {e}")
    finally:
        client.close()
    spec = ClusterSpec(target=TARGET, variant="default", nodes=("n1", "n2", "n3"),
                       run_id=f"t{uuid.uuid4().hex[:10]}", run_dir=Path(tmp_path_factory.mktemp("docker-pkt")))
    with open_docker_cluster(spec) as c:
        yield c


@pytest.mark.parametrize("fault,kind", [(PacketFault(delay_ms=80), "delay"), (PacketFault(loss=0.5), "loss"),
                                        (PacketFault(duplicate=0.5), "dup")])
def test_packet_faults_in_containers(cluster, fault, kind) -> None:  # type: ignore[no-untyped-def]
    cluster.shape(["n1"], fault)
    try:
        after = cluster.measure_link("n1", "n2", count=20, timeout=0.5)
        assert cluster.packet_hits()["n1"].get(kind, 0) > 0
        if fault.delay_ms:
            assert sorted(after["rtt_ms"])[len(after["rtt_ms"]) // 2] > fault.delay_ms * 0.8
        if fault.loss:
            assert after["lost"] > 0
    finally:
        cluster.unshape()
    again = cluster.measure_link("n1", "n2", count=10, timeout=0.5)
    assert again["lost"] == 0 and max(again["rtt_ms"]) < 50
