"""One node of the roles test target: a tiny HTTP service of a given role (run as a script).

Endpoints (all GET, all answer JSON):

* ``/health``        ``{"status": "ok", "node": name, "role": role, "pid": pid}``
* ``/hears``         which peers this node hears from right now: it asks every
                     peer's ``/health`` through the address it was given for
                     it (on the local backend: the link's fault proxy), in
                     parallel, ``?timeout=S`` each (default 0.5):
                     ``{"node": name, "hears": [peer, ...]}``. This is the
                     target's own view of the network, not the harness's.
* ``/put?k=K&v=V``   stores K -> V in memory; on a node started with
                     ``--fan-out`` (the coordinator) it also stores it on every
                     peer and answers ``{"ok": true}`` only if all of them did.
* ``/get?k=K``       ``{"k": K, "v": V or null}``

Usage: ``python roles_node.py --name N --role R --port P --peers '{"p": "host:port"}' [--fan-out]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _get(hostport: str, path: str, timeout: float) -> Any:
    host, port = hostport.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--role", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peers", default="{}", help="JSON object: peer name -> host:port")
    ap.add_argument("--fan-out", action="store_true", help="store every put on every peer too")
    args = ap.parse_args()
    peers: dict[str, str] = json.loads(args.peers)
    data: dict[str, str] = {}
    lock = threading.Lock()
    pool = ThreadPoolExecutor(max_workers=max(1, len(peers)))

    def hears(timeout: float) -> list[str]:
        def one(item: tuple[str, str]) -> str | None:
            name, addr = item
            try:
                return name if _get(addr, "/health", timeout).get("node") == name else None
            except (OSError, ValueError, http.client.HTTPException):
                return None
        return sorted(n for n in pool.map(one, peers.items()) if n)

    def put(k: str, v: str, fan_out: bool) -> bool:
        with lock:
            data[k] = v
        if not fan_out:
            return True

        def one(addr: str) -> bool:
            try:
                return bool(_get(addr, f"/put?k={k}&v={v}", 1.0).get("ok"))
            except (OSError, ValueError, http.client.HTTPException):
                return False
        return all(pool.map(one, peers.values()))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/health":
                self._send(200, {"status": "ok", "node": args.name, "role": args.role, "pid": os.getpid()})
            elif url.path == "/hears":
                self._send(200, {"node": args.name, "hears": hears(float(q.get("timeout", 0.5)))})
            elif url.path == "/put" and "k" in q and "v" in q:
                self._send(200, {"ok": put(q["k"], q["v"], args.fan_out)})
            elif url.path == "/get" and "k" in q:
                with lock:
                    self._send(200, {"k": q["k"], "v": data.get(q["k"])})
            else:
                self._send(404, {"error": f"no such endpoint: {url.path}"})

        def _send(self, status: int, body: object) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"{args.name} ({args.role}) listening on {args.host}:{args.port}, peers {peers}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
