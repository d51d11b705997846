"""Netfilter rules for backends whose nodes have their own network namespace (netns, Docker).

One piece of code builds every iptables rule a backend puts into a node's
namespace, so that a cut means the same on every backend that does it with
the kernel, and the traffic counters are read the same way.

The cut. A directed link ``(src, dst)`` is the TCP connections ``src`` opens
to ``dst``, as through the local backend's proxies. Cutting it adds, in
``dst``'s namespace, a DROP of packets from ``src`` in conntrack's ORIGINAL
direction (the SYNs and the requests) and, in ``src``'s, a DROP of packets
from ``dst`` in the REPLY direction (the answers). DROP, not REJECT: a connect
or a request in flight hangs until its timeout, as under a real partition.
Connections ``dst`` opens to ``src`` are not touched, so asymmetric grudges
(a majorities ring) behave as the grudge says. Only node addresses are
matched, on every port and protocol: the harness's own clients, coming from
the bridge's gateway, are never cut.

Probes. The harness's link probe connects from inside ``src`` from a source
port in :data:`PROBE_PORTS` (above Linux's default ephemeral range, 32768-60999,
so a node's own connections never use it). Every rule that counts skips those
ports, so the counters measure only what the nodes themselves send.

Counters (:func:`parse_counters`). With ``chains=True`` the rules live in two
chains of their own, jumped to from INPUT: ``SBN-ACCT`` counts, per source node,
every packet a node receives from another (the traffic of link ``src -> dst`` as
``dst`` sees it); ``SBN-CUT`` holds the DROP rules, each labelled with its link
by a comment, so that the packets a cut dropped can be read before a heal
flushes them (:func:`setup_script`, :func:`read_counters`). Both the netns
and the Docker backend use these chains; ``chains=False`` (rules straight in
INPUT, unlabelled) is kept for callers that want no counters.

Packet faults (:func:`packet_rules`). What a shaped node sends to the other
nodes (not to the harness's relay) goes through ``SBN-PKT`` (filter OUTPUT) and
``SBN-DUP`` (mangle OUTPUT): loss is a ``statistic`` DROP, duplication a
``statistic`` TEE to the destination itself (a second copy on the wire), and
delay and reordering an NFQUEUE served by
:mod:`harness.backends.nfqueue_delay`, for kernels without ``sch_netem``.
Every rule is labelled, so its counter says how many packets it hit. Probe
packets are shaped too: the packet nemesis measures them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Collection, Iterable, Mapping

from harness.cluster import Link

__all__ = [
    "ACCT", "CUT", "DUP", "LinkCounters", "PKT", "PROBE_PORTS", "QUEUE", "accounting_rules",
    "cut_rules", "read_counters", "setup_script", "iptables_script", "measure_argv", "merge_counters", "packet_rules",
    "parse_counters", "parse_hits", "probe_argv", "probe_passed", "unshape_rules",
]

ACCT = "SBN-ACCT"
CUT = "SBN-CUT"
PKT = "SBN-PKT"
DUP = "SBN-DUP"
QUEUE = 7
PROBE_PORTS = (61000, 65535)
_PROBE_MATCH = ["-p", "tcp", "-m", "multiport", "--ports", f"{PROBE_PORTS[0]}:{PROBE_PORTS[1]}"]

_PROBE_PY = (
    "import random,socket,sys\n"
    "s=socket.socket(); s.settimeout(float(sys.argv[3]))\n"
    "for _ in range(50):\n"
    " try: s.bind(('', random.randint(%d, %d))); break\n"
    " except OSError: pass\n"
    "try:\n s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
    "except ConnectionRefusedError: print('refused')\n"
    "except OSError as e: print('dropped', e)\n"
) % PROBE_PORTS


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkCounters:
    """What one directed link carried: packets and bytes ``src`` sent ``dst``, and packets a cut dropped."""

    packets: int = 0
    bytes: int = 0
    dropped: int = 0

    def __add__(self, other: "LinkCounters") -> "LinkCounters":
        return LinkCounters(packets=self.packets + other.packets, bytes=self.bytes + other.bytes,
                            dropped=self.dropped + other.dropped)

    def to_json(self) -> dict[str, int]:
        return {"packets": self.packets, "bytes": self.bytes, "dropped": self.dropped}


def _tag(kind: str, src: str, dst: str) -> list[str]:
    return ["-m", "comment", "--comment", f"sbn:{kind}:{src}:{dst}"]


def cut_rules(links: Collection[Link], ip_of: Mapping[str, str], *,
              chains: bool = False) -> dict[str, list[list[str]]]:
    """iptables argument lists, per node, that cut ``links`` (see the module docstring).

    ``chains``: append to ``SBN-CUT`` with counting labels (netns) instead of INPUT (Docker).
    """
    rules: dict[str, list[list[str]]] = {}
    chain = CUT if chains else "INPUT"
    for src, dst in links:
        orig = ["-s", ip_of[src], "-m", "conntrack", "--ctdir", "ORIGINAL", "-j", "DROP"]
        reply = ["-s", ip_of[dst], "-m", "conntrack", "--ctdir", "REPLY", "-j", "DROP"]
        if chains:  # probes first, uncounted as link traffic; then the nodes' own packets, labelled
            rules.setdefault(dst, []).extend([["-A", chain, *_PROBE_MATCH, *orig],
                                              ["-A", chain, *_tag("drop", src, dst), *orig]])
            rules.setdefault(src, []).extend([["-A", chain, *_PROBE_MATCH, *reply],
                                              ["-A", chain, *_tag("drop", src, dst), *reply]])
        else:
            rules.setdefault(dst, []).append(["-A", chain, *orig])
            rules.setdefault(src, []).append(["-A", chain, *reply])
    return rules


def setup_script(node: str, ip_of: Mapping[str, str]) -> str:
    """Shell making ``SBN-CUT`` and ``SBN-ACCT`` (with ``node``'s accounting rules) and their jumps.

    Idempotent: run again on a namespace that has them (a thawed container),
    it changes nothing, so the counters keep counting; on a fresh one (a
    restarted container) it makes them anew. Cut before accounting, so that a
    dropped packet is not also counted as delivered.
    """
    acct = " && ".join("iptables -w " + " ".join(_quote(a) for a in r) for r in accounting_rules(node, ip_of))
    return (f"{{ iptables -w -N {CUT} 2>/dev/null || true; }} && "
            f"{{ iptables -w -C INPUT -j {CUT} 2>/dev/null || iptables -w -I INPUT 1 -j {CUT}; }} && "
            f"if iptables -w -N {ACCT} 2>/dev/null; then {acct}; fi && "
            f"{{ iptables -w -C INPUT -j {ACCT} 2>/dev/null || iptables -w -A INPUT -j {ACCT}; }}")


def packet_rules(node: str, ip_of: Mapping[str, str], *, loss: float, duplicate: float,
                 queue: bool) -> list[list[str]]:
    """Rules shaping what ``node`` sends every other node (see the module docstring)."""
    rules: list[list[str]] = []
    for peer, ip in ip_of.items():
        if peer == node:
            continue
        if duplicate > 0:
            rules.append(["-t", "mangle", "-A", DUP, "-d", ip, "-m", "statistic", "--mode", "random",
                          "--probability", f"{duplicate:.4f}", *_tag("dup", node, peer),
                          "-j", "TEE", "--gateway", ip])
        if loss > 0:
            rules.append(["-A", PKT, "-d", ip, "-m", "statistic", "--mode", "random",
                          "--probability", f"{loss:.4f}", *_tag("loss", node, peer), "-j", "DROP"])
        if queue:
            rules.append(["-A", PKT, "-d", ip, *_tag("delay", node, peer),
                          "-j", "NFQUEUE", "--queue-num", str(QUEUE), "--queue-bypass"])
    return rules


def unshape_rules() -> list[list[str]]:
    return [["-F", PKT], ["-t", "mangle", "-F", DUP]]


_HIT = re.compile(r"^\s*(\d+)\s+\d+\s.*/\* sbn:(loss|dup|delay):([^:\s]+):([^:\s]+) \*/")


def parse_hits(listing: str) -> dict[str, int]:
    """Packets hit per packet-fault kind (``loss``, ``dup``, ``delay``) in an ``iptables -L -v -x`` listing."""
    out: dict[str, int] = {}
    for line in listing.splitlines():
        m = _HIT.match(line)
        if m:
            out[m[2]] = out.get(m[2], 0) + int(m[1])
    return out


def accounting_rules(node: str, ip_of: Mapping[str, str]) -> list[list[str]]:
    """Rules in ``node``'s namespace counting what every other node sends it (probes skipped)."""
    rules = [["-A", ACCT, *_PROBE_MATCH, "-j", "RETURN"]]
    for src, ip in ip_of.items():
        if src != node:
            rules.append(["-A", ACCT, "-s", ip, *_tag("acct", src, node)])
    return rules


_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s.*/\* sbn:(acct|drop):([^:\s]+):([^:\s]+) \*/")


def parse_counters(listing: str) -> dict[Link, LinkCounters]:
    """Counters per link from ``iptables -L <chain> -n -v -x`` output of the labelled chains."""
    out: dict[Link, LinkCounters] = {}
    for line in listing.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        pkts, nbytes, kind, src, dst = int(m[1]), int(m[2]), m[3], m[4], m[5]
        add = (LinkCounters(packets=pkts, bytes=nbytes) if kind == "acct"
               else LinkCounters(dropped=pkts))
        out[(src, dst)] = out.get((src, dst), LinkCounters()) + add
    return out


def read_counters(nodes: Iterable[str], run: Callable[[str, list[str]], tuple[int, str]],
                  chains: Iterable[str] = (ACCT, CUT)) -> dict[Link, LinkCounters]:
    """Every link's counters in ``chains`` of ``nodes``' namespaces (``run(node, argv)`` runs a command there).

    A node whose listing fails (its container is down) adds nothing.
    """
    parts = []
    for node in nodes:
        for chain in chains:
            try:
                code, out = run(node, ["iptables", "-w", "-L", chain, "-n", "-v", "-x"])
            except Exception:  # noqa: BLE001 - a node that cannot answer has nothing to count now
                continue
            if code == 0:
                parts.append(parse_counters(out))
    return merge_counters(parts)


def merge_counters(parts: Iterable[Mapping[Link, LinkCounters]]) -> dict[Link, LinkCounters]:
    out: dict[Link, LinkCounters] = {}
    for part in parts:
        for link, c in part.items():
            out[link] = out.get(link, LinkCounters()) + c
    return out


def iptables_script(rules: list[list[str]]) -> str:
    """One ``sh -c`` script applying ``rules`` in order, stopping at the first failure."""
    return " && ".join("iptables -w " + " ".join(_quote(a) for a in r) for r in rules)


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w.,:/=+@%-]+", arg) else "'" + arg.replace("'", "'\"'\"'") + "'"


_MEASURE_PY = (
    "import json,random,socket,sys,time\n"
    "host,port,n,t=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4])\n"
    "rtts=[];lost=0\n"
    "for _ in range(n):\n"
    " s=socket.socket(); s.settimeout(t)\n"
    " for _ in range(50):\n"
    "  try: s.bind(('', random.randint(%d, %d))); break\n"
    "  except OSError: pass\n"
    " t0=time.monotonic()\n"
    " try: s.connect((host,port)); rtts.append((time.monotonic()-t0)*1000)\n"
    " except ConnectionRefusedError: rtts.append((time.monotonic()-t0)*1000)\n"
    " except OSError: lost+=1\n"
    " s.close()\n"
    "print(json.dumps({'rtt_ms':rtts,'lost':lost,'sent':n}))\n"
) % PROBE_PORTS


def measure_argv(host: str, port: int, count: int, timeout: float, *, python: str = "python3") -> list[str]:
    """``count`` TCP connects to ``host:port`` from probe ports; prints JSON ``{rtt_ms, lost, sent}``."""
    return [python, "-c", _MEASURE_PY, host, str(port), str(count), str(timeout)]


def probe_argv(host: str, port: int, timeout: float, *, python: str = "python3") -> list[str]:
    """A TCP connect to ``host:port`` from a probe source port; prints open, refused or dropped."""
    return [python, "-c", _PROBE_PY, host, str(port), str(timeout)]


def probe_passed(exit_code: int, output: str) -> bool:
    """A connection, or a refusal (service down), means the packets got through; a timeout means dropped."""
    return exit_code == 0 and output.split()[:1] in (["open"], ["refused"])
