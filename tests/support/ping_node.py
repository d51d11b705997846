"""One node of the ping test target: a tiny HTTP service (run as a script).

Endpoints (all GET, all answer JSON):

* ``/health``           ``{"status": "ok", "node": name, "pid": pid}``
* ``/peer/<name>``      calls that peer's ``/health`` through the address this
                        node was given for it (on the local backend: the link
                        proxy) with a short timeout (``?timeout=S``, default
                        0.5): ``{"peer": name, "ok": bool, "error": str|null}``
* ``/put?k=K&v=V``      stores K -> V in SQLite in the data dir, durably
                        (``synchronous=FULL``) before answering
* ``/get?k=K``          ``{"k": K, "v": V or null}``

It exists to test backends (partitions, kill/restart durability, pause), not
to be a database: one SQLite connection per request keeps it simple and safe
across server threads.

Usage: ``python ping_node.py --name n1 --port P --data-dir D --peers '{"n2": "127.0.0.1:Q"}'``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--peers", default="{}", help="JSON object: peer name -> host:port")
    args = ap.parse_args()
    peers: dict[str, str] = json.loads(args.peers)
    db_path = os.path.join(args.data_dir, "kv.sqlite")
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *a: object) -> None:
            pass  # one line per request would drown the node log

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/health":
                self._send(200, {"status": "ok", "node": args.name, "pid": os.getpid()})
            elif url.path.startswith("/peer/"):
                self._send(200, call_peer(url.path[len("/peer/"):], float(q.get("timeout", 0.5))))
            elif url.path == "/put" and "k" in q and "v" in q:
                with _db(db_path) as db:
                    db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (q["k"], q["v"]))
                self._send(200, {"k": q["k"], "v": q["v"]})
            elif url.path == "/get" and "k" in q:
                with _db(db_path) as db:
                    row = db.execute("SELECT v FROM kv WHERE k = ?", (q["k"],)).fetchone()
                self._send(200, {"k": q["k"], "v": row[0] if row else None})
            else:
                self._send(404, {"error": f"no such endpoint: {url.path}"})

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def call_peer(peer: str, timeout: float) -> dict[str, object]:
        if peer not in peers:
            return {"peer": peer, "ok": False, "error": f"unknown peer {peer!r}"}
        host, port = peers[peer].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            body = json.loads(resp.read())
            return {"peer": peer, "ok": resp.status == 200 and body.get("node") == peer, "error": None}
        except (OSError, ValueError, http.client.HTTPException) as e:
            return {"peer": peer, "ok": False, "error": f"{type(e).__name__}: {e}"}
        finally:
            conn.close()

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"{args.name} listening on {args.host}:{args.port}, peers {peers}", flush=True)
    server.serve_forever()


def _db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=5.0)
    db.execute("PRAGMA synchronous=FULL")
    return db


if __name__ == "__main__":
    main()
