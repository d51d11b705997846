"""A minimal Redis (RESP2) connection: send a command, read one reply. Standard library only.

Enough for a test client: commands are lists of strings, replies are decoded
into Python values (simple strings and bulk strings as ``str``, integers as
``int``, arrays as ``list``, nil as ``None``). An error reply is returned as a
:class:`RedisError` value, not raised, so the caller decides what it means
(``READONLY`` is a definite "not done"; a timeout is not).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

__all__ = ["Connection", "RedisError", "ProtocolError"]


@dataclass(frozen=True)
class RedisError:
    """An error reply (``-READONLY You can't write against a read only replica.``)."""

    message: str

    @property
    def kind(self) -> str:
        return self.message.split(" ", 1)[0]


class ProtocolError(OSError):
    """The reply was not RESP (a torn or foreign reply): the outcome is unknown."""


class Connection:
    """One TCP connection to one Redis server, every read and write bounded by ``timeout``."""

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.settimeout(timeout)
        self._file = self._sock.makefile("rb")

    def call(self, *args: Any) -> Any:
        """Send one command; return its reply."""
        return self.pipeline([list(args)])[0]

    def pipeline(self, commands: list[list[Any]]) -> list[Any]:
        """Send several commands at once; return their replies in order."""
        out = bytearray()
        for cmd in commands:
            out += b"*%d\r\n" % len(cmd)
            for a in cmd:
                b = str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(b), b)
        self._sock.sendall(bytes(out))
        return [self._reply() for _ in commands]

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()

    def _line(self) -> bytes:
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise ProtocolError(f"connection closed mid-reply ({line[:40]!r})")
        return line[:-2]

    def _reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._file.read(n + 2)
            if len(data) != n + 2:
                raise ProtocolError("connection closed mid-reply")
            return data[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ProtocolError(f"not a RESP reply: {line[:40]!r}")
