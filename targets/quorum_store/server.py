"""One quorum store node: an HTTP service that is a replica and a coordinator.

Run::

    python -m targets.quorum_store.server --node n1 --host 127.0.0.1 --port 7001 \\
        --data /tmp/n1 --variant seed|abd|vclock --peer n2=127.0.0.1:7002 --peer n3=... \\
        [--w W] [--r R] [--peer-timeout S]

N is 1 + the number of peers; W and R default to a majority (N // 2 + 1).

Client API (JSON, HTTP/1.1 keep-alive):

* ``GET /health`` -> ``{"status": "ok", "node": ..., "variant": ...}``
* ``GET /time`` -> ``{"status": "ok", "node": ..., "time": <time.time()>}``: the node's
  wall clock, the one its versions are stamped with (the clock nemesis reads it)
* ``GET /kv/<key>`` coordinated read; ``PUT /kv/<key>`` body ``{"value": v}``
  coordinated write. Both answer 200 with ``{"status": "ok", "value", "version"}``,
  ``{"status": "fail", "error"}`` (certainly not applied) or
  ``{"status": "unknown", "error"}`` (may or may not be applied); 400 with
  ``{"status": "fail", "error"}`` for a malformed request.
* ``vclock`` only: ``POST /kv/<key>`` body ``{"op": "add"|"append"|"put", "arg": x}``,
  an update the coordinator merges (see :mod:`targets.quorum_store.vclock_node`).

Peers use ``/replica/<key>`` (see :mod:`targets.quorum_store.replicas`). Every
request and every coordinator decision is one line on stdout, the node log.

Standard library only: this runs in a minimal container with just python3.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from targets.quorum_store.coordinator import Coordinator, make_coordinator
from targets.quorum_store.replica import Replica
from targets.quorum_store.replicas import Replicas
from targets.quorum_store.vclock_node import (
    VclockCoordinator, VclockReplica, VclockReplicas, parse_update, replica_op as vclock_replica_op,
)

__all__ = ["NodeLog", "NodeServer", "main", "parse_args"]


class NodeLog:
    """One line per event: ``<UTC time> <node> <event> k=v ...`` (values as JSON)."""

    def __init__(self, node: str, out: TextIO) -> None:
        self.node, self.out = node, out
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        t = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
        parts = " ".join(f"{k}={json.dumps(v, separators=(',', ':'), default=str)}"
                         for k, v in fields.items() if v is not None)
        line = f"{stamp} {self.node} {event} {parts}".rstrip() + "\n"
        with self._lock:
            self.out.write(line)
            self.out.flush()


class NodeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], *, node: str, variant: str, replica: Replica,
                 replicas: Replicas, coordinator: Coordinator, log: NodeLog) -> None:
        self.node, self.variant = node, variant
        self.replica, self.replicas, self.coordinator, self.log = replica, replicas, coordinator, log
        super().__init__(addr, _Handler)


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, the body waits for the
    # client's delayed ACK of the headers (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: NodeServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the node log has one line per request already

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            body = self._body()
            path = self.path.split("?", 1)[0]
            if method == "GET" and path == "/health":
                self._reply(200, {"status": "ok", "node": self.server.node, "variant": self.server.variant})
            elif method == "GET" and path == "/time":
                self._reply(200, {"status": "ok", "node": self.server.node, "time": time.time()})
            elif path.startswith("/kv/"):
                self._client_op(method, _key(path, "/kv/"), body)
            elif path.startswith("/replica/"):
                self._replica_op(method, _key(path, "/replica/"), body)
            else:
                self._reply(404, {"status": "fail", "error": f"no such endpoint: {method} {path}"})
        except _BadRequest as e:
            self.server.log("bad-request", method=method, path=self.path, error=str(e))
            self._reply(400, {"status": "fail", "error": str(e)})

    def _client_op(self, method: str, key: str, body: Any) -> None:
        s = self.server
        if method == "GET":
            outcome = s.coordinator.read(key)
        elif method == "POST":
            if not isinstance(s.coordinator, VclockCoordinator):
                raise _BadRequest(f"POST /kv/<key> (a merged update) is for the vclock variant, not {s.variant}")
            try:
                op, arg = parse_update(body)
            except ValueError as e:
                raise _BadRequest(str(e)) from None
            outcome = s.coordinator.update(key, op, arg)
        else:
            if not isinstance(body, dict) or "value" not in body:
                raise _BadRequest('a write needs a JSON body {"value": ...}')
            outcome = s.coordinator.write(key, body["value"])
        self._reply(200, outcome.to_json())

    def _replica_op(self, method: str, key: str, body: Any) -> None:
        s = self.server
        if isinstance(s.replica, VclockReplica):
            try:
                self._reply(200, vclock_replica_op(s.replica, method, key, body, s.log))
            except ValueError as e:
                raise _BadRequest(str(e)) from None
            return
        if method == "GET":
            stored = s.replica.get(key)
            s.log("replica-get", key=key, version=stored.version)
            self._reply(200, stored.to_json())
            return
        try:
            value, (counter, writer) = body["value"], body["version"]
            version = (int(counter), str(writer))
        except (KeyError, TypeError, ValueError):
            raise _BadRequest('a replica store needs {"value": v, "version": [counter, node]}') from None
        stored_ = s.replica.put(key, value, version)
        s.log("replica-put", key=key, value=value, version=version, stored=stored_)
        self._reply(200, {"stored": stored_})

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        if n == 0:
            return None
        raw = self.rfile.read(n)
        try:
            return json.loads(raw)
        except ValueError:
            raise _BadRequest(f"request body is not JSON: {raw[:100]!r}") from None

    def _reply(self, code: int, obj: Any) -> None:
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _key(path: str, prefix: str) -> str:
    key = urllib.parse.unquote(path[len(prefix):])
    if not key:
        raise _BadRequest(f"missing key after {prefix}")
    return key


def _peer(spec: str) -> tuple[str, tuple[str, int]]:
    try:
        name, addr = spec.split("=", 1)
        host, port = addr.rsplit(":", 1)
        if not name or not host:
            raise ValueError
        return name, (host, int(port))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--peer expects NAME=HOST:PORT (not {spec!r})") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m targets.quorum_store.server",
                                description="One node of the quorum store (a replica and a coordinator).")
    p.add_argument("--node", required=True, help="this node's name, e.g. n1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data", required=True, help="directory for the SQLite replica (kept across restarts)")
    p.add_argument("--variant", choices=("seed", "abd", "vclock"), required=True)
    p.add_argument("--peer", type=_peer, action="append", default=[], metavar="NAME=HOST:PORT")
    p.add_argument("--w", type=int, default=None, help="write quorum (default N//2+1)")
    p.add_argument("--r", type=int, default=None, help="read quorum (default N//2+1)")
    p.add_argument("--weak-quorum", action="store_true",
                   help="let abd run with W + R <= N (quorums that need not intersect), to measure what "
                        "the W + R > N rule buys")
    p.add_argument("--peer-timeout", type=float, default=0.3,
                   help="seconds per peer request (default 0.3); a phase waits at most this + 0.1 s")
    args = p.parse_args(argv)
    peers = dict(args.peer)
    if len(peers) != len(args.peer):
        p.error("a peer name is given twice")
    if args.node in peers:
        p.error(f"--peer names this node itself ({args.node})")
    n = 1 + len(peers)
    args.peers = peers
    args.w = n // 2 + 1 if args.w is None else args.w
    args.r = n // 2 + 1 if args.r is None else args.r
    for name in ("w", "r"):
        if not 1 <= getattr(args, name) <= n:
            p.error(f"--{name} must be between 1 and N={n} (got {getattr(args, name)})")
    if args.variant == "abd" and args.w + args.r <= n and not args.weak_quorum:
        p.error(f"abd needs W + R > N to be linearizable (W={args.w}, R={args.r}, N={n}); "
                f"raise --w or --r, or pass --weak-quorum to run it anyway")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = NodeLog(args.node, sys.stdout)
    replica: Any
    if args.variant == "vclock":
        replica = VclockReplica(args.data, node=args.node)
        replicas = VclockReplicas(me=args.node, local=replica, peers=args.peers,  # type: ignore[arg-type]
                                  peer_timeout_s=args.peer_timeout, deadline_s=args.peer_timeout + 0.1)
        incarnation = 1
        coordinator: Any = VclockCoordinator(node=args.node, replicas=replicas, w=args.w, r=args.r, log=log)
    else:
        replica = Replica(args.data, mode="overwrite" if args.variant == "seed" else "max")
        replicas = Replicas(me=args.node, local=replica, peers=args.peers,
                            peer_timeout_s=args.peer_timeout, deadline_s=args.peer_timeout + 0.1)
        incarnation = replica.next_incarnation()
        coordinator = make_coordinator(args.variant, node=args.node, replicas=replicas,
                                       w=args.w, r=args.r, log=log, incarnation=incarnation)
    server = NodeServer((args.host, args.port), node=args.node, variant=args.variant, replica=replica,
                        replicas=replicas, coordinator=coordinator, log=log)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    log("start", variant=args.variant, incarnation=incarnation, listen=f"{args.host}:{server.server_address[1]}",
        n=1 + len(args.peers), w=args.w, r=args.r, peers={k: f"{h}:{p}" for k, (h, p) in args.peers.items()},
        data=args.data)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        log("stop")
        server.server_close()
        replicas.close()
        replica.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
