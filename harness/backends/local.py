"""The local backend: every node an OS process on 127.0.0.1, every link through a proxy.

``open_local_cluster(spec)`` is a context manager yielding a started
:class:`LocalCluster`, which implements :class:`~harness.cluster.Cluster`,
``Killable``, ``Pausable``, ``Partitionable`` and ``LogSource``. It needs no
root, no Docker and no network namespaces, which is why it is the default.

Layout. The run gets one temporary directory ``$TMPDIR/splitbrain-<run_id>-*/``
holding ``<node>/data/`` (the node's ``data_dir``, kept across kill/start) and
``<node>/node.log`` (its stdout and stderr, appended to on every start). Each
node listens on a fixed free port of 127.0.0.1, the same after a restart.

Processes. A node is ``spec.target.node_command(ctx)`` started with
``start_new_session=True``: it leads its own process group, which is what
``kill``/``stop``/``pause``/``resume`` signal, so a node's children are hit
too, and a Ctrl-C in the terminal (sent to the harness's foreground group)
does not reach the nodes before the harness has decided what to do.

Links. For every ordered pair ``(src, dst)`` a :class:`~harness.backends.proxy.ProxyHub`
listener forwards to ``dst``; ``ctx.peers[dst]`` of node ``src`` is that
listener. ``cut`` stops forwarding on a directed link in both directions of
its TCP connections (see :mod:`harness.backends.proxy` for the exact
semantics and why), ``heal`` restores every link, and ``reachable`` probes a
link by running ``spec.target.ready`` against the link's listener: an actual
request through the proxy, answered by ``dst``'s service.

Cleanup is a feature. Leaving the ``with`` block by return, exception or
Ctrl-C stops every node's process group (SIGTERM, SIGKILL after a grace
period), closes the proxies and joins their thread, joins probe threads,
copies node logs to ``spec.run_dir / "logs"`` and removes the temporary
directory. A second Ctrl-C during this is deferred until cleanup is done.
While the run is up its pids and directory are listed in a
:class:`~harness.leftovers.RunRecord`, deleted at a clean close; if the
harness itself is SIGKILLed, ``splitbrain clean`` or the next local run
removes what it left (:func:`harness.leftovers.sweep`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Collection, Iterator

from harness.backends._interrupts import deferred_interrupts
from harness.backends.proxy import ProxyHub
from harness.cluster import Address, ClusterSpec, EnvironmentError_, Link
from harness.leftovers import DIR_PREFIX, RunRecord, group_members, sweep
from harness.target import NodeContext

__all__ = ["LocalCluster", "NodeDownError", "NodeStartError", "open_local_cluster"]

HOST = "127.0.0.1"
_LOG_TAIL_LINES = 20


class NodeStartError(EnvironmentError_):
    """A node exited, or did not become ready in time, while being started."""


class NodeDownError(RuntimeError):
    """An operation needs a running node (e.g. pause) and the node is not running."""


@contextmanager
def open_local_cluster(spec: ClusterSpec, *, ready_timeout: float = 30.0,
                       stop_grace: float = 5.0, state_dir: Path | None = None) -> Iterator["LocalCluster"]:
    """Start every node of ``spec`` locally; leaving the block removes everything.

    ``ready_timeout`` bounds each start (until ``target.ready``); ``stop_grace``
    is how long ``stop`` and the final close wait after SIGTERM before SIGKILL;
    ``state_dir`` overrides where the leftovers record lives (tests).
    """
    sweep(state_dir)  # a crashed earlier run's nodes must not hold ports or CPU
    cluster = LocalCluster(spec, ready_timeout=ready_timeout, stop_grace=stop_grace)
    try:
        cluster._open(state_dir)
        yield cluster
    finally:
        cluster._close()


class _Node:
    """Mutable per-node state; every change happens under ``lock``."""

    def __init__(self, *, name: str, index: int, port: int, root: Path) -> None:
        self.name = name
        self.index = index
        self.port = port
        self.data_dir = root / name / "data"
        self.log_path = root / name / "node.log"
        self.lock = threading.RLock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.data_dir.mkdir(parents=True)


class LocalCluster:
    """Nodes as local process groups, links through a :class:`ProxyHub`.

    Get one from :func:`open_local_cluster`; do not construct it directly.
    """

    def __init__(self, spec: ClusterSpec, *, ready_timeout: float, stop_grace: float) -> None:
        if len(set(spec.nodes)) != len(spec.nodes) or not spec.nodes:
            raise ValueError(f"node names must be distinct and non-empty (not {spec.nodes!r})")
        self.spec = spec
        self.nodes: tuple[str, ...] = tuple(spec.nodes)
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        self._root: Path | None = None
        self._record: RunRecord | None = None
        self._hub: ProxyHub | None = None
        self._nodes: dict[str, _Node] = {}
        self._peers: dict[Link, Address] = {}
        self._probes: list[threading.Thread] = []
        self._probes_lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ Cluster

    def start(self, node: str) -> None:
        """Start ``node`` (no-op if running) and wait until ``target.ready`` says yes."""
        n = self._node(node)
        with n.lock:
            if n.proc is None or n.proc.poll() is not None:
                self._spawn(n)
            self._wait_ready(n)

    def stop(self, node: str) -> None:
        """SIGTERM ``node``'s group (resumed first if paused), SIGKILL after the grace period."""
        self._end(self._node(node), graceful=True)

    def address(self, node: str) -> Address:
        return Address(host=HOST, port=self._node(node).port)

    def alive(self, node: str) -> bool:
        n = self._node(node)
        with n.lock:
            return n.proc is not None and n.proc.poll() is None

    # --------------------------------------------------------- optional abilities

    def kill(self, node: str) -> None:
        """SIGKILL ``node``'s whole process group; returns once none of it is left."""
        self._end(self._node(node), graceful=False)

    def pause(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            if n.proc is None or n.proc.poll() is not None:
                raise NodeDownError(f"cannot pause {node}: it is not running (start it first)")
            self._signal_group(n, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        """SIGCONT ``node``'s group; a no-op when it is not running."""
        n = self._node(node)
        with n.lock:
            if n.proc is not None and n.proc.poll() is None:
                self._signal_group(n, signal.SIGCONT)

    def cut(self, links: Collection[Link]) -> None:
        links = [tuple(link) for link in links]
        for src, dst in links:
            if (src, dst) not in self._peers:
                raise ValueError(f"no link {src}->{dst}: links are (src, dst) pairs of distinct "
                                 f"nodes among {', '.join(self.nodes)}")
        self._require_hub().cut(links)  # type: ignore[arg-type]

    def heal(self) -> None:
        self._require_hub().heal()

    def cut_links(self) -> frozenset[Link]:
        """The directed links cut right now."""
        return self._require_hub().cut_links()

    def reachable(self, src: str, dst: str, timeout: float = 1.0) -> bool:
        """Send ``target.ready``'s request through the ``src -> dst`` proxy; True if dst answered.

        The probe runs in a thread owned by the cluster (joined at close) so
        that a probe stuck on a cut link cannot stall the caller past ``timeout``.
        """
        try:
            addr = self._peers[(src, dst)]
        except KeyError:
            raise ValueError(f"no link {src}->{dst} among nodes {', '.join(self.nodes)}") from None
        answer: list[bool] = []

        def probe() -> None:
            try:
                answer.append(bool(self.spec.target.ready(addr)))
            except Exception:
                answer.append(False)

        t = threading.Thread(target=probe, name=f"splitbrain-probe-{src}-{dst}", daemon=True)
        with self._probes_lock:
            if self._closed:
                raise RuntimeError("the cluster is closed")
            self._probes = [p for p in self._probes if p.is_alive()]
            self._probes.append(t)
        t.start()
        t.join(timeout)
        return bool(answer and answer[0])

    def collect_logs(self, dest: Path) -> list[Path]:
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        out = []
        for name, n in self._nodes.items():
            if n.log_path.exists():
                target = dest / f"{name}.log"
                shutil.copyfile(n.log_path, target)
                out.append(target)
        return out

    # -------------------------------------------------------------- extras

    def peer_address(self, src: str, dst: str) -> Address:
        """The proxy listener node ``src`` uses to reach ``dst``."""
        return self._peers[(src, dst)]

    def pid(self, node: str) -> int | None:
        """The pid (= process group id) of ``node``'s service, or None when not running."""
        n = self._node(node)
        with n.lock:
            return n.proc.pid if n.proc is not None and n.proc.poll() is None else None

    def log_path(self, node: str) -> Path:
        return self._node(node).log_path

    # ----------------------------------------------------------- open / close

    def _open(self, state_dir: Path | None) -> None:
        spec = self.spec
        with deferred_interrupts():
            self._record = RunRecord(spec.run_id, directory=state_dir)
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.run_id)
            self._root = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{safe}-"))
            self._record.add_dir(self._root)
        with ExitStack() as reserved:
            # Hold every node's port until the proxies have bound theirs, so
            # that no proxy listener can take a node's port.
            ports = []
            for _ in self.nodes:
                s = reserved.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                s.bind((HOST, 0))
                ports.append(s.getsockname()[1])
            for i, (name, port) in enumerate(zip(self.nodes, ports), start=1):
                self._nodes[name] = _Node(name=name, index=i, port=port, root=self._root)
            self._hub = ProxyHub(name=f"splitbrain-proxy-{spec.run_id}")
            for src in self.nodes:
                for dst in self.nodes:
                    if src != dst:
                        self._peers[(src, dst)] = self._hub.add_link(
                            (src, dst), Address(host=HOST, port=self._nodes[dst].port))
        for n in self._nodes.values():  # boot in parallel, then wait for each
            with n.lock:
                self._spawn(n)
        for n in self._nodes.values():
            with n.lock:
                self._wait_ready(n)

    def _close(self) -> None:
        """Remove everything; raise the first error after trying every step."""
        errors: list[BaseException] = []

        def attempt(step, *args) -> None:  # type: ignore[no-untyped-def]
            try:
                step(*args)
            except Exception as e:
                errors.append(e)

        with deferred_interrupts():
            with self._probes_lock:
                self._closed = True
            attempt(self._stop_all)
            if self._hub is not None:
                attempt(self._hub.close)  # unblocks any probe waiting on a proxied connection
            with self._probes_lock:
                probes, self._probes = self._probes, []
            for t in probes:
                t.join(10.0)
            if self._nodes:
                attempt(self.collect_logs, Path(self.spec.run_dir) / "logs")
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                if self._root.exists():
                    errors.append(OSError(f"{self._root}: could not remove the run's temporary "
                                          f"directory; remove it by hand or run `splitbrain clean`"))
            if self._record is not None and not errors:
                self._record.discard()
        if errors:
            raise errors[0]

    def _stop_all(self) -> None:
        # Every node, not only those running now: a start racing with close
        # holds the node's lock, and _end waits for it, then removes what it made.
        for n in self._nodes.values():
            with n.lock:
                self._signal_group(n, signal.SIGTERM)
                self._signal_group(n, signal.SIGCONT)
        deadline = time.monotonic() + self._stop_grace
        for n in self._nodes.values():
            self._end(n, graceful=False, wait_first=max(0.0, deadline - time.monotonic()))

    # ----------------------------------------------------------- processes

    def _node(self, node: str) -> _Node:
        try:
            return self._nodes[node]
        except KeyError:
            raise ValueError(f"unknown node {node!r}; this cluster has {', '.join(self.nodes)}") from None

    def _require_hub(self) -> ProxyHub:
        if self._hub is None:
            raise RuntimeError("the cluster is not open")
        return self._hub

    def _context(self, n: _Node) -> NodeContext:
        return NodeContext(
            name=n.name, index=n.index, nodes=self.nodes, variant=self.spec.variant,
            listen=Address(host=HOST, port=n.port),
            peers={dst: addr for (src, dst), addr in self._peers.items() if src == n.name},
            data_dir=str(n.data_dir), python=sys.executable, options=dict(self.spec.options))

    def _spawn(self, n: _Node) -> None:
        if self._closed:
            raise RuntimeError(f"cannot start {n.name}: the cluster is closed")
        argv = list(self.spec.target.node_command(self._context(n)))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(n.log_path, "ab") as log:
            log.write(f"=== splitbrain: starting {n.name} at {time.strftime('%Y-%m-%dT%H:%M:%S')}: "
                      f"{' '.join(argv)}\n".encode())
            log.flush()
            with deferred_interrupts():
                try:
                    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=n.data_dir.parent,
                                            env=env, start_new_session=True, close_fds=True)
                except OSError as e:
                    raise NodeStartError(f"cannot start node {n.name} of target "
                                         f"{self.spec.target.name!r}: {e} (command: {argv!r}); "
                                         f"check the target's node_command") from e
                n.proc = proc
                assert self._record is not None
                self._record.add_process(proc.pid, label=f"{self.spec.run_id}/{n.name}")

    def _wait_ready(self, n: _Node) -> None:
        assert n.proc is not None
        addr = Address(host=HOST, port=n.port)
        deadline = time.monotonic() + self._ready_timeout
        delay = 0.02
        while True:
            if self._closed:
                raise NodeStartError(f"node {n.name}: start abandoned, the cluster is closing")
            code = n.proc.poll()
            if code is not None:
                raise NodeStartError(
                    f"node {n.name} exited with code {code} before it was ready; last lines of "
                    f"{n.log_path}:\n{self._tail(n)}")
            try:
                if self.spec.target.ready(addr):
                    return
            except Exception:
                pass  # not ready yet; a target's probe should not raise, but be lenient
            if time.monotonic() > deadline:
                raise NodeStartError(
                    f"node {n.name} did not become ready at {addr} within {self._ready_timeout:g} s; "
                    f"last lines of {n.log_path}:\n{self._tail(n)}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def _tail(self, n: _Node) -> str:
        try:
            lines = n.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "  (no log)"
        return "\n".join(f"  {line}" for line in lines[-_LOG_TAIL_LINES:]) or "  (empty log)"

    def _signal_group(self, n: _Node, sig: int) -> None:
        if n.proc is None:
            return
        try:
            os.killpg(n.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _end(self, n: _Node, *, graceful: bool, wait_first: float = 0.0) -> None:
        """Make ``n``'s process group disappear; return when it has.

        ``graceful``: SIGTERM (+SIGCONT) and wait ``stop_grace``; otherwise wait
        ``wait_first`` (an earlier SIGTERM's grace). Then SIGKILL the group.
        """
        with n.lock:
            proc = n.proc
            if proc is None:
                return
            if graceful:
                self._signal_group(n, signal.SIGTERM)
                self._signal_group(n, signal.SIGCONT)
                wait_first = self._stop_grace
            if wait_first > 0:
                try:
                    proc.wait(wait_first)
                except subprocess.TimeoutExpired:
                    pass
            self._signal_group(n, signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 5.0
            while group_members(proc.pid):  # children of the node, reparented but in its group
                if time.monotonic() > deadline:
                    raise EnvironmentError_(f"node {n.name}: processes of group {proc.pid} survived "
                                            f"SIGKILL; run `splitbrain clean` or kill them by hand")
                self._signal_group(n, signal.SIGKILL)
                time.sleep(0.02)
            n.proc = None
            assert self._record is not None
            self._record.remove_process(proc.pid)
