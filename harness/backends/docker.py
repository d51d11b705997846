"""The Docker backend: one container per node on a private bridge network.

``open_docker_cluster(spec)`` is a context manager yielding a started
:class:`DockerCluster`, which implements :class:`~harness.cluster.Cluster`,
``Killable``, ``Pausable``, ``Partitionable`` and ``LogSource``, plus
whole-container ``kill_container``/``start_container``/``pause_container``/
``resume_container``. It drives the engine with the Docker SDK for Python.

Layout. The run gets a bridge network ``splitbrain-<run_id>`` on a /24 that
clashes with no other Docker network and no host route, and node ``n<i>`` the
container ``splitbrain-<run_id>-n<i>`` at the fixed address ``.<10+i>`` of
it, with ``NET_ADMIN`` (for iptables in its own namespace). Everything carries
the label ``splitbrain.run=<run_id>``. The host reaches the bridge directly, so
:meth:`DockerCluster.address` is the container's own address, and clients
never pass through a fault.

Processes. PID 1 of a container is ``sleep infinity``; the service
(``spec.target.node_command`` with ``python="python3"``, ``PYTHONPATH`` =
``/opt/splitbrain`` where the target's Dockerfile copies the project) is
started with ``docker exec``, records its pid in ``/run/splitbrain-service.pid``
and appends its output to ``/var/log/splitbrain/service.log``. So a kill -9 or
a SIGSTOP hits the service only, and a restart inside the same container finds
the data directory ``/var/lib/splitbrain/data`` (the container's own layer) as
it was. The container itself can be killed and restarted too; its address
stays and the partition rules in force are put back.

Links. A directed link ``(src, dst)`` is the TCP connections ``src`` opens
to ``dst`` (as in the local backend's proxies); ``cut`` drops their packets
with iptables/conntrack rules inside the two nodes' namespaces (DROP, so
connects and requests time out, not refused), ``reachable`` TCP-connects from
inside ``src``, ``heal`` flushes the cut chain in every node. The exact rules,
the per-link counters (:meth:`DockerCluster.traffic`) and why:
:mod:`harness.backends.netfilter`, shared with the netns backend. Packet
faults: :mod:`harness.backends.shaping`, also shared.

Cleanup. Leaving the ``with`` block by return, exception or Ctrl-C copies the
node logs to ``spec.run_dir / "logs"``, removes the containers and the network,
then removes anything else labelled with the run's id (a resource created by a
call that Ctrl-C interrupted). A second Ctrl-C during that is deferred. What a
SIGKILLed harness leaves is removed by ``splitbrain clean``
(:func:`clean_leftovers`).
"""

from __future__ import annotations

import io
import ipaddress
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterator

from harness.backends.docker_engine import SERVICE_LOG, clean_leftovers, connect, run_labels
from harness.backends.docker_network import (
    create_run_network, cut_rules, iptables_script, probe_argv, probe_passed,
)
from harness.backends import node_files
from harness.backends._interrupts import deferred_interrupts
from harness.backends.netfilter import CUT, LinkCounters, merge_counters, read_counters, setup_script
from harness.backends.shaping import Shaper
from harness.cluster import Address, ClusterSpec, EnvironmentError_, Link, PacketFault
from harness.faketime import CONTAINER_CLOCK_FILE, INSTALL_HINT, LIBRARY_GLOB, node_env, timestamp_text
from harness.nodes import command_of, layout, node_context, ports_of, ready_of
from harness.ports import CLIENT, fixed_ports, peer_port_name
from harness.target import NodeContext

if TYPE_CHECKING:
    import docker

__all__ = [
    "DockerCluster", "NodeDownError", "NodeStartError", "clean_leftovers", "open_docker_cluster",
]

PORT = 7000
PROJECT_DIR = "/opt/splitbrain"
DATA_DIR = "/var/lib/splitbrain/data"
LOG_FILE = SERVICE_LOG
PID_FILE = "/run/splitbrain-service.pid"
_LOG_TAIL_LINES = 20
_PID_FILE_GRACE_S = 15.0  # how long a started service may take to write its pid file

# $1.. = the node command; SB_DATA = data dir. Runs detached via `docker exec`.
_SERVICE_SH = (
    'mkdir -p "$SB_DATA" "$(dirname "$SB_LOG")"; '
    'echo "--- splitbrain: service start $(date -u +%Y-%m-%dT%H:%M:%SZ) ---" >> "$SB_LOG"; '
    f'echo $$ > {PID_FILE}; '
    'exec "$@" >> "$SB_LOG" 2>&1'
)
# Shell helpers shared by the signalling scripts: `p` = service pid, `gone` = true once it
# has exited. Exit 2: no pid file (never started, or not yet); 3: the service has exited.
_PID_SH = (
    f'p=$(cat {PID_FILE} 2>/dev/null) || exit 2; '
    'gone() { [ ! -e /proc/$p ] || grep -q "^State:.*[ZX]" /proc/$p/status 2>/dev/null; }; '
    'gone && exit 3; '
)
# $1 = signal; waits (up to $2 tenths of a second) for the process to go when it is KILL/TERM.
_SIGNAL_SH = _PID_SH + (
    'kill -s "$1" "$p" || exit 4; '
    'case "$1" in KILL|TERM) ;; *) exit 0;; esac; '
    '[ "$1" = TERM ] && kill -s CONT "$p" 2>/dev/null; '
    'i=0; while ! gone && [ $i -lt "$2" ]; do sleep 0.1; i=$((i+1)); done; '
    f'gone && rm -f {PID_FILE} && exit 0; exit 5'
)
_ALIVE_SH = _PID_SH + "exit 0"


class NodeStartError(EnvironmentError_):
    """A node's service exited, or did not become ready in time, while being started."""


class NodeDownError(RuntimeError):
    """An operation needs a running node (e.g. pause) and the node is not running."""


def _say(line: str) -> None:
    if not line.startswith(" "):  # milestones only; indented lines are build detail
        print(f"splitbrain: {line}", file=sys.stderr, flush=True)


@contextmanager
def open_docker_cluster(spec: ClusterSpec, *, ready_timeout: float = 60.0,
                        stop_grace: float = 5.0, port: int = PORT,
                        progress: Callable[[str], None] = _say) -> Iterator["DockerCluster"]:
    """Build/reuse the images, start one container per node; leaving the block removes all.

    ``ready_timeout`` bounds each service start (until ``target.ready``);
    ``stop_grace`` is how long ``stop`` waits after SIGTERM before SIGKILL;
    ``port`` is the first port number in each container: the client port, and
    the others a target declares with 0 follow it (:func:`harness.ports.fixed_ports`).
    """
    from harness.images import ensure_base_image, ensure_target_image

    client = connect()
    try:
        base = ensure_base_image(client, progress=progress)
        image = ensure_target_image(client, spec.target, base=base, progress=progress)
        cluster = DockerCluster(client, spec, image=image, port=port,
                                ready_timeout=ready_timeout, stop_grace=stop_grace)
        try:
            cluster._open()
            yield cluster
        finally:
            cluster._close()
    finally:
        client.close()


class _Node:
    """Mutable per-node state; every change happens under ``lock``."""

    def __init__(self, *, name: str, index: int, ip: str, container: str) -> None:
        self.name = name
        self.index = index
        self.ip = ip
        self.container = container  # name; the id once created
        self.lock = threading.RLock()
        self.created = False
        self.container_up = False
        self.container_paused = False
        self.rules_stale = False  # its namespace may not hold the rules ``_cut`` asks for
        self.clock_library: str | None = None  # libfaketime in its image, once looked up


class DockerCluster:
    """Nodes as containers on one bridge network; faults from inside their namespaces.

    Get one from :func:`open_docker_cluster`; do not construct it directly.
    """

    def __init__(self, client: "docker.DockerClient", spec: ClusterSpec, *, image: str,
                 port: int, ready_timeout: float, stop_grace: float) -> None:
        self._layout = {s.name: s for s in layout(spec.target, spec.nodes)}  # names and roles checked
        self.spec = spec
        self.nodes: tuple[str, ...] = tuple(spec.nodes)
        self.image = image
        self.port = port
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec.run_id)
        self.network_name = f"splitbrain-{safe}"  # also the containers' name prefix
        self.subnet: ipaddress.IPv4Network | None = None
        self._client = client
        self._api = client.api
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        self._nodes: dict[str, _Node] = {}
        self._cut: set[Link] = set()
        self._net_lock = threading.Lock()
        self._network_id: str | None = None
        self._labels = run_labels(spec.run_id, spec.run_dir)  # run_dir: where `clean` saves logs
        self._packet_shaper: Shaper | None = None
        self._dropped: dict[Link, LinkCounters] = {}

    # ------------------------------------------------------------------ Cluster

    def start(self, node: str) -> None:
        """Start ``node``'s service (and its container if that was killed); wait until ready."""
        n = self._node(node)
        with n.lock:
            if not n.container_up:
                self._start_container(n)
            self._unfreeze(n)
            if not self._service_alive(n):
                self._spawn(n)
            self._wait_ready(n)

    def stop(self, node: str) -> None:
        """SIGTERM ``node``'s service (resumed first if stopped), SIGKILL after the grace period."""
        n = self._node(node)
        with n.lock:
            if not n.container_up:
                return
            self._unfreeze(n)
            code, _ = self._signal(n, "TERM", wait_s=self._stop_grace)
            if code == 5:  # still there after the grace period
                self._signal(n, "KILL", wait_s=10.0)

    def address(self, node: str) -> Address:
        n = self._node(node)
        return Address(host=n.ip, port=self._ports(n)[CLIENT])

    def alive(self, node: str) -> bool:
        n = self._node(node)
        with n.lock:
            if not n.container_up:
                return False
            if n.container_paused:
                return True  # a frozen container's service still exists
            return self._service_alive(n)

    # --------------------------------------------------------- optional abilities

    def kill(self, node: str) -> None:
        """SIGKILL ``node``'s service; returns once it is gone. The container stays."""
        n = self._node(node)
        with n.lock:
            if not n.container_up:
                return
            self._unfreeze(n)
            # A process in uninterruptible sleep (an fsync on a loaded disk) dies only when
            # the kernel call returns: keep waiting, re-sending, for up to 30 s in all.
            for _ in range(3):
                code, out = self._signal(n, "KILL", wait_s=10.0)
                if code != 5:
                    break
            if code not in (0, 2, 3):
                raise RuntimeError(f"{node}: kill -9 of the service did not complete "
                                   f"(exit {code}: {out.strip()})")

    def pause(self, node: str) -> None:
        """SIGSTOP ``node``'s service: it keeps its sockets but answers nothing."""
        n = self._node(node)
        with n.lock:
            if not n.container_up or n.container_paused:
                raise NodeDownError(f"cannot pause {node}: its container is not running "
                                    f"(start it first)")
            code, _ = self._signal(n, "STOP")
            if code != 0:
                raise NodeDownError(f"cannot pause {node}: its service is not running "
                                    f"(start it first)")

    def resume(self, node: str) -> None:
        """SIGCONT ``node``'s service; a no-op when it is not running."""
        n = self._node(node)
        with n.lock:
            if n.container_up and not n.container_paused:
                self._signal(n, "CONT")

    def cut(self, links: Collection[Link]) -> None:
        """Drop every packet of the TCP connections ``src`` opens to ``dst``, per link."""
        wanted = [(str(a), str(b)) for a, b in links]
        for src, dst in wanted:
            if src == dst or src not in self._nodes or dst not in self._nodes:
                raise ValueError(f"no link {src}->{dst}: links are (src, dst) pairs of distinct "
                                 f"nodes among {', '.join(self.nodes)}")
        with self._net_lock:
            new = [link for link in dict.fromkeys(wanted) if link not in self._cut]
            self._cut.update(new)
            self._on_nodes({name: args for name, args in self._rules_for(new).items()})

    def heal(self) -> None:
        """Keep what the cuts dropped (for :meth:`traffic`), then flush every node's cut rules."""
        with self._net_lock:
            self._dropped = merge_counters([self._dropped, read_counters(self._answering(), self._run_in, (CUT,))])
            self._cut.clear()
            self._on_nodes({name: [["-F", CUT]] for name in self.nodes})

    traffic_source = "iptables"

    def traffic(self) -> dict[Link, LinkCounters]:
        """Per link: packets and bytes ``dst`` received from ``src``, and nodes' packets cuts dropped.

        Counters live in the containers' namespaces: a container killed and
        started again counts from zero (what cuts had dropped is kept at heal).
        """
        with self._net_lock:
            return merge_counters([self._dropped, read_counters(self._answering(), self._run_in)])

    def _answering(self) -> list[str]:
        return [name for name, n in self._nodes.items() if n.container_up and not n.container_paused]

    def _run_in(self, node: str, argv: list[str]) -> tuple[int, str]:
        return self._exec(self._node(node), argv)

    def cut_links(self) -> frozenset[Link]:
        """The directed links cut right now."""
        with self._net_lock:
            return frozenset(self._cut)

    def reachable(self, src: str, dst: str, timeout: float = 1.0) -> bool:
        """TCP-connect from inside ``src`` to ``dst``'s service port; True unless it timed out."""
        s, d = self._node(src), self._node(dst)
        if src == dst:
            raise ValueError(f"no link {src}->{dst}: a link joins two distinct nodes")
        try:
            code, out = self._exec(s, probe_argv(d.ip, self._peer_port(d), timeout))
        except Exception:
            return False  # src's container is down or frozen: it sends nothing
        return probe_passed(code, out)

    def shape(self, nodes: Collection[str], fault: PacketFault) -> None:
        """Packet faults inside the containers (:class:`~harness.backends.shaping.Shaper`: netem or iptables).

        A container killed and started again comes back unshaped (its namespace is new).
        """
        self._shaper().shape([self._node(n).name for n in nodes], fault)

    def unshape(self) -> None:
        self._shaper().unshape()

    def packet_hits(self) -> dict[str, dict[str, int]]:
        return self._shaper().hits()

    def measure_link(self, src: str, dst: str, *, count: int = 10, timeout: float = 1.0) -> dict[str, Any]:
        return self._shaper().measure(self._node(src).name, self._node(dst).name, count=count, timeout=timeout)

    def _shaper(self) -> Shaper:
        if self._packet_shaper is None:
            self._packet_shaper = Shaper(ip_of={name: n.ip for name, n in self._nodes.items()},
                                         run=lambda node, argv: self._exec(self._node(node), argv),
                                         delayers=_Delayers(self), python="python3", project=PROJECT_DIR)
        return self._packet_shaper

    def collect_logs(self, dest: Path) -> list[Path]:
        """Copy each node's service log to ``dest/<node>.log`` (stopped containers too)."""
        import docker.errors

        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        out = []
        for name, n in self._nodes.items():
            if not n.created:
                continue
            try:
                stream, _ = self._api.get_archive(n.container, LOG_FILE)
            except docker.errors.NotFound:
                continue  # the service never started: no log
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.next()
                f = tar.extractfile(member) if member is not None else None
                if f is None:
                    continue
                target = dest / f"{name}.log"
                try:
                    target.write_bytes(f.read())
                except OSError as e:  # a full disk: no half-written log, and the error names it
                    target.unlink(missing_ok=True)
                    raise OSError(e.errno, e.strerror, str(target)) from e
                out.append(target)
        return out

    # -------------------------------------------------------------- extras

    def kill_container(self, node: str) -> None:
        """SIGKILL the whole container (PID 1 and the service). ``start`` brings both back."""
        n = self._node(node)
        with n.lock:
            if not n.container_up:
                return
            if n.container_paused:
                self._api.unpause(n.container)
                n.container_paused = False
            self._api.kill(n.container, signal="SIGKILL")
            self._api.wait(n.container, timeout=30)
            n.container_up = False

    def start_container(self, node: str) -> None:
        """Start a killed container, put back the partition rules, start the service."""
        self.start(node)

    def pause_container(self, node: str) -> None:
        """Freeze every process of the container (``docker pause``, the cgroup freezer)."""
        n = self._node(node)
        with n.lock:
            if not n.container_up:
                raise NodeDownError(f"cannot pause {node}'s container: it is not running")
            if not n.container_paused:
                self._api.pause(n.container)
                n.container_paused = True

    def resume_container(self, node: str) -> None:
        n = self._node(node)
        with n.lock:
            if n.container_up:
                self._unfreeze(n)

    def container_name(self, node: str) -> str:
        """``splitbrain-<run_id>-<node>``."""
        return f"{self.network_name}-{self._node(node).name}"

    def service_pid(self, node: str) -> int | None:
        """The service's pid inside its container, or None when it is not running."""
        n = self._node(node)
        with n.lock:
            if not n.container_up:
                return None
            code, out = self._exec(n, ["sh", "-c", _PID_SH + 'echo "$p"'])
            return int(out.strip()) if code == 0 and out.strip().isdigit() else None

    def exec(self, node: str, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` inside ``node``'s container; (exit code, stdout+stderr). For tests and debugging."""
        return self._exec(self._node(node), argv)

    def read_node_file(self, node: str, name: str) -> bytes | None:
        """A file in ``node``'s data directory, through the engine's archive API (:class:`~harness.cluster.NodeFiles`)."""
        import docker.errors

        n = self._node(node)
        try:
            stream, _ = self._api.get_archive(n.container, f"{DATA_DIR}/{node_files.check_name(name)}")
        except docker.errors.NotFound:
            return None
        return node_files.untar_one(b"".join(stream))

    def write_node_file(self, node: str, name: str, data: bytes) -> None:
        """Replace a file in ``node``'s data directory: a temporary file put there, renamed inside the container."""
        n = self._node(node)
        tmp = node_files.temp_name(name)
        if not self._api.put_archive(n.container, DATA_DIR, node_files.tar_one(tmp, data)):
            raise OSError(f"{n.name}: the engine refused to copy {name} into {DATA_DIR}")
        code, out = self._exec(n, ["mv", "-f", f"{DATA_DIR}/{tmp}", f"{DATA_DIR}/{name}"])
        if code != 0:
            raise OSError(f"{n.name}: renaming {tmp} to {name} in {DATA_DIR} failed (exit {code}: {out.strip()})")

    # ----------------------------------------------------------- open / close

    def _open(self) -> None:
        if len(self.nodes) > 200:
            raise ValueError(f"at most 200 nodes fit the run's /24 (not {len(self.nodes)})")
        subnet = self._create_network()
        hosts = list(subnet.hosts())
        for i, name in enumerate(self.nodes, start=1):
            self._nodes[name] = _Node(name=name, index=i, ip=str(hosts[9 + i]),
                                      container=f"{self.network_name}-{name}")
        # The engine takes about as long per container as per five in parallel;
        # the pool is joined before this returns (also on error or Ctrl-C).
        with ThreadPoolExecutor(max_workers=min(8, len(self.nodes)),
                                thread_name_prefix="splitbrain-docker-open") as pool:
            list(pool.map(self._create_container, self._nodes.values()))
        for n in self._nodes.values():  # boot every service, then wait for each
            with n.lock:
                self._spawn(n)
        for n in self._nodes.values():
            with n.lock:
                self._wait_ready(n)

    def _close(self) -> None:
        """Remove everything; raise the first error after trying every step."""
        import docker.errors

        errors: list[BaseException] = []

        def attempt(step: Callable[..., Any], *args: Any, **kw: Any) -> None:
            try:
                step(*args, **kw)
            except docker.errors.NotFound:
                pass
            except Exception as e:
                errors.append(e)

        with deferred_interrupts():
            if any(n.created for n in self._nodes.values()):
                attempt(self.collect_logs, Path(self.spec.run_dir) / "logs")
            created = [n for n in self._nodes.values() if n.created]
            with ThreadPoolExecutor(max_workers=max(1, min(8, len(created))),
                                    thread_name_prefix="splitbrain-docker-close") as pool:
                list(pool.map(lambda n: attempt(self._api.remove_container, n.container,
                                                force=True, v=True), created))
            for n in created:
                n.created = n.container_up = False
            if self._network_id is not None:
                attempt(self._api.remove_network, self._network_id)
            attempt(clean_leftovers, self.spec.run_id, self._client)
        if errors:
            raise errors[0]

    def _create_network(self) -> ipaddress.IPv4Network:
        self._network_id, self.subnet = create_run_network(
            self._api, self.network_name, labels=self._labels, run_id=self.spec.run_id)
        return self.subnet

    def _create_container(self, n: _Node) -> None:
        api = self._api
        host_config = api.create_host_config(cap_add=["NET_ADMIN"], network_mode=self.network_name,
                                             init=False)
        networking = api.create_networking_config(
            {self.network_name: api.create_endpoint_config(ipv4_address=n.ip)})
        c = api.create_container(self.image, command=["sleep", "infinity"], name=n.container,
                                 hostname=n.name, labels=self._labels, host_config=host_config,
                                 networking_config=networking, working_dir=PROJECT_DIR)
        n.created = True
        n.container = c["Id"]
        api.start(n.container)
        n.container_up = True
        self._setup_chains(n)

    def _setup_chains(self, n: _Node) -> None:
        code, out = self._exec(n, ["sh", "-c", setup_script(n.name, {m.name: m.ip for m in self._nodes.values()})])
        if code != 0:
            raise EnvironmentError_(f"{n.name}: iptables failed in its container (exit {code}: {out.strip()}); the "
                                    f"container needs NET_ADMIN and a kernel with conntrack.")

    def _start_container(self, n: _Node) -> None:
        self._api.start(n.container)
        n.container_up, n.container_paused = True, False
        self._exec(n, ["rm", "-f", PID_FILE])  # its pid may belong to another process now
        n.rules_stale = True  # a fresh namespace has no rules: put back those in force
        self._sync_rules(n)

    # ----------------------------------------------------------- processes

    def _node(self, node: str) -> _Node:
        try:
            return self._nodes[node]
        except KeyError:
            raise ValueError(f"unknown node {node!r}; expected one of {', '.join(self.nodes)}") from None

    def _ports(self, n: _Node) -> dict[str, int]:
        """``n``'s named ports (:func:`harness.ports.fixed_ports`, numbered from ``port``)."""
        return fixed_ports(ports_of(self._layout[n.name].role, self.spec.target), base=self.port)

    def _peer_port(self, n: _Node) -> int:
        """The port other nodes reach ``n`` on (its ``peer`` port, else ``client``)."""
        return self._ports(n)[peer_port_name(ports_of(self._layout[n.name].role, self.spec.target))]

    def _context(self, n: _Node) -> NodeContext:
        ports = self._ports(n)
        peer_ports = {m.name: {p: Address(host=m.ip, port=num) for p, num in self._ports(m).items()}
                      for m in self._nodes.values() if m.name != n.name}
        return node_context(
            self.spec, self._layout[n.name], listen=Address(host=n.ip, port=ports[CLIENT]),
            ports=ports, peer_ports=peer_ports, data_dir=DATA_DIR, python="python3")

    def set_clock_offset(self, node: str, offset_ms: float) -> None:
        """Rewrite ``node``'s timestamp file inside its container (:class:`~harness.cluster.ClockSkewable`)."""
        n = self._node(node)
        with n.lock:
            self._write_clock(n, timestamp_text(offset_ms))

    def _write_clock(self, n: _Node, text: str) -> None:
        code, out = self._exec(n, ["sh", "-c", 'mkdir -p "$(dirname "$2")" && printf "%s" "$1" > "$2.tmp" '
                                               '&& mv "$2.tmp" "$2"', "sh", text, CONTAINER_CLOCK_FILE])
        if code != 0:
            raise EnvironmentError_(f"{n.name}: cannot write its clock file {CONTAINER_CLOCK_FILE} "
                                    f"(exit {code}: {out.strip()})")

    def _clock_env(self, n: _Node) -> dict[str, str]:
        """libfaketime's variables for a run with per-node clocks (:mod:`harness.faketime`); {} otherwise."""
        if not self.spec.clock:
            return {}
        if n.clock_library is None:
            code, out = self._exec(n, ["sh", "-c", f"ls {LIBRARY_GLOB} 2>/dev/null | head -n 1"])
            lib = out.strip()
            if code != 0 or not lib:
                raise EnvironmentError_(
                    f"{n.name}: its image has no libfaketime ({LIBRARY_GLOB}), which the clock nemesis "
                    f"needs; rebuild the images (splitbrain images build), or {INSTALL_HINT} in the image")
            self._write_clock(n, timestamp_text(0))
            n.clock_library = lib
        return node_env(clock_file=CONTAINER_CLOCK_FILE, library=n.clock_library,
                        site_dir=f"{PROJECT_DIR}/harness/faketime_site", base={"PYTHONPATH": PROJECT_DIR})

    def _spawn(self, n: _Node) -> None:
        argv = [str(a) for a in command_of(self._layout[n.name].role, self.spec.target)(self._context(n))]
        self._exec(n, ["rm", "-f", PID_FILE])
        env = {"PYTHONPATH": PROJECT_DIR, "PYTHONUNBUFFERED": "1",
               "SB_DATA": DATA_DIR, "SB_LOG": LOG_FILE}
        env.update(self._clock_env(n))
        ex = self._api.exec_create(n.container, ["sh", "-c", _SERVICE_SH, "sh", *argv],
                                   environment=env, workdir=PROJECT_DIR)
        self._api.exec_start(ex["Id"], detach=True)

    def _wait_ready(self, n: _Node) -> None:
        addr = Address(host=n.ip, port=self._ports(n)[CLIENT])
        started = time.monotonic()
        deadline = started + self._ready_timeout
        ready = ready_of(self._layout[n.name].role, self.spec.target)
        next_alive_check = started + 0.5
        while True:
            try:
                if ready(addr):
                    return
            except Exception:
                pass
            now = time.monotonic()
            if now >= next_alive_check:
                next_alive_check = now + 0.5
                code, _ = self._exec(n, ["sh", "-c", _ALIVE_SH])
                # 2 (no pid file yet): a loaded engine may take a while to run the detached exec
                if code == 3 or (code == 2 and now - started > _PID_FILE_GRACE_S):
                    raise NodeStartError(
                        f"{n.name}: the service exited while starting; last lines of its log:\n"
                        f"{self._tail(n)}")
            if now >= deadline:
                raise NodeStartError(
                    f"{n.name}: not ready after {self._ready_timeout:.0f} s at {addr}; last lines "
                    f"of its log:\n{self._tail(n)}")
            time.sleep(0.05)

    def _tail(self, n: _Node) -> str:
        try:
            _, out = self._exec(n, ["tail", "-n", str(_LOG_TAIL_LINES), LOG_FILE])
        except Exception as e:
            return f"  (log unavailable: {e})"
        return "\n".join("  " + line for line in out.splitlines())

    def _service_alive(self, n: _Node) -> bool:
        code, _ = self._exec(n, ["sh", "-c", _ALIVE_SH])
        return code == 0

    def _signal(self, n: _Node, sig: str, *, wait_s: float = 0.0) -> tuple[int, str]:
        """Send ``sig`` to the service; exit 0 done, 2 or 3 not running, 5 still there after ``wait_s``."""
        return self._exec(n, ["sh", "-c", _SIGNAL_SH, "sh", sig, str(int(wait_s * 10))])

    def _unfreeze(self, n: _Node) -> None:
        if n.container_paused:
            self._api.unpause(n.container)
            n.container_paused = False
            self._sync_rules(n)

    def _exec(self, n: _Node, argv: list[str]) -> tuple[int, str]:
        ex = self._api.exec_create(n.container, argv)
        out = self._api.exec_start(ex["Id"])
        code = self._api.exec_inspect(ex["Id"])["ExitCode"]
        return int(code if code is not None else -1), out.decode(errors="replace")

    # ----------------------------------------------------------- iptables

    def _rules_for(self, links: Collection[Link]) -> dict[str, list[list[str]]]:
        return cut_rules(links, {name: n.ip for name, n in self._nodes.items()}, chains=True)

    def _iptables(self, n: _Node, rules: list[list[str]]) -> None:
        code, out = self._exec(n, ["sh", "-c", iptables_script(rules)])
        if code != 0:
            raise EnvironmentError_(
                f"{n.name}: iptables failed in its container (exit {code}: {out.strip()}); the "
                f"container needs NET_ADMIN and a kernel with conntrack.")

    def _on_nodes(self, rules: dict[str, list[list[str]]]) -> None:
        """Apply ``rules`` per node, in parallel; hold ``_net_lock``.

        A node whose container is down or frozen cannot run iptables now: it
        is marked stale and gets the full rule set of ``_cut`` when it is
        started or thawed (:meth:`_sync_rules`).
        """
        ready = []
        for name, args in rules.items():
            n = self._nodes[name]
            if n.container_up and not n.container_paused and not n.rules_stale:
                ready.append((n, args))
            else:
                n.rules_stale = True
        if len(ready) == 1:
            self._iptables(*ready[0])
        elif ready:
            with ThreadPoolExecutor(max_workers=min(8, len(ready)),
                                    thread_name_prefix="splitbrain-docker-iptables") as pool:
                list(pool.map(lambda na: self._iptables(*na), ready))

    def _sync_rules(self, n: _Node) -> None:
        """Make ``n``'s rules exactly those that ``_cut`` asks of it (after a restart or thaw)."""
        with self._net_lock:
            if not n.rules_stale:
                return
            self._setup_chains(n)  # a restarted container's namespace is new
            self._iptables(n, [["-F", CUT], *self._rules_for(sorted(self._cut)).get(n.name, [])])
            n.rules_stale = False


_DELAYER_PID = "/run/splitbrain-delayer.pid"
_DELAYER_LOG = "/var/log/splitbrain/delayer.log"


class _Delayers:
    """A packet delayer per container, detached like the service, found again by its pid file."""

    def __init__(self, cluster: DockerCluster) -> None:
        self._cluster = cluster

    def start(self, node: str, argv: list[str]) -> None:
        c = self._cluster
        n = c._node(node)
        script = (f'mkdir -p "$(dirname {_DELAYER_LOG})"; echo $$ > {_DELAYER_PID}; '
                  f'exec "$@" > {_DELAYER_LOG} 2>&1')
        ex = c._api.exec_create(n.container, ["sh", "-c", script, "sh", *argv],
                                environment={"PYTHONPATH": PROJECT_DIR, "PYTHONUNBUFFERED": "1"})
        c._api.exec_start(ex["Id"], detach=True)
        deadline = time.monotonic() + 15.0
        out = ""
        while time.monotonic() < deadline:
            code, out = c._exec(n, ["tail", "-n", "1", _DELAYER_LOG])
            if code == 0 and out.strip() == "ready":
                return
            time.sleep(0.1)
        raise EnvironmentError_(f"{node}: the packet delayer did not start in its container: {out.strip()}")

    def stop(self, node: str) -> None:
        c = self._cluster
        c._exec(c._node(node), ["sh", "-c", f"kill $(cat {_DELAYER_PID}) 2>/dev/null; rm -f {_DELAYER_PID}"])
