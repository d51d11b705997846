"""The client: Jepsen's independent registers ``[key, value]`` as Redis string keys.

Each client talks to the one node it was opened on (a primary or a replica,
never a Sentinel) and only that node's own answer counts, as in Jepsen's Redis
tests: a client does not follow a failover, so a primary cut off from its
Sentinels keeps taking the writes of its clients, which is exactly the
situation where Redis loses acknowledged writes.

=========================================  ========  ========
what happened                              write     read
=========================================  ========  ========
``SET`` answered ``+OK``                   ok        n/a
the node is a replica (``-READONLY``, or   fail      fail
``ROLE`` says ``slave``)
another error reply (``-NOREPLICAS``...)   fail      fail
connection refused (nothing sent)          fail      fail
timeout, reset, torn reply                 info      fail
=========================================  ========  ========

A read is ``MULTI / ROLE / GET k / EXEC``: the role and the value come from the
same instant, so a read of a replica (which may lag) is never recorded as ok.
A read changes nothing, so one that did not return is ``fail``.

``--option client_timeout=S`` (default 1.0) bounds every request; it is read
from the workload context the client is opened with.
"""

from __future__ import annotations

from typing import Any

from harness import Address, Completion, Op, WorkloadContext
from splitbrain_redis_sentinel.resp import Connection, ProtocolError, RedisError

__all__ = ["RedisClient"]

DEFAULT_TIMEOUT_S = 1.0
PREFIX = "sb:"  # every key this client touches: nothing else in a shared Redis is read or written


class RedisClient:
    def __init__(self, *, address: Address | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._conn: Connection | None = None

    def open(self, node: str, address: Address, context: WorkloadContext) -> "RedisClient":
        raw = context.options.get("client_timeout", str(DEFAULT_TIMEOUT_S))
        try:
            timeout = float(raw)
        except ValueError:
            raise ValueError(f"--option client_timeout={raw}: expected seconds, e.g. 1.0") from None
        return RedisClient(address=address, timeout_s=timeout)

    def setup(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def invoke(self, op: Op) -> Completion:
        key, value = op.value
        if op.f == "write":
            return self._write(key, value)
        if op.f == "read":
            return self._read(key)
        raise ValueError(f'redis-sentinel ops are "read" and "write" (not {op.f!r})')

    def _write(self, key: Any, value: Any) -> Completion:
        try:
            reply = self._call([["SET", f"{PREFIX}{key}", value]])[0]
        except ConnectionRefusedError as e:
            return Completion(type="fail", error=f"connection refused: {e}")
        except (OSError, ValueError) as e:  # sent, then no answer: it may have been applied
            return Completion(type="info", error=_describe(e))
        if isinstance(reply, RedisError):
            return Completion(type="fail", error=reply.message)
        if reply == "OK":
            return Completion(type="ok", value=[key, value])
        return Completion(type="info", error=f"unexpected reply {reply!r}")

    def _read(self, key: Any) -> Completion:
        try:
            replies = self._call([["MULTI"], ["ROLE"], ["GET", f"{PREFIX}{key}"], ["EXEC"]])
        except (OSError, ValueError) as e:
            return Completion(type="fail", error=f"read did not return ({_describe(e)})")
        done = replies[-1]
        if isinstance(done, RedisError) or not isinstance(done, list) or len(done) != 2:
            return Completion(type="fail", error=f"transaction failed: {done!r}")
        role, got = done
        if not isinstance(role, list) or role[0] != "master":
            return Completion(type="fail", error=f"not a primary (role {role[0] if role else role!r})")
        if isinstance(got, RedisError):
            return Completion(type="fail", error=got.message)
        return Completion(type="ok", value=[key, None if got is None else int(got)])

    def _call(self, commands: list[list[Any]]) -> list[Any]:
        if self.address is None:
            raise RuntimeError("RedisClient.invoke before open(node, address, context)")
        if self._conn is None:
            self._conn = Connection(self.address.host, self.address.port, timeout=self.timeout_s)
        try:
            return self._conn.pipeline(commands)
        except BaseException:
            self.close()
            raise


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timeout"
    if isinstance(e, ProtocolError):
        return f"torn reply: {e}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
