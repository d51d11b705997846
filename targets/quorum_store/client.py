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

Typed keys (:mod:`targets.quorum_store.datatypes`: ``set:N``, ``counter:N``,
``list:N``) hold a whole set, counter or list in one value:

* ``read [k, None]`` -> ok ``[k, value, {"version": V}]`` (``[]`` or ``0`` for a
  key never written; the version read, for explainers);
* ``add [k, x]`` (set, counter) and ``txn [["append", k, x]]``: on ``seed`` and
  ``abd`` a read-modify-write (read through the quorum, change, write back;
  a read that does not return fails the op, since nothing was written), whose
  ok completion is ``[k, x, {"read": V, "version": W, "node": N}]``; on
  ``vclock`` one ``POST /kv/<k>`` with ``{"op": "add"|"append", "arg": x}``
  that the coordinator merges server-side;
* ``txn [["r", k, None]]`` -> ok ``[["r", k, [...]]]``.

One keep-alive connection per client, timeout ~1.5 s (``--option
client_timeout=S``, read from the workload context the client is opened with);
it is dropped and made afresh after any error, so a restarted node is picked up
by the next op.
"""

from __future__ import annotations

import http.client
import json
from typing import Any, Callable

from harness.client import Completion
from harness.cluster import Address
from harness.history import Op
from harness.target import WorkloadContext
from targets.quorum_store.datatypes import kind_of

__all__ = ["QuorumStoreClient"]

DEFAULT_TIMEOUT_S = 1.5


class QuorumStoreClient:
    """A :class:`harness.client.Client` for the quorum store (see the module docstring)."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S, node: str | None = None,
                 address: Address | None = None, variant: str = "seed") -> None:
        self.timeout_s = timeout_s
        self.node = node
        self.address = address
        self.variant = variant
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
        return QuorumStoreClient(timeout_s=timeout_s, node=node, address=address,
                                 variant=context.variant if context is not None else self.variant)

    def setup(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def invoke(self, op: Op) -> Completion:
        if op.f == "txn":
            return self._txn(op.value)
        if op.f not in ("read", "write", "add"):
            raise ValueError(f'quorum store ops are "read", "write", "add" and "txn" (not {op.f!r})')
        key, value = _tuple(op.value)
        kind = kind_of(key)
        if kind == "register":
            if op.f == "add":
                raise ValueError(f"add needs a set: or counter: key (not {key!r})")
            return self._read(key) if op.f == "read" else self._write(key, value)
        if op.f == "read":
            return self._typed_read(key, kind)
        if op.f == "add" and kind in ("set", "counter"):
            return self._modify(key, kind, value)
        raise ValueError(f"{op.f} is not an op on the {kind} key {key!r}")

    # -- typed keys: sets, counters, lists -------------------------------------------

    def _typed_read(self, key: Any, kind: str) -> Completion:
        c, value, version = self._get_typed(key, kind)
        if c is not None:
            return c
        return Completion(type="ok", value=[key, value, {"version": version}])

    def _get_typed(self, key: Any, kind: str) -> tuple[Completion | None, Any, Any]:
        """(a fail completion or None, the current value, its version)."""
        try:
            d = self._request("GET", key, None)
        except ConnectionRefusedError as e:
            return Completion(type="fail", error=f"connection refused: {e}"), None, None
        except (OSError, http.client.HTTPException, ValueError) as e:
            return Completion(type="fail", error=f"read did not return ({_describe(e)})"), None, None
        if d.get("status") != "ok":
            return Completion(type="fail", error=f"{d.get('status')}: {d.get('error')}"), None, None
        return None, _resolve(kind, d), d.get("version")

    def _modify(self, key: Any, kind: str, arg: Any) -> Completion:
        """Apply an add (set, counter) or append (list): server-side on vclock, else read-modify-write."""
        if self.variant == "vclock":
            if kind == "counter":
                raise ValueError("vclock keeps concurrent counters as siblings and cannot add them; "
                                 "use a set: key")
            return self._send(key, {"op": "add" if kind == "set" else "append", "arg": arg}, "POST",
                              lambda d: [key, arg, {"version": d.get("version"), "node": self.node}])
        c, current, read_version = self._get_typed(key, kind)
        if c is not None:
            return c
        if kind == "counter":
            new = current + arg
        elif kind == "set":
            new = current if arg in current else [*current, arg]
        else:
            new = [*current, arg]
        return self._send(key, {"value": new}, "PUT",
                          lambda d: [key, arg, {"read": read_version, "version": d.get("version"),
                                                "node": self.node}])

    def _send(self, key: Any, body: dict[str, Any], method: str,
              meta: Callable[[dict[str, Any]], Any]) -> Completion:
        """One write; every completion the server answered carries ``meta(reply)`` (a failed seed write's
        version too: it stays where it landed, and a later read may return it)."""
        try:
            d = self._request(method, key, body)
        except ConnectionRefusedError as e:
            return Completion(type="fail", error=f"connection refused: {e}")
        except (OSError, http.client.HTTPException, ValueError) as e:
            return Completion(type="info", error=_describe(e))
        status = d.get("status")
        if status == "ok":
            return Completion(type="ok", value=meta(d))
        if status == "fail":
            return Completion(type="fail", value=meta(d), error=d.get("error"))
        return Completion(type="info", value=meta(d), error=f"{status}: {d.get('error')}")

    def _txn(self, mops: Any) -> Completion:
        if not (isinstance(mops, list) and len(mops) == 1 and isinstance(mops[0], list) and len(mops[0]) == 3):
            raise ValueError(f"quorum store transactions hold one micro-op [f, key, value] (not {mops!r})")
        f, key, arg = mops[0]
        if kind_of(key) != "list":
            raise ValueError(f"list-append micro-ops need a list: key (not {key!r})")
        if f == "r":
            c, value, _ = self._get_typed(key, "list")
            return c if c is not None else Completion(type="ok", value=[["r", key, value]])
        if f == "append":
            c = self._modify(key, "list", arg)
            return Completion(type=c.type, value=mops if c.type == "ok" else None, error=c.error)
        raise ValueError(f'list-append micro-ops are "r" and "append" (not {f!r})')

    # -- registers ------------------------------------------------------------------

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


def _resolve(kind: str, d: dict[str, Any]) -> Any:
    """The value of a typed read: siblings (vclock) merged as the guide's shopping cart, None as empty."""
    siblings = d.get("siblings")
    values = siblings if isinstance(siblings, list) and siblings else [d.get("value")]
    if kind == "counter":
        nums = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        return max(nums, default=0)
    merged: list[Any] = []
    seen: set[Any] = set()
    for v in values:
        for x in v if isinstance(v, list) else ():
            if x not in seen:
                seen.add(x)
                merged.append(x)
    return merged


def _tuple(value: Any) -> tuple[Any, Any]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise ValueError(f"quorum store ops take [key, value] (not {value!r})")
    return value[0], value[1]


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timeout"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
