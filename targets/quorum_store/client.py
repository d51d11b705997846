"""The quorum store's Jepsen client: independent registers over HTTP.

Operations are Jepsen's independent tuples ``[key, value]``; keys are small
ints (``0``, ``1``, ...) sent as the URL path ``/kv/<key>``, values are ints:

* ``read``:  invoke ``[k, None]`` -> ok ``[k, v]`` (``v`` is ``None`` for a key
  never written);
* ``write``: invoke ``[k, v]``    -> ok ``[k, v]``.

How an answer becomes a completion:

=====================================  ========  ========
what happened                          write     read
=====================================  ========  ========
server ``ok``                          ok        ok
server ``fail`` (certainly not done)   fail      fail
server ``unknown``                     info      fail
connection refused (nothing sent)      fail      fail
timeout, reset, torn or bad reply      info      fail
=====================================  ========  ========

A read that does not return has no effect on the register's logical state, so
recording it as ``fail`` (as Jepsen's clients do) can neither hide nor invent
an anomaly, and it keeps the checker from carrying an open read for the rest
of the history. A write that may have reached a replica is ``info``: it may
take effect at any later time, or never.

One keep-alive connection per client, timeout ~1.5 s (``--option
client_timeout=S``, read from the workload context the client is opened with);
it is dropped and made afresh after any error, so a restarted node is picked up
by the next op.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

from harness.client import Completion
from harness.cluster import Address
from harness.history import Op
from harness.target import WorkloadContext

__all__ = ["QuorumStoreClient"]

DEFAULT_TIMEOUT_S = 1.5


class QuorumStoreClient:
    """A :class:`harness.client.Client` for the quorum store (see the module docstring)."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S, node: str | None = None,
                 address: Address | None = None) -> None:
        self.timeout_s = timeout_s
        self.node = node
        self.address = address
        self._conn: http.client.HTTPConnection | None = None

    def open(self, node: str, address: Address,
             context: WorkloadContext | None = None) -> "QuorumStoreClient":
        """A client bound to ``node``; ``context.options["client_timeout"]`` overrides the timeout."""
        timeout_s = self.timeout_s
        if context is not None and "client_timeout" in context.options:
            raw = context.options["client_timeout"]
            try:
                timeout_s = float(raw)
            except ValueError:
                raise ValueError(f"--option client_timeout={raw}: expected seconds, e.g. 1.5") from None
            if timeout_s <= 0:
                raise ValueError(f"--option client_timeout={raw}: must be > 0 seconds")
        return QuorumStoreClient(timeout_s=timeout_s, node=node, address=address)

    def setup(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def invoke(self, op: Op) -> Completion:
        if op.f not in ("read", "write"):
            raise ValueError(f'quorum store ops are "read" and "write" (not {op.f!r})')
        key, value = _tuple(op.value)
        if op.f == "read":
            return self._read(key)
        return self._write(key, value)

    def _read(self, key: Any) -> Completion:
        try:
            d = self._request("GET", key, None)
        except ConnectionRefusedError as e:
            return Completion(type="fail", error=f"connection refused: {e}")
        except (OSError, http.client.HTTPException, ValueError) as e:
            return Completion(type="fail", error=f"read did not return ({_describe(e)})")
        if d.get("status") == "ok":
            return Completion(type="ok", value=[key, d.get("value")])
        return Completion(type="fail", error=f"{d.get('status')}: {d.get('error')}")

    def _write(self, key: Any, value: Any) -> Completion:
        try:
            d = self._request("PUT", key, {"value": value})
        except ConnectionRefusedError as e:
            return Completion(type="fail", error=f"connection refused: {e}")
        except (OSError, http.client.HTTPException, ValueError) as e:
            return Completion(type="info", error=_describe(e))
        status = d.get("status")
        if status == "ok":
            return Completion(type="ok", value=[key, value])
        if status == "fail":
            return Completion(type="fail", error=d.get("error"))
        return Completion(type="info", error=f"{status}: {d.get('error')}")

    def _request(self, method: str, key: Any, body: Any) -> dict[str, Any]:
        if self.address is None:
            raise RuntimeError("QuorumStoreClient.invoke before open(node, address)")
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.address.host, self.address.port,
                                                    timeout=self.timeout_s)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self._conn.request(method, f"/kv/{key}", body=data, headers=headers)
            resp = self._conn.getresponse()
            payload = resp.read()
            if resp.will_close:
                self.close()
        except BaseException:
            self.close()
            raise
        d = json.loads(payload)
        if not isinstance(d, dict):
            raise ValueError(f"reply is not a JSON object: {payload[:100]!r}")
        return d


def _tuple(value: Any) -> tuple[Any, Any]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise ValueError(f"quorum store ops take [key, value] (not {value!r})")
    return value[0], value[1]


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timeout"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
