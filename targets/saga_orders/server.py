"""One saga node: ``python -m targets.saga_orders.server --role R ...`` (see the package docstring)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from targets.saga_orders import ROLES
from targets.saga_orders.bus import Bus
from harness.node.crashpoints import CrashPoints, boot_delay
from harness.node.http import int_pairs, log, peer_addresses, serve
from targets.saga_orders.orchestrator import DurableSaga, Gateway, SeedSaga
from targets.saga_orders.services import Inventory, Orders, Payments, Db
from targets.saga_orders.trace import StepTrace

VARIANTS = ("seed", "choreography", "durable")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="saga-orders-node")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--variant", required=True, choices=VARIANTS)
    p.add_argument("--peer", action="append", default=[], help="ROLE=HOST:PORT, one per other role")
    p.add_argument("--crash-points", default="")
    p.add_argument("--crash-p", type=float, default=0.01)
    p.add_argument("--crash-once", action="store_true")
    p.add_argument("--crash-restart", default="1", help="seconds until a crashed node is back, or none")
    p.add_argument("--timeout", type=float, default=0.5, help="seconds per call to another node")
    p.add_argument("--budget", type=float, default=2.0, help="durable: seconds a client's request drives its saga")
    p.add_argument("--stock", default="p1=100,p2=100,p3=100")
    p.add_argument("--balances", default="u1=1000,u2=1000,u3=1000,u4=1000")
    p.add_argument("--prices", default="p1=30,p2=20,p3=10")
    p.add_argument("--reservation-ttl", type=float, default=5.0)
    a = p.parse_args(argv)
    a.peers = peer_addresses(a.peer)
    return a


def build(a: argparse.Namespace) -> Any:
    os.makedirs(a.data, exist_ok=True)
    restart = None if a.crash_restart in ("none", "") else float(a.crash_restart)
    crash = CrashPoints(a.crash_points, a.crash_p, a.data, a.name, once=a.crash_once, restart_after=restart)
    if a.role == "bus":
        return Bus(name=a.name, services=a.peers, timeout=a.timeout, trace=StepTrace(a.data, a.name))
    if a.role == "orchestrator":
        kw = dict(name=a.name, services=a.peers, prices=int_pairs(a.prices, "prices"), crash=crash, timeout=a.timeout)
        if a.variant == "seed":
            return SeedSaga(**kw)
        if a.variant == "durable":
            return DurableSaga(data_dir=a.data, budget=a.budget, **kw)
        return Gateway(**kw)
    cls = {"order": Orders, "inventory": Inventory, "payment": Payments}[a.role]
    kw = dict(name=a.name, variant=a.variant, db=Db(os.path.join(a.data, f"{a.role}.db"), cls.SCHEMA),
              crash=crash, bus=a.peers.get("bus"), timeout=a.timeout)
    if cls is Inventory:
        return Inventory(stock=int_pairs(a.stock, "stock"), ttl=a.reservation_ttl, **kw)
    if cls is Payments:
        return Payments(balances=int_pairs(a.balances, "balances"), **kw)
    return Orders(**kw)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    boot_delay()  # re-executed by a crash point: down (nothing listening) for crash_restart s
    node = build(a)
    server = serve(a.host, a.port, node.routes(), a.name)
    log(a.name, f"{a.role} ({a.variant}) listening on {a.host}:{a.port}; peers {a.peers}")
    server.serve_forever()


if __name__ == "__main__":
    main()
