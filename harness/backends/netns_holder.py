"""The netns backend's holder: the one process that owns a run's namespaces.

Started by :mod:`harness.backends.netns` as::

    unshare --user --map-root-user --net -- python -m harness.backends.netns_holder CONFIG_JSON

so it runs as "root" of a fresh user namespace, in a fresh network namespace
(the *bridge namespace*). It:

1. dies with the harness: ``PR_SET_PDEATHSIG`` = SIGKILL, and it exits when its
   stdin (a pipe from the harness) reaches EOF;
2. makes the bridge ``sbn-br`` with the gateway address, and ``lo``;
3. per node, forks an *anchor*: a child that calls ``unshare(CLONE_NEWNET)``
   and then only waits (it also has ``PR_SET_PDEATHSIG``, so it dies with the
   holder). Its network namespace is the node's: a veth pair ``sbn-v<i>`` (on
   the bridge) / ``eth0`` (in the node's namespace) with the node's address
   and no route beyond the bridge's /24, so no packet can leave;
4. relays the harness's client connections: the harness passes it listening
   sockets bound on the host's loopback (inherited file descriptors, so they
   stay in the host's namespace), and a :class:`~harness.backends.proxy.ProxyHub`
   forwards each accepted connection to the node's IP and port, from the
   bridge's gateway address. This relay is only on the client path; node to
   node traffic goes over the bridge, where the cuts are;
5. prints one line ``ready {"anchors": {node: pid}}`` and waits for EOF.

When the holder dies the anchors die; a namespace then lives only as long as
a node process still inside it, and the harness (or ``splitbrain clean``)
kills those by their recorded process groups.

``CONFIG_JSON``: ``{"gateway": "10.77.0.1/24", "nodes": [{"name", "ip": "10.77.0.11/24",
"veth"}], "relays": [{"fd", "ip", "port"}]}``.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
BRIDGE = "sbn-br"


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies; exit now if it already has."""
    if _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os._exit(1)


def _sh(*argv: str) -> None:
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")


def _anchor() -> int:
    """Fork a child that moves into a new network namespace and waits; its pid once it is there."""
    ready_r, ready_w = os.pipe()
    holder = os.getpid()
    pid = os.fork()
    if pid == 0:  # the anchor: new netns, then wait until the holder goes
        try:
            die_with_parent(holder)
            if _libc().unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
            os.write(ready_w, b"k")
            signal.pause()
        finally:
            os._exit(0)
    os.close(ready_w)
    if os.read(ready_r, 1) != b"k":
        raise RuntimeError("a node namespace could not be created (unshare(CLONE_NEWNET) failed)")
    os.close(ready_r)
    return pid


def _node_net(pid: int, veth: str, ip: str) -> None:
    _sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", str(pid))
    _sh("ip", "link", "set", veth, "master", BRIDGE, "up")
    _sh("nsenter", "--net", "--target", str(pid), "sh", "-c",
        f"ip link set lo up && ip addr add {ip} dev eth0 && ip link set eth0 up")


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[1])
    parent = int(cfg["parent"])
    die_with_parent(parent)
    _sh("ip", "link", "set", "lo", "up")
    _sh("ip", "link", "add", BRIDGE, "type", "bridge")
    _sh("ip", "addr", "add", cfg["gateway"], "dev", BRIDGE)
    _sh("ip", "link", "set", BRIDGE, "up")
    anchors: dict[str, int] = {}
    for n in cfg["nodes"]:
        pid = _anchor()
        anchors[n["name"]] = pid
        _node_net(pid, n["veth"], n["ip"])

    from harness.backends.proxy import ProxyHub
    from harness.cluster import Address

    hub = ProxyHub(name="splitbrain-netns-relay")
    for r in cfg["relays"]:
        ls = socket.socket(fileno=int(r["fd"]))
        hub.add_link((r["node"], r["port_name"]), Address(host=r["ip"], port=int(r["port"])),
                     listener=ls)
    print("ready " + json.dumps({"anchors": anchors}), flush=True)
    done = threading.Event()

    def watch() -> None:
        sys.stdin.buffer.read()  # EOF: the harness closed the pipe or died
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    hub.close()
    for pid in anchors.values():
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
