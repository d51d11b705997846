"""A tiny gossip node: members find each other by the addresses they advertise, as real systems do.

    python gossip_node.py --name n1 --host H --client-port C --peer-port P --seed HOST:PORT

Every 0.1 s the node opens a TCP connection to each member it knows on that
member's *advertised* peer address and sends one JSON line ``{"from": name,
"addr": "H:P", "members": {name: addr}}``. It learns members, and their
addresses, from what it receives: only ``--seed`` (the first peer the harness
named) comes from the harness, the rest is what the nodes told each other. So
on the local backend, once the members know each other, their traffic no longer
goes through the fault proxies; in network namespaces it goes over the bridge,
where the cuts are.

The client port answers one line, ``{"name": ..., "heard": {peer: seconds since
its last heartbeat arrived}}``, and closes: the node's own view of whom it hears.
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import threading
import time

INTERVAL_S = 0.1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--client-port", type=int, required=True)
    ap.add_argument("--peer-port", type=int, required=True)
    ap.add_argument("--seed", default="")
    args = ap.parse_args()
    me = f"{args.host}:{args.peer_port}"
    lock = threading.Lock()
    members: dict[str, str] = {args.name: me}
    seeds = [args.seed] if args.seed else []
    heard: dict[str, float] = {}

    class Peer(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            try:
                msg = json.loads(self.rfile.readline())
            except ValueError:
                return
            with lock:
                heard[msg["from"]] = time.monotonic()
                members[msg["from"]] = msg["addr"]
                for name, addr in msg.get("members", {}).items():
                    members.setdefault(name, addr)

    class Client(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            now = time.monotonic()
            with lock:
                view = {p: round(now - t, 3) for p, t in heard.items()}
            self.wfile.write((json.dumps({"name": args.name, "heard": view}) + "\n").encode())

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    peer_srv = socketserver.ThreadingTCPServer((args.host, args.peer_port), Peer)
    client_srv = socketserver.ThreadingTCPServer((args.host, args.client_port), Client)
    for srv in (peer_srv, client_srv):
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def send(addr: str, line: bytes) -> None:
        host, _, port = addr.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=0.3) as s:
                s.sendall(line)
        except OSError:
            pass

    print(f"gossip {args.name} at {me}, seed {args.seed or '-'}", flush=True)
    while True:
        with lock:
            known = dict(members)
            targets = [a for n, a in known.items() if n != args.name]
            if len(known) == 1:  # no one yet: say hello to the seed
                targets = list(seeds)
        line = (json.dumps({"from": args.name, "addr": me, "members": known}) + "\n").encode()
        threads = [threading.Thread(target=send, args=(a, line), daemon=True) for a in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(1.0)
        time.sleep(INTERVAL_S)


if __name__ == "__main__":
    main()
