"""ProxyHub's per-link counters: the nodes' bytes are counted, the harness's probes are not, cuts count drops."""

from __future__ import annotations

import socket
import time

from harness.backends.proxy import ProxyHub
from tests.backends.test_proxy import A_B, EchoServer, echo  # noqa: F401 - the fixture


def _exchange(addr, payload: bytes = b"hello") -> bytes:  # type: ignore[no-untyped-def]
    with socket.create_connection((addr.host, addr.port), timeout=1.0) as s:
        s.sendall(payload)
        return s.recv(100)


def test_counted_and_uncounted_listeners(echo: EchoServer) -> None:  # noqa: F811
    with ProxyHub() as hub:
        node = hub.add_link(A_B, echo.address, port_name="peer")
        probe = hub.add_link(A_B, echo.address, port_name="peer", counted=False)
        assert _exchange(probe) == b"hello"
        assert hub.counters()[A_B].bytes == 0  # the probe's bytes are not the nodes' traffic
        assert _exchange(node) == b"hello"
        time.sleep(0.05)
        c = hub.counters()[A_B]
        assert c.bytes >= 10 and c.packets >= 2 and c.dropped == 0  # 5 bytes each way (and the echo's "bye")


def test_a_cut_counts_what_it_dropped(echo: EchoServer) -> None:  # noqa: F811
    with ProxyHub() as hub:
        node = hub.add_link(A_B, echo.address)
        hub.cut([A_B])
        with socket.create_connection((node.host, node.port), timeout=1.0) as s:
            s.sendall(b"lost")
            time.sleep(0.1)
        time.sleep(0.05)
        c = hub.counters()[A_B]
        assert c.bytes == 0 and c.dropped >= 2  # the connection and the read it discarded
