"""Real saga-orders nodes on 127.0.0.1, started by their own node command, peers addressed directly.

``saga_nodes(variant, **options)`` starts the five roles (orchestrator,
order, inventory, payment, bus) as processes with their own data dirs and
SQLite files; ``pause`` / ``resume`` / ``kill`` / ``start`` act on one role's
process with real signals. Everything is killed when the test ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.cluster import Address
from harness.target import NodeContext
from targets.saga_orders import ROLES, TARGET, node_command
from harness.node.http import call

ROOT = Path(__file__).resolve().parents[3]
_READY = {r.name: r.ready for r in TARGET.roles}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SagaNodes:
    def __init__(self, tmp: Path, variant: str, options: dict[str, str]) -> None:
        self.tmp, self.variant, self.options = tmp, variant, options
        self.addr = {r: Address(host="127.0.0.1", port=free_port()) for r in ROLES}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def context(self, role: str) -> NodeContext:
        return NodeContext(name=role, index=ROLES.index(role), nodes=ROLES, variant=self.variant,
                           listen=self.addr[role], peers={r: a for r, a in self.addr.items() if r != role},
                           data_dir=str(self.tmp / role), python=sys.executable, options=self.options,
                           role=role, roles={r: r for r in ROLES})

    def start(self, *roles: str) -> None:
        for role in roles or ROLES:
            log = open(self.tmp / f"{role}.log", "ab")
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            try:
                self.procs[role] = subprocess.Popen(node_command(self.context(role)), stdout=log,
                                                    stderr=subprocess.STDOUT, env=env, cwd=ROOT)
            finally:
                log.close()
        for role in roles or ROLES:
            end = time.monotonic() + 15
            while not _READY[role](self.addr[role]):
                assert self.procs[role].poll() is None, f"{role} exited: {self.log(role)}"
                assert time.monotonic() < end, f"{role} not ready: {self.log(role)}"
                time.sleep(0.05)

    def log(self, role: str) -> str:
        return (self.tmp / f"{role}.log").read_text(errors="replace")

    def signal(self, role: str, sig: int) -> None:
        self.procs[role].send_signal(sig)

    def kill(self, role: str) -> None:
        p = self.procs.pop(role)
        p.kill()
        p.wait(timeout=10)

    def wait_exit(self, role: str, timeout: float = 10) -> int:
        rc = self.procs.pop(role).wait(timeout=timeout)
        return rc

    def place(self, key: str, items: list[list[Any]], user: str = "u1", timeout: float = 5.0) -> Any:
        a = self.addr["orchestrator"]
        return call((a.host, a.port), "POST", "/place", {"key": key, "user": user, "items": items},
                    timeout=timeout)

    def final(self, wait: float = 3.0) -> Any:
        a = self.addr["orchestrator"]
        return call((a.host, a.port), "POST", "/final", {"wait": wait}, timeout=wait + 15)

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
            p.wait(timeout=10)


@pytest.fixture
def saga_nodes(tmp_path: Path) -> Iterator[Any]:
    made: list[SagaNodes] = []

    def make(variant: str, **options: str) -> SagaNodes:
        nodes = SagaNodes(tmp_path / f"c{len(made)}", variant, options)
        (nodes.tmp).mkdir(parents=True)
        made.append(nodes)
        nodes.start()
        return nodes

    try:
        yield make
    finally:
        for n in made:
            n.close()
