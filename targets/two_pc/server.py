"""One 2PC node: ``python -m targets.two_pc.server --role R ...`` (see :mod:`targets.two_pc`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from harness.node.crashpoints import CrashPoints, boot_delay
from harness.node.http import int_pairs, log, peer_addresses, serve
from targets.two_pc.coordinator import DurableCoordinator, SeedCoordinator
from targets.two_pc.participant import KINDS, Participant

ROLES = ("coordinator", *KINDS)
VARIANTS = ("seed", "durable")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="two-pc-node")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--variant", required=True, choices=VARIANTS)
    p.add_argument("--peer", action="append", default=[], help="ROLE=HOST:PORT, one per other node")
    p.add_argument("--crash-points", default="")
    p.add_argument("--crash-p", type=float, default=0.02)
    p.add_argument("--timeout", type=float, default=0.5, help="seconds per call to another node")
    p.add_argument("--budget", type=float, default=2.0, help="durable: seconds a request retries its commits")
    p.add_argument("--inquire-after", type=float, default=1.0, help="durable: seconds prepared before asking")
    p.add_argument("--stock", default="p1=60,p2=60,p3=60")
    p.add_argument("--balances", default="u1=600,u2=600,u3=600,u4=600")
    p.add_argument("--prices", default="p1=30,p2=20,p3=10")
    a = p.parse_args(argv)
    a.peers = peer_addresses(a.peer)
    return a


def build(a: argparse.Namespace) -> Any:
    os.makedirs(a.data, exist_ok=True)
    crash = CrashPoints(a.crash_points, a.crash_p, a.data, a.name)
    if a.role == "coordinator":
        kw = dict(name=a.name, participants={k: v for k, v in a.peers.items() if k in KINDS},
                  prices=int_pairs(a.prices, "prices"), crash=crash, timeout=a.timeout)
        if a.variant == "durable":
            return DurableCoordinator(data_dir=a.data, budget=a.budget, **kw)
        return SeedCoordinator(**kw)
    initial = {"inventory": lambda: int_pairs(a.stock, "stock"), "payment": lambda: int_pairs(a.balances, "balances"),
               "order": dict}[a.role]()
    return Participant(kind=a.role, name=a.name, variant=a.variant, db_path=os.path.join(a.data, f"{a.role}.db"),
                       initial=initial, crash=crash, coordinator=a.peers.get("coordinator"), timeout=a.timeout,
                       inquire_after=a.inquire_after)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    boot_delay()  # re-executed by a crash point: down for a while first
    node = build(a)
    server = serve(a.host, a.port, node.routes(), a.name)
    log(a.name, f"{a.role} ({a.variant}) listening on {a.host}:{a.port}; peers {a.peers}")
    server.serve_forever()


if __name__ == "__main__":
    main()
