"""Real quorum store nodes on 127.0.0.1 for the tests, and a black hole for hung links.

``qs_cluster(n, variant, ...)`` starts ``n`` node processes (ports picked by
binding to port 0) with peers addressed directly; any peer may instead be
pointed at a :class:`BlackHole`, a listening socket that accepts connections
and never answers (a link that hangs, as under the harness's partitions).
Every process and socket is removed when the test ends, also on failure.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.cluster import Address
from harness.target import NodeContext
from targets.quorum_store import node_command, ready

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BlackHole:
    """Accepts TCP connections and never reads or answers from them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = Address(host="127.0.0.1", port=self.sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self._held.append(c)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for c in self._held:
            c.close()
        self.sock.close()


class Nodes:
    """A running set of quorum store nodes (see the module docstring)."""

    def __init__(self, tmp: Path, n: int, variant: str, options: dict[str, str],
                 hung: dict[str, set[str]]) -> None:
        self.names = tuple(f"n{i}" for i in range(1, n + 1))
        self.variant = variant
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.addresses = {name: Address(host="127.0.0.1", port=free_port()) for name in self.names}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.holes: list[BlackHole] = []
        self.options = options
        self.hung = hung  # node -> peers whose link from node hangs

    def context(self, name: str) -> NodeContext:
        peers = {}
        for p in self.names:
            if p == name:
                continue
            if p in self.hung.get(name, set()):
                hole = BlackHole()
                self.holes.append(hole)
                peers[p] = hole.address
            else:
                peers[p] = self.addresses[p]
        return NodeContext(name=name, index=self.names.index(name), nodes=self.names, variant=self.variant,
                           listen=self.addresses[name], peers=peers, data_dir=str(self.tmp / name),
                           python=sys.executable, options=self.options)

    def start(self, *names: str) -> None:
        """Start ``names`` (all at once) and wait until each answers ``/health``."""
        for name in names:
            self._spawn(name)
        for name in names:
            self._wait_ready(name)

    def _spawn(self, name: str) -> None:
        argv = node_command(self.context(name))
        log = open(self.tmp / f"{name}.log", "ab")
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        try:
            self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        finally:
            log.close()

    def _wait_ready(self, name: str) -> None:
        end = time.monotonic() + 15
        while not ready(self.addresses[name]):
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"node {name} exited: {self.log(name)}")
            if time.monotonic() > end:
                raise RuntimeError(f"node {name} not ready after 15 s: {self.log(name)}")
            time.sleep(0.05)

    def kill(self, name: str) -> None:
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def request(self, name: str, method: str, path: str, body: Any = None,
                timeout: float = 5.0) -> tuple[int, Any]:
        a = self.addresses[name]
        conn = http.client.HTTPConnection(a.host, a.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def write(self, name: str, key: Any, value: Any) -> dict[str, Any]:
        status, d = self.request(name, "PUT", f"/kv/{key}", {"value": value})
        assert status == 200, d
        return d

    def read(self, name: str, key: Any) -> dict[str, Any]:
        status, d = self.request(name, "GET", f"/kv/{key}")
        assert status == 200, d
        return d

    def replica(self, name: str, key: Any) -> dict[str, Any]:
        status, d = self.request(name, "GET", f"/replica/{key}")
        assert status == 200, d
        return d

    def close(self) -> None:
        for name in list(self.procs):
            p = self.procs.pop(name)
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
        for h in self.holes:
            h.close()


@pytest.fixture
def qs_cluster(tmp_path: Path) -> Iterator[Any]:
    made: list[Nodes] = []

    def make(n: int = 3, variant: str = "abd", options: dict[str, str] | None = None,
             hung: dict[str, set[str]] | None = None, start: bool = True) -> Nodes:
        nodes = Nodes(tmp_path / f"c{len(made)}", n, variant, options or {}, hung or {})
        made.append(nodes)
        if start:
            nodes.start(*nodes.names)
        return nodes

    try:
        yield make
    finally:
        for nodes in made:
            nodes.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()
