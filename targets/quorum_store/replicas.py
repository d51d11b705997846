"""A coordinator's view of every replica: itself (direct calls) and its peers (HTTP).

The coordinator asks all replicas at once and waits for a number of answers
(a quorum), never longer than a deadline. Peer links pass through the
harness's fault-injecting proxy, which may hang a connection as under packet
loss, so:

* every peer request has a short socket timeout (``peer_timeout_s``, 0.3 s by default);
* requests run in parallel on a thread pool; :meth:`Replicas.fetch` and
  :meth:`Replicas.store` return as soon as ``need`` replicas answered, or all
  of them answered or failed, or the deadline passed, whichever is first.
  Requests still in flight keep running and end on their own timeout; their
  effects (a store that lands late) are real and are part of what is tested.

Idle peer connections are kept for reuse (HTTP/1.1 keep-alive). A request on a
reused connection that the peer had closed (it restarted) is retried once on a
fresh connection: a replica store is idempotent, so the retry is safe.

The replica protocol between nodes:

* ``GET /replica/<key>`` -> ``{"value": v, "version": [counter, node]}``
* ``PUT /replica/<key>`` body ``{"value": v, "version": [counter, node]}`` ->
  ``{"stored": bool}`` (an answer at all is the ack).

Standard library only: this module runs inside minimal containers.
"""

from __future__ import annotations

import concurrent.futures as cf
import http.client
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping

from targets.quorum_store.replica import Replica, Stored, Version

__all__ = ["Gathered", "PeerError", "Replicas"]

_RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class PeerError(RuntimeError):
    """A peer request that did not produce an answer (timeout, refused, bad reply)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Gathered:
    """Answers collected from replicas, in arrival order, and who failed and why.

    Replicas in neither map had not answered when the coordinator stopped waiting.
    """

    answers: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.answers)

    def why(self) -> str:
        """Who failed and why, for a log line or an error: ``n2: timed out; n3: refused``."""
        return "; ".join(f"{n}: {e}" for n, e in sorted(self.errors.items())) or "no answer before the deadline"


def key_path(key: str) -> str:
    return "/replica/" + urllib.parse.quote(key, safe="")


class _Pool:
    """Idle keep-alive connections to one peer."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def request(self, method: str, path: str, body: Any | None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        reused = conn is not None
        for attempt in (0, 1):
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except _RETRYABLE as e:
                conn.close()
                conn = None
                if reused and attempt == 0:
                    reused = False
                    continue
                raise PeerError(f"{type(e).__name__}: {e}") from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise PeerError(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from None
            if resp.status != 200:
                conn.close()
                raise PeerError(f"HTTP {resp.status}: {payload[:200]!r}")
            if resp.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
            try:
                return json.loads(payload)
            except ValueError:
                raise PeerError(f"reply is not JSON: {payload[:200]!r}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()


class Replicas:
    """Every replica of the cluster as seen from node ``me`` (see the module docstring)."""

    def __init__(self, *, me: str, local: Replica, peers: Mapping[str, tuple[str, int]],
                 peer_timeout_s: float = 0.3, deadline_s: float = 0.4, max_workers: int = 128) -> None:
        if me in peers:
            raise ValueError(f"node {me!r} is listed as its own peer")
        self.me = me
        self.local = local
        self.names: tuple[str, ...] = (me, *sorted(peers))
        self.deadline_s = deadline_s
        self._pools = {name: _Pool(h, p, peer_timeout_s) for name, (h, p) in peers.items()}
        self._exec = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{me}-peer")

    # -- one replica ------------------------------------------------------------

    def get_one(self, name: str, key: str) -> Stored:
        if name == self.me:
            return self.local.get(key)
        d = self._pools[name].request("GET", key_path(key), None)
        try:
            return Stored(value=d["value"], version=(int(d["version"][0]), str(d["version"][1])))
        except (KeyError, TypeError, IndexError, ValueError):
            raise PeerError(f"bad replica answer {d!r}") from None

    def put_one(self, name: str, key: str, value: Any, version: Version) -> bool:
        if name == self.me:
            return self.local.put(key, value, version)
        d = self._pools[name].request("PUT", key_path(key), {"value": value, "version": list(version)})
        return bool(d.get("stored")) if isinstance(d, dict) else False

    # -- all replicas -------------------------------------------------------------

    def fetch(self, key: str, *, need: int) -> Gathered:
        """Read ``key`` from every replica; answers are :class:`Stored`."""
        return self._gather({n: (self.get_one, (n, key)) for n in self.names}, need)

    def store(self, key: str, value: Any, version: Version, *, need: int,
              only: Collection[str] | None = None) -> Gathered:
        """Store on every replica (or on ``only``); answers are the ``stored`` flags."""
        names = self.names if only is None else tuple(n for n in self.names if n in only)
        return self._gather({n: (self.put_one, (n, key, value, version)) for n in names}, need)

    def store_async(self, key: str, value: Any, version: Version, names: Collection[str],
                    done: Callable[[str, str | None], None]) -> None:
        """Fire-and-forget stores (read repair); ``done(name, error_or_None)`` is called after each."""
        for n in names:
            fut = self._exec.submit(self.put_one, n, key, value, version)
            fut.add_done_callback(lambda f, n=n: done(n, _error_of(f)))

    def _gather(self, calls: Mapping[str, tuple[Callable[..., Any], tuple[Any, ...]]], need: int) -> Gathered:
        futures = {self._exec.submit(fn, *args): name for name, (fn, args) in calls.items()}
        answers: dict[str, Any] = {}
        errors: dict[str, str] = {}
        pending = set(futures)
        end = time.monotonic() + self.deadline_s
        while pending and len(answers) < need:
            left = end - time.monotonic()
            if left <= 0:
                break
            done, pending = cf.wait(pending, timeout=left, return_when=cf.FIRST_COMPLETED)
            for f in done:
                err = _error_of(f)
                if err is None:
                    answers[futures[f]] = f.result()
                else:
                    errors[futures[f]] = err
        return Gathered(answers=answers, errors=errors)

    def close(self) -> None:
        self._exec.shutdown(wait=False, cancel_futures=True)
        for p in self._pools.values():
            p.close()


def _error_of(f: "cf.Future[Any]") -> str | None:
    e = f.exception()
    if e is None:
        return None
    return str(e) if isinstance(e, PeerError) else f"{type(e).__name__}: {e}"
