"""The netns backend: every node a process in its own network namespace, links cut by the kernel.

``open_netns_cluster(spec)`` is a context manager yielding a started
:class:`NetnsCluster`, which implements :class:`~harness.cluster.Cluster`,
``Killable``, ``Pausable``, ``Partitionable``, ``LogSource`` and
:class:`~harness.cluster.PacketShapeable` (packet faults: ``tc netem`` where
the kernel has it, else iptables and an NFQUEUE delayer; :mod:`harness.backends.shaping`).
It needs no root where unprivileged user namespaces are enabled, and no
images: nodes are the host's binaries or the project's Python, as on the local
backend.

Layout. One holder process (:mod:`harness.backends.netns_holder`) owns a user
namespace and, in it, a bridge ``sbn-br`` on 10.77.0.0/24 (gateway ``.1``) and
one network namespace per node: node ``n<i>`` is ``10.77.0.<10+i>`` on its
``eth0``, with no route off the bridge, so no packet leaves. Every node binds
the same named ports (:func:`harness.ports.fixed_ports`: 7000, 7001, ...) on
its own address, and ``ctx.peer_ports`` gives each peer's own IP and port: a
system that learns addresses from its peers (etcd's advertised URLs, Redis'
announced replicas) uses the same addresses, and the cuts apply to them too.

Clients. The host cannot route into a namespace owned by another user
namespace, so :meth:`NetnsCluster.address` is a listener on the host's
127.0.0.1 that the holder relays to the node's IP and port (from the gateway's
address, which no rule matches). The relay is on the clients' path only.

Processes. A node is ``nsenter --user --net --target <anchor> -- <node_command>``
run as its own process group (:class:`~harness.backends.processes.NodeProcess`,
shared with the local backend): kill, pause, stop and logs are those of the
local backend, and the node's data directory and log are in the run's
temporary directory on the host.

Links. ``cut``, ``heal`` and the counters are iptables rules inside the nodes'
namespaces, built by :mod:`harness.backends.netfilter` (the Docker backend's
rules): any port, any protocol. ``reachable(src, dst)`` is a TCP connect from
inside ``src`` to ``dst``'s IP on its peer port (``peer`` if ``dst``'s role
declares one, else ``client``), the path the nodes' own traffic takes: only a
timeout means the link is cut. A target's declared ``link_probe`` is not used
here: it runs in the harness, off that path. :meth:`NetnsCluster.traffic`
reads what each link carried (packets and bytes ``dst`` received from ``src``)
and what cuts dropped of the nodes' own packets (probes are not counted).

Cleanup. Leaving the ``with`` block stops every node, copies the logs to
``spec.run_dir / "logs"``, ends the holder (its namespaces go with it) and
removes the temporary directory. The holder dies with the harness
(``PR_SET_PDEATHSIG`` and a pipe it watches); nodes are listed in the run's
:class:`~harness.leftovers.RunRecord`, so after a SIGKILL of the harness,
``splitbrain clean`` (or the next run) kills them and the namespaces vanish.

Availability. :func:`available` says whether this machine can do it (user
namespaces, ``unshare``, ``nsenter``, ``ip``, ``iptables``); where it cannot,
:func:`open_netns_cluster` falls back to the local backend after one sentence
saying why and what that cannot fault.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Mapping

from harness.backends import node_files
from harness.backends._interrupts import deferred_interrupts
from harness.backends.netfilter import (
    CUT, LinkCounters, cut_rules, iptables_script, merge_counters, probe_argv, probe_passed, read_counters,
    setup_script,
)
from harness.backends.processes import NodeDownError, NodeProcess, NodeStartError, stop_all
from harness.backends.shaping import Shaper
from harness.cluster import Address, ClusterSpec, EnvironmentError_, Link, PacketFault
from harness.leftovers import DIR_PREFIX, RunRecord, sweep
from harness.nodes import NodeSpec, command_of, layout, node_context, ports_of, ready_of
from harness.ports import CLIENT, fixed_ports, peer_port_name
from harness.target import NodeContext

__all__ = ["NetnsCluster", "NodeDownError", "NodeStartError", "available", "open_netns_cluster"]

SUBNET = ipaddress.ip_network("10.77.0.0/24")
GATEWAY = "10.77.0.1"
HOST = "127.0.0.1"
_TOOLS = ("unshare", "nsenter", "ip", "iptables")
FALLBACK_NOTE = ("the netns backend is not available here ({why}); using the local backend, whose "
                 "proxies cut only the connections nodes make to the addresses the harness gave "
                 "them, and which cannot drop, delay or duplicate packets")


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None when this machine can run the netns backend, else why not (one phrase)."""
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (install util-linux, iproute2 and iptables)"
    try:
        r = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "--", "sh", "-c",
                            "ip link add sbn-probe type bridge && iptables -w -L INPUT -n >/dev/null"],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare failed: {e}"
    if r.returncode != 0:
        return f"user namespaces are not usable: {r.stderr.strip() or f'exit {r.returncode}'}"
    return None


@contextmanager
def open_netns_cluster(spec: ClusterSpec, *, ready_timeout: float = 30.0, stop_grace: float = 5.0,
                       state_dir: Path | None = None, fallback: bool = True,
                       echo: Callable[[str], None] | None = None) -> Iterator[Any]:
    """Start every node of ``spec`` in its own namespace; leaving the block removes everything.

    Where :func:`available` says no, ``fallback`` uses the local backend
    instead (after one line on stderr); without it, ``EnvironmentError_``.
    """
    why = available()
    if why is not None:
        if not fallback:
            raise EnvironmentError_(f"the netns backend is not available here: {why}; "
                                    f"use --backend local or docker")
        from harness.backends.local import open_local_cluster

        (echo or _say)(FALLBACK_NOTE.format(why=why))
        with open_local_cluster(spec, ready_timeout=ready_timeout, stop_grace=stop_grace,
                                state_dir=state_dir) as local:
            yield local
        return
    sweep(state_dir)
    cluster = NetnsCluster(spec, ready_timeout=ready_timeout, stop_grace=stop_grace)
    try:
        cluster._open(state_dir)
        yield cluster
    finally:
        cluster._close()


def _say(line: str) -> None:
    print(f"splitbrain: {line}", file=sys.stderr, flush=True)


class _Node:
    """Mutable per-node state; every change happens under ``lock``."""

    def __init__(self, *, spec: NodeSpec, ports: dict[str, int], peer_port: str, ip: str, root: Path,
                 record: RunRecord, run_id: str, stop_grace: float) -> None:
        self.spec = spec
        self.name = name = spec.name
        self.index = spec.index
        self.ports = ports
        self.peer_port = peer_port  # what other nodes use to reach this one
        self.ip = ip
        self.anchor = 0
        self.data_dir = root / name / "data"
        self.log_path = root / name / "node.log"
        self.relays: dict[str, Address] = {}
        self.lock = threading.RLock()
        self.process = NodeProcess(name=name, log_path=self.log_path, record=record,
                                   label=f"{run_id}/{name}", stop_grace=stop_grace)
        self.data_dir.mkdir(parents=True)


class NetnsCluster:
    """Nodes as process groups in their own network namespaces. Get one from :func:`open_netns_cluster`."""

    traffic_source = "iptables"

    def __init__(self, spec: ClusterSpec, *, ready_timeout: float, stop_grace: float) -> None:
        if len(spec.nodes) > 200:
            raise ValueError(f"at most 200 nodes fit the run's /24 (not {len(spec.nodes)})")
        self.spec = spec
        self.nodes: tuple[str, ...] = tuple(spec.nodes)
        self._layout = {s.name: s for s in layout(spec.target, spec.nodes)}
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        self._root: Path | None = None
        self._record: RunRecord | None = None
        self._holder: subprocess.Popen[bytes] | None = None
        self._nodes: dict[str, _Node] = {}
        self._cut: set[Link] = set()
        self._dropped: dict[Link, LinkCounters] = {}  # what cuts since healed had dropped
        self._net_lock = threading.Lock()
        self._closed = False
        self._shaper: Shaper | None = None
        self._delayers: _Delayers | None = None

    # ------------------------------------------------------------------ Cluster

    def start(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            if not n.process.running():
                self._spawn(n)
            self._wait_ready(n)

    def stop(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            n.process.end(graceful=True)

    def address(self, node: str) -> Address:
        """The host-side relay to ``node``'s client port (the harness's clients only)."""
        return self._node(node).relays[CLIENT]

    def alive(self, node: str) -> bool:
        n = self._node(node)
        with n.lock:
            return n.process.running()

    # --------------------------------------------------------- optional abilities

    def kill(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            n.process.end(graceful=False)

    def pause(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            n.process.pause()

    def resume(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            n.process.resume()

    def cut(self, links: Collection[Link]) -> None:
        wanted = [(str(a), str(b)) for a, b in links]
        for src, dst in wanted:
            if src == dst or src not in self._nodes or dst not in self._nodes:
                raise ValueError(f"no link {src}->{dst}: links are (src, dst) pairs of distinct "
                                 f"nodes among {', '.join(self.nodes)}")
        with self._net_lock:
            new = [link for link in dict.fromkeys(wanted) if link not in self._cut]
            self._cut.update(new)
            self._on_nodes(cut_rules(new, self._ips(), chains=True))

    def heal(self) -> None:
        """Keep what the cuts dropped (for :meth:`traffic`), then flush every node's cut rules."""
        with self._net_lock:
            self._dropped = merge_counters([self._dropped, read_counters(self.nodes, self.exec, (CUT,))])
            self._cut.clear()
            self._on_nodes({name: [["-F", CUT]] for name in self.nodes})

    def cut_links(self) -> frozenset[Link]:
        with self._net_lock:
            return frozenset(self._cut)

    def reachable(self, src: str, dst: str, timeout: float = 1.0) -> bool:
        """TCP-connect from inside ``src`` to ``dst``'s IP and peer port; True unless it timed out."""
        if src == dst:
            raise ValueError(f"no link {src}->{dst}: a link joins two distinct nodes")
        s, d = self._node(src), self._node(dst)
        code, out = self.exec(s.name, probe_argv(d.ip, d.ports[d.peer_port], timeout,
                                                 python=sys.executable), timeout=timeout + 10)
        return probe_passed(code, out)

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

    def traffic(self) -> dict[Link, LinkCounters]:
        """Per link: packets and bytes ``dst`` received from ``src``, and nodes' packets cuts dropped."""
        with self._net_lock:
            return merge_counters([self._dropped, read_counters(self.nodes, self.exec)])

    # ------------------------------------------------------------ packet faults

    def shape(self, nodes: Collection[str], fault: PacketFault) -> None:
        """Apply ``fault`` to what ``nodes`` send (:class:`~harness.backends.shaping.Shaper`)."""
        self._require_shaper().shape([self._node(n).name for n in nodes], fault)

    def unshape(self) -> None:
        self._require_shaper().unshape()

    def packet_hits(self) -> dict[str, dict[str, int]]:
        """Per shaped node: packets its packet-fault rules hit so far (``loss``, ``dup``, ``delay``)."""
        return self._require_shaper().hits()

    def measure_link(self, src: str, dst: str, *, count: int = 10, timeout: float = 1.0) -> dict[str, Any]:
        """TCP connect times from inside ``src`` to ``dst``'s IP (:meth:`Shaper.measure`)."""
        return self._require_shaper().measure(self._node(src).name, self._node(dst).name,
                                              count=count, timeout=timeout)

    def _require_shaper(self) -> Shaper:
        if self._shaper is None:
            raise RuntimeError("the cluster is not open")
        return self._shaper

    # -------------------------------------------------------------- extras

    def ip(self, node: str) -> str:
        return self._node(node).ip

    def port_address(self, node: str, port_name: str) -> Address:
        """Where the harness reaches ``node``'s named port (through the relay)."""
        return self._node(node).relays[port_name]

    def pid(self, node: str) -> int | None:
        n = self._node(node)
        with n.lock:
            return n.process.pid()

    def holder_pid(self) -> int | None:
        return self._holder.pid if self._holder is not None else None

    def log_path(self, node: str) -> Path:
        return self._node(node).log_path

    def read_node_file(self, node: str, name: str) -> bytes | None:
        """A file in ``node``'s data directory (:class:`~harness.cluster.NodeFiles`)."""
        return node_files.read_in(self._node(node).data_dir, name)

    def write_node_file(self, node: str, name: str, data: bytes) -> None:
        """Replace a file in ``node``'s data directory atomically (:class:`~harness.cluster.NodeFiles`)."""
        node_files.write_in(self._node(node).data_dir, name, data)

    def ns_argv(self, node: str, argv: list[str]) -> list[str]:
        """``argv`` run inside ``node``'s namespace (as root of the run's user namespace)."""
        return ["nsenter", "--user", "--net", "--preserve-credentials", "--target", str(self._node(node).anchor),
                "--", *argv]

    def exec(self, node: str, argv: list[str], *, timeout: float = 30.0) -> tuple[int, str]:
        """Run ``argv`` inside ``node``'s namespace; (exit code, stdout+stderr)."""
        try:
            r = subprocess.run(self.ns_argv(node, argv), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return -1, (e.output or b"").decode(errors="replace")
        return r.returncode, r.stdout.decode(errors="replace")

    # ----------------------------------------------------------- open / close

    def _open(self, state_dir: Path | None) -> None:
        spec = self.spec
        hosts = list(SUBNET.hosts())
        with deferred_interrupts():
            self._record = RunRecord(spec.run_id, directory=state_dir, run_dir=spec.run_dir)  # clean saves logs there
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.run_id)
            self._root = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{safe}-"))
            self._record.add_dir(self._root)
        for name, ns in self._layout.items():
            declared_ports = ports_of(ns.role, spec.target)
            self._nodes[name] = _Node(spec=ns, ports=fixed_ports(declared_ports),
                                      peer_port=peer_port_name(declared_ports), ip=str(hosts[9 + ns.index]),
                                      root=self._root, record=self._record, run_id=spec.run_id,
                                      stop_grace=self._stop_grace)
            if spec.clock:
                self._nodes[name].process.use_clock()
        self._start_holder()
        ips = self._ips()
        self._delayers = _Delayers(self)
        self._shaper = Shaper(ip_of=ips, run=lambda node, argv: self.exec(node, argv),
                              delayers=self._delayers, python=sys.executable,
                              project=str(Path(__file__).resolve().parents[2]))
        for name in self.nodes:
            code, out = self.exec(name, ["sh", "-c", setup_script(name, ips)])
            if code != 0:
                raise EnvironmentError_(f"{name}: iptables failed in its namespace (exit {code}: {out.strip()}); "
                                        f"the kernel needs conntrack and the multiport and comment matches")
        for n in self._nodes.values():
            with n.lock:
                self._spawn(n)
        for n in self._nodes.values():
            with n.lock:
                self._wait_ready(n)

    def _start_holder(self) -> None:
        assert self._record is not None
        listeners: list[socket.socket] = []
        relays = []
        try:
            for n in self._nodes.values():
                for port_name, number in n.ports.items():
                    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    listeners.append(ls)
                    ls.bind((HOST, 0))
                    ls.listen(512)
                    n.relays[port_name] = Address(host=HOST, port=ls.getsockname()[1])
                    relays.append({"fd": ls.fileno(), "node": n.name, "port_name": port_name,
                                   "ip": n.ip, "port": number})
            cfg = {"parent": os.getpid(), "gateway": f"{GATEWAY}/{SUBNET.prefixlen}",
                   "nodes": [{"name": n.name, "ip": f"{n.ip}/{SUBNET.prefixlen}", "veth": f"sbn-v{n.index}"}
                             for n in self._nodes.values()],
                   "relays": relays}
            argv = ["unshare", "--user", "--map-root-user", "--net", "--",
                    sys.executable, "-m", "harness.backends.netns_holder", json.dumps(cfg)]
            assert self._root is not None
            log = self._root / "holder.log"  # a file, not a pipe: a chatty holder must never block
            with deferred_interrupts(), open(log, "ab") as err:
                holder = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=err, start_new_session=True,
                                          pass_fds=[ls.fileno() for ls in listeners],
                                          env=dict(os.environ, PYTHONPATH=_pythonpath()))
                self._holder = holder
                self._record.add_process(holder.pid, label=f"{self.spec.run_id}/netns-holder")
        finally:
            for ls in listeners:
                ls.close()  # the holder has its own copies; the harness must not accept on them
        assert holder.stdout is not None
        line = holder.stdout.readline().decode(errors="replace")
        if not line.startswith("ready "):
            try:
                holder.wait(5.0)  # it failed and is exiting: let it finish writing its log
            except subprocess.TimeoutExpired:
                pass
            err = log.read_text(errors="replace")[-2000:]
            raise EnvironmentError_(f"the netns backend could not set up its namespaces: "
                                    f"{(line + err).strip() or 'the holder exited'}; "
                                    f"use --backend local, or run `splitbrain clean`")
        anchors = json.loads(line[len("ready "):])["anchors"]
        for name, pid in anchors.items():
            self._nodes[name].anchor = int(pid)

    def _close(self) -> None:
        errors: list[BaseException] = []

        def attempt(step: Callable[..., Any], *args: Any, **kw: Any) -> None:
            try:
                step(*args, **kw)
            except Exception as e:
                errors.append(e)

        with deferred_interrupts():
            self._closed = True
            if self._delayers is not None:
                attempt(self._delayers.stop_all)
            attempt(stop_all, [(n.lock, n.process) for n in self._nodes.values()], grace=self._stop_grace)
            if self._nodes:
                attempt(self.collect_logs, Path(self.spec.run_dir) / "logs")
            if self._holder is not None:
                attempt(self._end_holder)
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                if self._root.exists():
                    errors.append(OSError(f"{self._root}: could not remove the run's temporary "
                                          f"directory; remove it by hand or run `splitbrain clean`"))
            if self._record is not None and not errors:
                self._record.discard()
        if errors:
            raise errors[0]

    def _end_holder(self) -> None:
        holder = self._holder
        assert holder is not None and self._record is not None
        try:
            if holder.stdin is not None:
                holder.stdin.close()  # EOF: the holder ends its relay and anchors, then exits
            holder.wait(5.0)
        except subprocess.TimeoutExpired:
            pass
        finally:
            try:
                os.killpg(holder.pid, signal.SIGKILL)  # anchors are in its group
            except ProcessLookupError:
                pass
            holder.wait()
            if holder.stdout is not None:
                holder.stdout.close()
        self._record.remove_process(holder.pid)
        self._holder = None

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

    def _ips(self) -> dict[str, str]:
        return {name: n.ip for name, n in self._nodes.items()}

    def _context(self, n: _Node) -> NodeContext:
        peer_ports = {m.name: {p: Address(host=m.ip, port=num) for p, num in m.ports.items()}
                      for m in self._nodes.values() if m.name != n.name}
        return node_context(self.spec, n.spec, listen=Address(host=n.ip, port=n.ports[CLIENT]),
                            ports=dict(n.ports), peer_ports=peer_ports, data_dir=str(n.data_dir),
                            python=sys.executable)

    def _spawn(self, n: _Node) -> None:
        if self._closed:
            raise RuntimeError(f"cannot start {n.name}: the cluster is closed")
        argv = [str(a) for a in command_of(n.spec.role, self.spec.target)(self._context(n))]
        n.process.spawn(self.ns_argv(n.name, argv), cwd=n.data_dir.parent,
                        env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=_pythonpath()),
                        what=f"target {self.spec.target.name!r}")

    def _wait_ready(self, n: _Node) -> None:
        addr = n.relays[CLIENT]
        ready = ready_of(n.spec.role, self.spec.target)
        n.process.wait_ready(lambda: bool(ready(addr)), timeout=self._ready_timeout,
                             closing=lambda: self._closed, where=f"{n.ip}:{n.ports[CLIENT]} (relay {addr})")

    # ----------------------------------------------------------- iptables

    def _iptables(self, name: str, rules: list[list[str]]) -> None:
        code, out = self.exec(name, ["sh", "-c", iptables_script(rules)])
        if code != 0:
            raise EnvironmentError_(f"{name}: iptables failed in its namespace (exit {code}: "
                                    f"{out.strip()}); the kernel needs conntrack and the "
                                    f"multiport and comment matches")

    def _on_nodes(self, rules: Mapping[str, list[list[str]]]) -> None:
        """Apply ``rules`` per node in parallel (each node's in order)."""
        items = [(name, r) for name, r in rules.items() if r]
        if len(items) == 1:
            self._iptables(*items[0])
        elif items:
            with ThreadPoolExecutor(max_workers=min(8, len(items)),
                                    thread_name_prefix="splitbrain-netns-iptables") as pool:
                list(pool.map(lambda item: self._iptables(*item), items))


def _pythonpath() -> str:
    """The project root first, so that the holder and nodes import this checkout."""
    root = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH")
    return root if not rest else f"{root}{os.pathsep}{rest}"


class _Delayers:
    """The packet delayers of a :class:`NetnsCluster`: one process group per shaped node, in its namespace."""

    def __init__(self, cluster: NetnsCluster) -> None:
        self._cluster = cluster
        self._procs: dict[str, NodeProcess] = {}

    def start(self, node: str, argv: list[str]) -> None:
        c = self._cluster
        assert c._record is not None and c._root is not None
        log = c._root / node / "delayer.log"
        p = NodeProcess(name=f"{node}-delayer", log_path=log, record=c._record,
                        label=f"{c.spec.run_id}/{node}-delayer", stop_grace=2.0)
        p.spawn(c.ns_argv(node, argv), cwd=c._root,
                env=dict(os.environ, PYTHONPATH=_pythonpath(), PYTHONUNBUFFERED="1"), what="the packet delayer")
        self._procs[node] = p
        p.wait_ready(lambda: log.read_text(errors="replace").rstrip().endswith("ready"), timeout=10.0,
                     closing=lambda: c._closed, where="its netlink queue")

    def stop(self, node: str) -> None:
        p = self._procs.pop(node, None)
        if p is not None:
            p.end(graceful=True)

    def stop_all(self) -> None:
        for node in list(self._procs):
            self.stop(node)
