"""The HTTP plumbing a node of a built-in target shares: a JSON-over-HTTP server and a bounded JSON call.

* :func:`serve` runs a ``ThreadingHTTPServer`` whose handler maps
  ``(method, path)`` to a function of the decoded JSON body; a handler returns
  ``(status, body)`` and may raise :class:`HttpError` for a definite refusal.
* :func:`call` sends one JSON request with a timeout. It raises
  :class:`Refused` when the service said no (a 4xx/5xx answer: nothing more
  will happen) and :class:`Unreachable` when the outcome is unknown (refused
  connection, timeout, reset): the caller must not assume either way.
* :func:`int_pairs` and :func:`peer_addresses` parse the ``NAME=INT`` lists
  and ``--peer ROLE=HOST:PORT`` flags the nodes' command lines carry.

Node side: only the standard library, so a node runs in a container with bare
python3 (the images copy ``harness/`` to ``/opt/splitbrain``). Crash points
are :mod:`harness.node.crashpoints`.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping

__all__ = ["HttpError", "Refused", "Unreachable", "call", "int_pairs", "log", "peer_addresses", "ready_as", "serve"]

Handler = Callable[[Any], tuple[int, Any]]


class HttpError(Exception):
    """Raised by a handler: answer ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Refused(Exception):
    """The service answered with an error status: a definite "not done"."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class Unreachable(Exception):
    """No answer (connection refused, timeout, reset): the request may or may not have taken effect."""


def int_pairs(text: str, what: str) -> dict[str, int]:
    """``"p1=30,p2=20"`` -> ``{"p1": 30, "p2": 20}``; a bad part exits naming the ``--what`` flag."""
    out: dict[str, int] = {}
    for part in (x for x in text.split(",") if x):
        k, sep, v = part.partition("=")
        if not sep or not v.strip().lstrip("-").isdigit():
            raise SystemExit(f"--{what}: {part!r} is not NAME=INT")
        out[k.strip()] = int(v)
    return out


def peer_addresses(specs: list[str]) -> dict[str, tuple[str, int]]:
    """``["ROLE=HOST:PORT", ...]`` (the nodes' ``--peer`` flags) -> ``{ROLE: (HOST, PORT)}``."""
    peers: dict[str, tuple[str, int]] = {}
    for spec in specs:
        role, _, hp = spec.partition("=")
        host, _, port = hp.rpartition(":")
        peers[role] = (host, int(port))
    return peers


def log(name: str, msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {name}: {msg}", file=sys.stderr, flush=True)


def call(address: tuple[str, int], method: str, path: str, body: Any = None, *, timeout: float) -> Any:
    """One JSON request; the decoded answer on 2xx, else :class:`Refused` / :class:`Unreachable`."""
    conn = http.client.HTTPConnection(address[0], address[1], timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise Unreachable(f"{type(e).__name__}: {e}") from None
    finally:
        conn.close()
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        raise Unreachable(f"torn reply from {address[0]}:{address[1]}{path}") from None
    if resp.status >= 300:
        raise Refused(resp.status, (doc or {}).get("error", "") if isinstance(doc, dict) else str(doc))
    return doc


def serve(host: str, port: int, routes: Mapping[tuple[str, str], Handler], name: str) -> ThreadingHTTPServer:
    """A threading HTTP server answering ``routes``; the caller runs ``serve_forever``."""

    class _H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the node log is for events
            pass

        def _do(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            fn = routes.get((method, path))
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            if fn is None:
                status, out = 404, {"error": f"no route {method} {path}"}
            else:
                try:
                    status, out = fn(json.loads(raw) if raw else None)
                except HttpError as e:
                    status, out = e.status, {"error": str(e)}
                except Unreachable as e:
                    status, out = 504, {"error": f"a peer did not answer: {e}"}
                except Refused as e:
                    status, out = 502, {"error": f"a peer refused: {e}"}
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._do("GET")

        def do_POST(self) -> None:
            self._do("POST")

    class _Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request: Any, client_address: Any) -> None:  # a client gone mid-answer
            log(name, f"answer to {client_address} not delivered: {sys.exc_info()[1]!r}")

    return _Server((host, port), _H)


def ready_as(role: str | None) -> Callable[[Any], bool]:
    """The readiness probe of a node of ``role``: one ``GET /health`` that must answer ok *as that role*.

    Checking the role, not just the status, keeps a probe aimed at the wrong
    port (another role's node) from passing; ``None`` for a system of one role
    whose nodes do not name it (any ``{"status": "ok"}`` passes). ``address``
    is any object with ``host`` and ``port`` (the harness's ``Address``).
    """
    def ready(address: Any) -> bool:
        conn = http.client.HTTPConnection(address.host, address.port, timeout=0.5)
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            d = json.loads(resp.read())
            return resp.status == 200 and d.get("status") == "ok" and (role is None or d.get("role") == role)
        except (OSError, http.client.HTTPException, ValueError):
            return False
        finally:
            conn.close()
    return ready
