"""The local backend: every node an OS process on 127.0.0.1, every link through a proxy.

``open_local_cluster(spec)`` is a context manager yielding a started
:class:`LocalCluster`, which implements :class:`~harness.cluster.Cluster`,
``Killable``, ``Pausable``, ``Partitionable`` and ``LogSource``. It needs no
root, no Docker and no network namespaces, which is why it is the default.

Layout. The run gets one temporary directory ``$TMPDIR/splitbrain-<run_id>-*/``
holding ``<node>/data/`` (the node's ``data_dir``, kept across kill/start) and
``<node>/node.log`` (its stdout and stderr, appended to on every start). Each
node listens on a fixed free port of 127.0.0.1 per named port of the target
(``Target.ports``; :mod:`harness.ports`), the same after a restart.

Processes. A node is ``spec.target.node_command(ctx)`` started as its own
process group (:class:`~harness.backends.processes.NodeProcess`, shared with the
netns backend), which is what ``kill``/``stop``/``pause``/``resume`` signal.

Links. For every ordered pair ``(src, dst)`` and every named port of ``dst``
a :class:`~harness.backends.proxy.ProxyHub` listener forwards to that port;
``ctx.peer_ports[dst][name]`` of node ``src`` is that listener, and
``ctx.peers[dst]`` the one of ``dst``'s peer port. A node that reaches its
peers any other way (an address it was not given, one it learnt from a peer)
bypasses the proxies and no cut can reach it: :meth:`LocalCluster.traffic`
then shows links that carried nothing, and the run says so. ``cut`` stops forwarding on a directed link in both directions of
its TCP connections (see :mod:`harness.backends.proxy` for the exact
semantics and why), ``heal`` restores every link, and ``reachable`` probes a
link by running ``spec.target.ready`` against a probe listener of the link (cut
with it, but not counted in :meth:`LocalCluster.traffic`): an actual request
through the proxy, answered by ``dst``'s service.

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
import socket
import sys
import tempfile
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Collection, Iterator

from harness.backends import node_files
from harness.backends._interrupts import deferred_interrupts
from harness.backends.netfilter import LinkCounters
from harness.backends.processes import NodeDownError, NodeProcess, NodeStartError, stop_all
from harness.backends.proxy import ProxyHub
from harness.ports import CLIENT, declared
from harness.cluster import Address, ClusterSpec, Link
from harness.leftovers import DIR_PREFIX, RunRecord, sweep
from harness.nodes import command_of, layout, link_probe_of, node_context, ports_of, ready_of
from harness.target import NodeContext

__all__ = ["LocalCluster", "NodeDownError", "NodeStartError", "open_local_cluster"]

HOST = "127.0.0.1"


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

    def __init__(self, *, name: str, index: int, ports: dict[str, int], root: Path, record: RunRecord,
                 run_id: str, stop_grace: float) -> None:
        self.name = name
        self.index = index
        self.ports = ports
        self.port = ports[CLIENT]
        self.data_dir = root / name / "data"
        self.log_path = root / name / "node.log"
        self.lock = threading.RLock()
        self.process = NodeProcess(name=name, log_path=self.log_path, record=record,
                                   label=f"{run_id}/{name}", stop_grace=stop_grace)
        self.data_dir.mkdir(parents=True)


class LocalCluster:
    """Nodes as local process groups, links through a :class:`ProxyHub`.

    Get one from :func:`open_local_cluster`; do not construct it directly.
    """

    traffic_source = "proxy"

    def __init__(self, spec: ClusterSpec, *, ready_timeout: float, stop_grace: float) -> None:
        self._layout = {s.name: s for s in layout(spec.target, spec.nodes)}  # names and roles checked
        self.spec = spec
        self.nodes: tuple[str, ...] = tuple(spec.nodes)
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        self._root: Path | None = None
        self._record: RunRecord | None = None
        self._hub: ProxyHub | None = None
        self._nodes: dict[str, _Node] = {}
        self._peers: dict[Link, Address] = {}  # the probe listener of each link (client port)
        self._peer_ports: dict[Link, dict[str, Address]] = {}
        self._probes: list[threading.Thread] = []
        self._probes_lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ Cluster

    def start(self, node: str) -> None:
        """Start ``node`` (no-op if running) and wait until ``target.ready`` says yes."""
        n = self._node(node)
        with n.lock:
            if not n.process.running():
                self._spawn(n)
            self._wait_ready(n)

    def stop(self, node: str) -> None:
        """SIGTERM ``node``'s group (resumed first if paused), SIGKILL after the grace period."""
        n = self._node(node)
        with n.lock:
            n.process.end(graceful=True)

    def address(self, node: str) -> Address:
        return Address(host=HOST, port=self._node(node).port)

    def alive(self, node: str) -> bool:
        n = self._node(node)
        with n.lock:
            return n.process.running()

    # --------------------------------------------------------- optional abilities

    def kill(self, node: str) -> None:
        """SIGKILL ``node``'s whole process group; returns once none of it is left."""
        n = self._node(node)
        with n.lock:
            n.process.end(graceful=False)

    def pause(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            n.process.pause()

    def resume(self, node: str) -> None:
        """SIGCONT ``node``'s group; a no-op when it is not running."""
        n = self._node(node)
        with n.lock:
            n.process.resume()

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
        role = self._layout[dst].role  # a proxy carries bytes, not packets: a request must answer
        probe_fn = link_probe_of(role, self.spec.target) or ready_of(role, self.spec.target)

        def probe() -> None:
            try:
                answer.append(bool(probe_fn(addr)))
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
                try:
                    shutil.copyfile(n.log_path, target)
                except OSError as e:  # a full disk: no half-copied log, and the error names the copy
                    target.unlink(missing_ok=True)
                    raise OSError(e.errno, e.strerror, str(target)) from e
                out.append(target)
        return out

    # -------------------------------------------------------------- extras

    def peer_address(self, src: str, dst: str, port_name: str = CLIENT) -> Address:
        """The proxy listener node ``src`` uses to reach ``dst``'s port ``port_name``."""
        return self._peer_ports[(src, dst)][port_name]

    def port_address(self, node: str, port_name: str) -> Address:
        """Where the harness reaches ``node``'s named port directly (not through a proxy)."""
        return Address(host=HOST, port=self._node(node).ports[port_name])

    def traffic(self) -> dict[Link, LinkCounters]:
        """What the nodes sent on each link through the proxies so far (probes not counted)."""
        return self._require_hub().counters()

    def pid(self, node: str) -> int | None:
        """The pid (= process group id) of ``node``'s service, or None when not running."""
        n = self._node(node)
        with n.lock:
            return n.process.pid()

    def log_path(self, node: str) -> Path:
        return self._node(node).log_path

    def read_node_file(self, node: str, name: str) -> bytes | None:
        """A file in ``node``'s data directory (:class:`~harness.cluster.NodeFiles`)."""
        return node_files.read_in(self._node(node).data_dir, name)

    def write_node_file(self, node: str, name: str, data: bytes) -> None:
        """Replace a file in ``node``'s data directory atomically (:class:`~harness.cluster.NodeFiles`)."""
        node_files.write_in(self._node(node).data_dir, name, data)

    # ----------------------------------------------------------- open / close

    def _open(self, state_dir: Path | None) -> None:
        spec = self.spec
        with deferred_interrupts():
            self._record = RunRecord(spec.run_id, directory=state_dir, run_dir=spec.run_dir)
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.run_id)
            self._root = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{safe}-"))
            self._record.add_dir(self._root)
        with ExitStack() as reserved:
            # Hold every node's port until the proxies have bound theirs, so
            # that no proxy listener can take a node's port.
            for i, name in enumerate(self.nodes, start=1):
                ports = {}
                for port_name in declared(ports_of(self._layout[name].role, spec.target)):
                    s = reserved.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    s.bind((HOST, 0))
                    ports[port_name] = s.getsockname()[1]
                self._nodes[name] = _Node(name=name, index=i, ports=ports, root=self._root,
                                          record=self._record, run_id=spec.run_id,
                                          stop_grace=self._stop_grace)
                if spec.clock:
                    self._nodes[name].process.use_clock()
            self._hub = ProxyHub(name=f"splitbrain-proxy-{spec.run_id}")
            for src in self.nodes:
                for dst in self.nodes:
                    if src == dst:
                        continue
                    d = self._nodes[dst]
                    self._peer_ports[(src, dst)] = {
                        port_name: self._hub.add_link((src, dst), Address(host=HOST, port=number),
                                                      port_name=port_name)
                        for port_name, number in d.ports.items()}
                    self._peers[(src, dst)] = self._hub.add_link(
                        (src, dst), Address(host=HOST, port=d.port), port_name=CLIENT, counted=False)
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
            left = len(errors)  # stop and proxy failures: the record must stay for `clean`
            if self._nodes:
                attempt(self.collect_logs, Path(self.spec.run_dir) / "logs")  # a full disk, say
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                if self._root.exists():
                    left += 1
                    errors.append(OSError(f"{self._root}: could not remove the run's temporary "
                                          f"directory; remove it by hand or run `splitbrain clean`"))
            if self._record is not None and not left:
                self._record.discard()
        if errors:
            raise errors[0]

    def _stop_all(self) -> None:
        # Every node, not only those running now: a start racing with close
        # holds the node's lock, and ending waits for it, then removes what it made.
        stop_all([(n.lock, n.process) for n in self._nodes.values()], grace=self._stop_grace)

    # ----------------------------------------------------------- processes

    def set_clock_offset(self, node: str, offset_ms: float) -> None:
        """Rewrite ``node``'s timestamp file (:class:`~harness.cluster.ClockSkewable`)."""
        n = self._node(node)
        with n.lock:
            n.process.set_clock(offset_ms)

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
        peer_ports = {dst: dict(by_name) for (src, dst), by_name in self._peer_ports.items()
                      if src == n.name}
        return node_context(self.spec, self._layout[n.name], listen=Address(host=HOST, port=n.port),
                            ports=n.ports, peer_ports=peer_ports,
                            data_dir=str(n.data_dir), python=sys.executable)

    def _spawn(self, n: _Node) -> None:
        if self._closed:
            raise RuntimeError(f"cannot start {n.name}: the cluster is closed")
        argv = list(command_of(self._layout[n.name].role, self.spec.target)(self._context(n)))
        n.process.spawn(argv, cwd=n.data_dir.parent, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                        what=f"target {self.spec.target.name!r}")

    def _wait_ready(self, n: _Node) -> None:
        addr = Address(host=HOST, port=n.port)
        ready = ready_of(self._layout[n.name].role, self.spec.target)
        n.process.wait_ready(lambda: bool(ready(addr)), timeout=self._ready_timeout,
                             closing=lambda: self._closed, where=str(addr))
