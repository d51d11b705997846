"""The link proxy on real loopback sockets: forwarding, cut, heal, dead upstream, close."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import pytest

from harness.backends.proxy import ProxyHub
from harness.cluster import Address

A_B = ("a", "b")
A_C = ("a", "c")
SHORT = 0.3  # long enough for loopback, short enough to keep "it hangs" checks quick


class EchoServer:
    """Echoes every byte; counts accepted connections; closes everything on ``close``."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = Address(host="127.0.0.1", port=self.sock.getsockname()[1])
        self.accepted = 0
        self.half_closed = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stop = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self._stop:
                conn.close()
                return
            self.accepted += 1
            self._conns.append(conn)
            t = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
            self.half_closed.set()
            conn.sendall(b"bye")
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self._stop = True
        try:
            socket.create_connection((self.address.host, self.address.port), timeout=1).close()
        except OSError:
            pass
        self.sock.close()
        self._acceptor.join(5)
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        for t in self._threads:
            t.join(5)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def hub() -> Iterator[ProxyHub]:
    with ProxyHub() as h:
        yield h


def connect(addr: Address, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection((addr.host, addr.port), timeout=timeout)


def roundtrip(s: socket.socket, payload: bytes) -> bytes:
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_forwards_both_ways_on_many_connections(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    assert addr.port != echo.address.port
    for i in range(20):
        with connect(addr) as s:
            assert roundtrip(s, f"hello {i}".encode()) == f"hello {i}".encode()
    assert echo.accepted == 20


def test_large_transfer_arrives_intact(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    payload = bytes(range(256)) * 8192  # 2 MiB: exercises partial sends and backpressure
    with connect(addr, timeout=10) as s:
        received = bytearray()
        sender = threading.Thread(target=s.sendall, args=(payload,))
        sender.start()
        while len(received) < len(payload):
            chunk = s.recv(65536)
            assert chunk, "connection closed early"
            received += chunk
        sender.join()
    assert bytes(received) == payload


def test_half_close_is_passed_on_after_the_data(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    with connect(addr) as s:
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(1024):
            got += chunk
    assert got == b"last wordsbye"
    assert echo.half_closed.wait(2)


def test_cut_link_accepts_but_never_forwards_new_connections(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    hub.cut([A_B])
    assert hub.cut_links() == {A_B}
    with connect(addr, timeout=SHORT) as s:  # accepted: not refused
        s.sendall(b"anyone?")
        with pytest.raises(TimeoutError):
            s.recv(1024)
    assert echo.accepted == 0  # the "SYN" never reached dst


def test_cut_stalls_a_connection_in_flight_both_ways(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    with connect(addr, timeout=SHORT) as s:
        assert roundtrip(s, b"before") == b"before"
        hub.cut([A_B])
        s.sendall(b"during")
        with pytest.raises(TimeoutError):
            s.recv(1024)


def test_cut_leaves_other_links_alone(hub: ProxyHub, echo: EchoServer) -> None:
    ab = hub.add_link(A_B, echo.address)
    ac = hub.add_link(A_C, echo.address)
    with connect(ab, timeout=SHORT) as kept:
        assert roundtrip(kept, b"x") == b"x"
        hub.cut([A_B])
        with connect(ac) as s:
            assert roundtrip(s, b"still fine") == b"still fine"


def test_heal_closes_stalled_connections_and_new_ones_work(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    with connect(addr, timeout=2) as stalled, connect(addr, timeout=2) as before:
        assert roundtrip(before, b"1") == b"1"
        hub.cut([A_B])
        stalled.sendall(b"lost")
        hub.heal()
        assert hub.cut_links() == frozenset()
        for s in (stalled, before):
            try:
                assert s.recv(1024) == b""
            except ConnectionResetError:
                pass
    with connect(addr) as s:
        assert roundtrip(s, b"back") == b"back"
    assert hub.connection_count() <= 1  # only the last one, if its close is not yet seen


def test_client_closing_during_cut_frees_its_connection(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    hub.cut([A_B])
    for _ in range(10):
        connect(addr).close()
    with connect(addr, timeout=SHORT) as s:  # a round of the loop later, the closes were seen
        with pytest.raises(TimeoutError):
            s.recv(1)
        assert hub.connection_count() == 1


def test_dead_upstream_resets_instead_of_hanging(hub: ProxyHub) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead = Address(host="127.0.0.1", port=probe.getsockname()[1])
    probe.close()  # nothing listens there now
    addr = hub.add_link(A_B, dead)
    try:  # the reset may even arrive before connect() returns
        with connect(addr, timeout=2) as s:
            s.sendall(b"hello?")
            assert s.recv(1024) == b""  # closed, or reset (below): either way, no hang
    except ConnectionResetError:
        pass


def test_cut_of_unknown_link_is_an_error(hub: ProxyHub, echo: EchoServer) -> None:
    hub.add_link(A_B, echo.address)
    with pytest.raises(ValueError, match="b->a"):
        hub.cut([("b", "a")])
    assert hub.cut_links() == frozenset()


def test_close_joins_the_thread_and_frees_the_ports(echo: EchoServer) -> None:
    hub = ProxyHub()
    addr = hub.add_link(A_B, echo.address)
    open_conn = connect(addr)
    try:
        assert roundtrip(open_conn, b"x") == b"x"
        hub.close()
        assert not hub._thread.is_alive()
        with pytest.raises(ConnectionRefusedError):
            connect(addr).close()
        assert open_conn.recv(1024) == b""  # proxied connections were closed too
        with pytest.raises(RuntimeError, match="closed"):
            hub.cut([A_B])
        hub.close()  # idempotent
    finally:
        open_conn.close()


def test_no_connection_leaks_through_cut_and_heal_churn(hub: ProxyHub, echo: EchoServer) -> None:
    addr = hub.add_link(A_B, echo.address)
    for round_ in range(10):
        socks = [connect(addr, timeout=SHORT) for _ in range(10)]
        if round_ % 2:
            hub.cut([A_B])
        for s in socks:
            try:
                s.sendall(b"x")
            except OSError:
                pass
            s.close()
        hub.heal()
    deadline = time.monotonic() + 5
    while hub.connection_count() and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for the closes to be read, not measuring anything
    assert hub.connection_count() == 0
    with connect(addr) as s:
        assert roundtrip(s, b"ok") == b"ok"
