"""A fault-injecting TCP proxy: one listener per directed link, one thread for all.

The local backend routes every node-to-node link ``src -> dst`` through a
listener owned by the harness: node ``src`` is told (``NodeContext.peers``) to
reach ``dst`` at the listener's address, and the listener forwards each
connection to ``dst``'s real port. A partition is then a switch in the proxy,
with no root, no iptables and no namespaces.

What "cut" means here (the contract of :meth:`ProxyHub.cut`):

* A new connection on a cut link is **accepted but never forwarded**: the
  connect succeeds (the kernel completes the handshake of a listening socket
  anyway), no upstream connection is opened, and whatever ``src`` sends is read
  and dropped. The caller hangs until its own timeout, as under packet loss; it
  is never refused, because a refusal would tell ``src`` something a real
  partition does not.
* An existing connection on a cut link stops forwarding **both ways**. A
  listener is one directed link (connections that ``src`` opens to ``dst``),
  and a request/response exchange needs both directions, so a one-way drop in
  a real network breaks it just the same. Bytes in flight are dropped; a close
  by one side is not passed on to the other (a FIN is a packet too).
* :meth:`ProxyHub.heal` restores every link. Connections stalled by the cut are
  closed (their bytes were dropped, so the stream could not be resumed intact);
  new connections are forwarded normally.

When ``dst`` is down (nothing listens on its port), the upstream connect fails
and the proxy resets the downstream connection, so ``src`` sees what it would
see without a proxy: a refused/reset connection, not a hang.

Design: a single ``selectors`` loop in one background thread serves every
listener and connection; cut/heal/add/close run *in* that thread (queued, with
a wake-up socket) and the caller waits for them, so when :meth:`cut` returns
the cut is in effect for every connection. The thread is owned by the hub and
joined by :meth:`close`.

Counters (:meth:`ProxyHub.counters`). Per directed link, the hub counts what it
forwarded (``packets`` = reads passed on, ``bytes``, both directions of the
link's connections) and what a cut dropped (``dropped`` = reads discarded plus
connections accepted while cut). A listener added with ``counted=False`` (the
harness's own link probe) is cut like the others but counts nothing, so the
counters measure only the nodes' traffic. A link may have one listener per
named port of ``dst`` (``port_name``); cuts apply to the link, all ports.
"""

from __future__ import annotations

import collections
import errno
import selectors
import socket
import struct
import threading
from concurrent.futures import Future
from typing import Callable, Collection, TypeVar

from harness.backends.netfilter import LinkCounters
from harness.cluster import Address, Link

__all__ = ["ProxyHub"]

_T = TypeVar("_T")
_CHUNK = 65536
_MAX_PENDING = 4 * _CHUNK  # stop reading a side while this much waits for the other


class _Pipe:
    """One proxied connection: ``down`` from src, ``up`` to dst."""

    __slots__ = ("link", "counted", "down", "up", "connecting", "stalled", "to_up", "to_down",
                 "down_eof", "up_eof", "up_shut", "down_shut")

    def __init__(self, link: Link, down: socket.socket, counted: bool = True) -> None:
        self.link = link
        self.counted = counted
        self.down: socket.socket | None = down
        self.up: socket.socket | None = None
        self.connecting = False
        self.stalled = False
        self.to_up = bytearray()
        self.to_down = bytearray()
        self.down_eof = False  # src closed its sending side
        self.up_eof = False    # dst closed its sending side
        self.up_shut = False   # we passed src's EOF on to dst
        self.down_shut = False  # we passed dst's EOF on to src


class ProxyHub:
    """Every link listener of one cluster, served by one thread.

    Use as a context manager or call :meth:`close`; both join the thread and
    close every socket the hub made.
    """

    def __init__(self, *, name: str = "splitbrain-proxy") -> None:
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._commands: collections.deque[tuple[Callable[[], object], Future[object]]] = collections.deque()
        self._lock = threading.Lock()  # guards _commands and _closed
        self._closed = False
        self._listeners: dict[tuple, tuple[socket.socket, Address, Link, bool]] = {}
        self._counts: dict[Link, list[int]] = {}  # link -> [packets, bytes, dropped]
        self._pipes: set[_Pipe] = set()
        self._cut: set[Link] = set()
        self._events: dict[socket.socket, int] = {}
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def __enter__(self) -> "ProxyHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- public API

    def add_link(self, link: Link, upstream: Address, *, host: str = "127.0.0.1",
                 port_name: str | None = None, counted: bool = True,
                 listener: socket.socket | None = None) -> Address:
        """Listen for ``link`` (to ``dst``'s port ``port_name``) on a free port of ``host``; forward to ``upstream``.

        ``listener``: a bound, listening socket to serve instead (the hub owns it
        from then on); the netns backend's client relay gets its sockets so.
        """
        key = _key(link, port_name, counted)

        def do() -> Address:
            if key in self._listeners:
                raise ValueError(f"link {link[0]}->{link[1]} already has a proxy"
                                 + (f" for port {port_name!r}" if port_name else ""))
            if listener is not None:
                ls = listener
            else:
                ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                ls.bind((host, 0))
                ls.listen(512)
            ls.setblocking(False)
            addr = Address(host=host, port=ls.getsockname()[1])
            self._listeners[key] = (ls, upstream, tuple(link), counted)  # type: ignore[assignment]
            self._counts.setdefault(tuple(link), [0, 0, 0])  # type: ignore[arg-type]
            self._sel.register(ls, selectors.EVENT_READ, key)
            return addr
        return self._call(do)

    def address(self, link: Link, port_name: str | None = None, *, counted: bool = True) -> Address:
        """The listener address of ``link`` (for ``port_name``)."""
        def do() -> Address:
            ls = self._listeners[_key(link, port_name, counted)][0]
            host, port = ls.getsockname()[:2]
            return Address(host=host, port=port)
        return self._call(do)

    def cut(self, links: Collection[Link]) -> None:
        """Drop all traffic on ``links`` (added to what is cut); in effect on return."""
        links = set(links)

        def do() -> None:
            unknown = links - {v[2] for v in self._listeners.values()}
            if unknown:
                names = ", ".join(f"{s}->{d}" for s, d in sorted(unknown))
                raise ValueError(f"no proxy for link(s) {names}; links are (src, dst) node pairs")
            self._cut |= links
            for pipe in list(self._pipes):
                if pipe.link in links and not pipe.stalled:
                    self._stall(pipe)
        self._call(do)

    def heal(self) -> None:
        """Restore every link; connections stalled by a cut are closed."""
        def do() -> None:
            self._cut.clear()
            for pipe in list(self._pipes):
                if pipe.stalled:
                    self._close_pipe(pipe)
        self._call(do)

    def cut_links(self) -> frozenset[Link]:
        """The links cut right now."""
        return self._call(lambda: frozenset(self._cut))

    def counters(self) -> dict[Link, LinkCounters]:
        """What each link carried and dropped so far (see the module docstring)."""
        return self._call(lambda: {link: LinkCounters(packets=c[0], bytes=c[1], dropped=c[2])
                                   for link, c in self._counts.items()})

    def connection_count(self) -> int:
        """Open proxied connections (for tests and diagnostics)."""
        return self._call(lambda: len(self._pipes))

    def close(self) -> None:
        """Close every listener and connection and join the thread. Idempotent."""
        with self._lock:
            already = self._closed
            self._closed = True
        if not already:
            self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # ---------------------------------------------------------------- the loop

    def _call(self, fn: Callable[[], _T], timeout: float = 30.0) -> _T:
        fut: Future[object] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the link proxy is closed (the cluster was closed)")
            self._commands.append((fn, fut))
        self._wake()
        return fut.result(timeout)  # type: ignore[return-value]

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass  # buffer full means a wake-up is already pending

    def _loop(self) -> None:
        try:
            while True:
                for key, mask in self._sel.select():
                    if key.fileobj is self._wake_r:
                        self._drain_wake()
                    elif isinstance(key.data, tuple):
                        self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
                    else:
                        self._on_ready(key.data, key.fileobj, mask)  # type: ignore[arg-type]
                self._run_commands()
                with self._lock:
                    if self._closed:
                        break
        finally:
            self._shutdown()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _run_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                fn, fut = self._commands.popleft()
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed to the caller, who re-raises it
                fut.set_exception(e)

    def _shutdown(self) -> None:
        for pipe in list(self._pipes):
            self._close_pipe(pipe)
        for ls, *_ in self._listeners.values():
            ls.close()
        self._listeners.clear()
        with self._lock:
            self._closed = True
            pending = list(self._commands)
            self._commands.clear()
        for _, fut in pending:
            fut.set_exception(RuntimeError("the link proxy is closed (the cluster was closed)"))
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    # ------------------------------------------------------------- connections

    def _accept(self, ls: socket.socket, key: tuple) -> None:
        _, upstream, link, counted = self._listeners[key]
        for _ in range(64):
            try:
                down, _addr = ls.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. EMFILE: leave it in the backlog, try next round
                return
            down.setblocking(False)
            down.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pipe = _Pipe(link, down, counted)
            self._pipes.add(pipe)
            if link in self._cut:
                pipe.stalled = True  # the SYN never reaches dst: no upstream at all
                self._count(pipe, dropped=1)
            else:
                up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                up.setblocking(False)
                up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                pipe.up, pipe.connecting = up, True
                err = up.connect_ex((upstream.host, upstream.port))
                if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                    self._reset(pipe)
                    continue
            self._update(pipe)

    def _on_ready(self, pipe: _Pipe, sock: socket.socket, mask: int) -> None:
        if pipe not in self._pipes:
            return  # closed earlier in this round
        try:
            if pipe.stalled:
                self._discard(pipe, sock)
                return
            if sock is pipe.up and pipe.connecting:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._reset(pipe)  # dst down: src sees a reset, as without a proxy
                    return
                pipe.connecting = False
            elif mask & selectors.EVENT_WRITE:
                self._flush(pipe, to_up=sock is pipe.up)
            if mask & selectors.EVENT_READ and pipe in self._pipes:
                self._read(pipe, from_up=sock is pipe.up)
        except OSError:
            self._close_pipe(pipe)
            return
        if pipe in self._pipes:
            self._update(pipe)

    def _read(self, pipe: _Pipe, *, from_up: bool) -> None:
        src = pipe.up if from_up else pipe.down
        dst = pipe.down if from_up else pipe.up
        buf = pipe.to_down if from_up else pipe.to_up
        assert src is not None and dst is not None
        try:
            data = src.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            if from_up:
                pipe.up_eof = True
            else:
                pipe.down_eof = True
            self._pass_eof(pipe)
            return
        self._count(pipe, packets=1, nbytes=len(data))
        if not buf:
            try:
                sent = dst.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            buf += data[sent:]
        else:
            buf += data
        self._pass_eof(pipe)

    def _flush(self, pipe: _Pipe, *, to_up: bool) -> None:
        sock = pipe.up if to_up else pipe.down
        buf = pipe.to_up if to_up else pipe.to_down
        assert sock is not None
        if buf:
            try:
                sent = sock.send(buf)
            except (BlockingIOError, InterruptedError):
                sent = 0
            del buf[:sent]
        self._pass_eof(pipe)

    def _pass_eof(self, pipe: _Pipe) -> None:
        """Forward a half-close once everything before it was delivered."""
        if pipe.down_eof and not pipe.to_up and not pipe.up_shut and pipe.up is not None:
            pipe.up_shut = True
            pipe.up.shutdown(socket.SHUT_WR)
        if pipe.up_eof and not pipe.to_down and not pipe.down_shut and pipe.down is not None:
            pipe.down_shut = True
            pipe.down.shutdown(socket.SHUT_WR)
        if pipe.up_shut and pipe.down_shut:
            self._close_pipe(pipe)

    def _discard(self, pipe: _Pipe, sock: socket.socket) -> None:
        """On a cut link: read and drop; a side that closes is closed alone."""
        try:
            while sock.recv(_CHUNK):
                self._count(pipe, dropped=1)
            gone = True  # EOF
        except (BlockingIOError, InterruptedError):
            gone = False
        except OSError:
            gone = True
        if gone:
            self._close_side(pipe, up=sock is pipe.up)
            if pipe.up is None and pipe.down is None:
                self._pipes.discard(pipe)

    def _count(self, pipe: _Pipe, *, packets: int = 0, nbytes: int = 0, dropped: int = 0) -> None:
        if pipe.counted:
            c = self._counts[pipe.link]
            c[0] += packets
            c[1] += nbytes
            c[2] += dropped

    # ------------------------------------------------------- selector bookkeeping

    def _stall(self, pipe: _Pipe) -> None:
        pipe.stalled = True
        pipe.to_up.clear()
        pipe.to_down.clear()
        self._update(pipe)

    def _update(self, pipe: _Pipe) -> None:
        """Register each socket of ``pipe`` for exactly what its state needs."""
        R, W = selectors.EVENT_READ, selectors.EVENT_WRITE
        if pipe.stalled:
            down_ev = R if pipe.down is not None else 0
            up_ev = R if pipe.up is not None else 0
        else:
            up_ready = pipe.up is not None and not pipe.connecting
            down_ev = ((R if up_ready and not pipe.down_eof and len(pipe.to_up) < _MAX_PENDING else 0)
                       | (W if pipe.to_down else 0))
            if pipe.connecting:
                up_ev = W
            else:
                up_ev = ((R if not pipe.up_eof and len(pipe.to_down) < _MAX_PENDING else 0)
                         | (W if pipe.to_up else 0))
        if pipe.down is not None:
            self._set_events(pipe.down, down_ev, pipe)
        if pipe.up is not None:
            self._set_events(pipe.up, up_ev, pipe)

    def _set_events(self, sock: socket.socket, events: int, pipe: _Pipe) -> None:
        old = self._events.get(sock, 0)
        if events == old:
            return
        if not old:
            self._sel.register(sock, events, pipe)
        elif not events:
            self._sel.unregister(sock)
        else:
            self._sel.modify(sock, events, pipe)
        if events:
            self._events[sock] = events
        else:
            self._events.pop(sock, None)

    def _close_side(self, pipe: _Pipe, *, up: bool) -> None:
        sock = pipe.up if up else pipe.down
        if sock is None:
            return
        if self._events.pop(sock, 0):
            self._sel.unregister(sock)
        sock.close()
        if up:
            pipe.up = None
        else:
            pipe.down = None

    def _close_pipe(self, pipe: _Pipe) -> None:
        self._close_side(pipe, up=True)
        self._close_side(pipe, up=False)
        self._pipes.discard(pipe)

    def _reset(self, pipe: _Pipe) -> None:
        """Close ``pipe`` so that src sees a reset (RST), as when dst is down."""
        if pipe.down is not None:
            try:
                pipe.down.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self._close_pipe(pipe)


def _key(link: Link, port_name: str | None, counted: bool) -> tuple:
    """A listener's key: the link, plus the port name and "uncounted" when given (a tuple: the selector tells listeners by it)."""
    link = tuple(link)  # type: ignore[assignment]
    if port_name is None and counted:
        return link
    return (link, port_name, counted)
