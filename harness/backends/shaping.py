"""Packet faults inside node namespaces, one mechanism for every backend that has them (netns, Docker).

A :class:`Shaper` is given, by its backend, a way to run a command in a node's
namespace (``run``) and to start and stop a long-lived one there
(:class:`Delayers`); the rest is the same on every backend:

* with ``sch_netem`` in the kernel (checked once, on a node's ``lo``): ``tc
  netem`` on the node's ``eth0``, so every packet it sends is shaped (the
  harness's client traffic too);
* without it: iptables rules of :mod:`harness.backends.netfilter` for loss
  (``statistic`` DROP) and duplication (``statistic`` TEE), and for delay and
  reordering an NFQUEUE served by :mod:`harness.backends.nfqueue_delay` in the
  node's namespace; these shape node-to-node packets only.

``hits()`` reads the rule counters, ``measure()`` times TCP connects from a
node to a closed port of another node's IP: what :mod:`nemesis.packet` uses
to verify that a shape is in effect on the nodes' IP path.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Collection, Mapping, Protocol

from harness.backends.netfilter import (
    DUP, PKT, QUEUE, iptables_script, measure_argv, packet_rules, parse_hits, unshape_rules,
)
from harness.cluster import EnvironmentError_, PacketFault

__all__ = ["Delayers", "MEASURE_PORT", "Shaper", "delayer_argv"]

MEASURE_PORT = 9  # discard: no node binds it (harness.ports numbers from 7000)

Run = Callable[[str, list[str]], tuple[int, str]]

# The packet chains and their jumps, made once per namespace whatever exists already.
_CHAINS_SH = " && ".join(
    f"{{ iptables -w {t} -N {c} 2>/dev/null || true; }} && "
    f"{{ iptables -w {t} -C OUTPUT -j {c} 2>/dev/null || iptables -w {t} -A OUTPUT -j {c}; }}"
    for t, c in (("-t filter", PKT), ("-t mangle", DUP)))


class Delayers(Protocol):
    """How a backend keeps one delayer process per node in that node's namespace."""

    def start(self, node: str, argv: list[str]) -> None:
        """Start ``argv`` in ``node``'s namespace and return once it printed ``ready``."""

    def stop(self, node: str) -> None:
        """End ``node``'s delayer (a no-op when there is none)."""


DELAYER_SCRIPT = "harness/backends/nfqueue_delay.py"
"""The delayer, run as a script from the project root (it needs only the standard library)."""


def delayer_argv(python: str, project: str, fault: PacketFault, seed: int) -> list[str]:
    return [python, f"{project}/{DELAYER_SCRIPT}", str(QUEUE), str(fault.delay_ms),
            str(fault.jitter_ms), str(fault.reorder), str(seed)]


class Shaper:
    """The packet faults of one cluster; thread-safe. ``ip_of`` maps every node to its address."""

    def __init__(self, *, ip_of: Mapping[str, str], run: Run, delayers: Delayers, python: str,
                 project: str) -> None:
        self._ips = dict(ip_of)
        self._project = project
        self._run = run
        self._delayers = delayers
        self._python = python
        self._lock = threading.Lock()
        self._shaped: dict[str, bool] = {}  # node -> has a delayer
        self._netem: bool | None = None

    def shape(self, nodes: Collection[str], fault: PacketFault) -> None:
        """Apply ``fault`` to what ``nodes`` send; replaces any earlier shape."""
        self.unshape()
        with self._lock:
            if self._has_netem():
                for name in nodes:
                    self._shaped[name] = False
                    self._ok(name, ["tc", "qdisc", "replace", "dev", "eth0", "root", *netem_args(fault)], "tc netem")
                return
            queue = bool(fault.delay_ms or fault.jitter_ms or fault.reorder)
            for i, name in enumerate(sorted(nodes)):
                self._ok(name, ["sh", "-c", _CHAINS_SH], "iptables")
                self._shaped[name] = queue
                if queue:
                    self._delayers.start(name, delayer_argv(self._python, self._project, fault, seed=i))
                rules = packet_rules(name, self._ips, loss=fault.loss, duplicate=fault.duplicate, queue=queue)
                if rules:
                    self._ok(name, ["sh", "-c", iptables_script(rules)], "iptables")

    def unshape(self) -> None:
        """Remove every packet fault (rules, qdiscs, delayers)."""
        with self._lock:
            shaped, self._shaped = self._shaped, {}
            for name, delayer in shaped.items():
                if self._netem:
                    self._run(name, ["tc", "qdisc", "del", "dev", "eth0", "root"])
                else:  # a node restarted since (a fresh container) has no chains: nothing to remove
                    self._run(name, ["sh", "-c", iptables_script(unshape_rules())])
                if delayer:
                    self._delayers.stop(name)

    def hits(self) -> dict[str, dict[str, int]]:
        """Per shaped node: packets its rules hit so far (``loss``, ``dup``, ``delay``); {} under netem."""
        with self._lock:
            out = {}
            for name in self._shaped:
                hits: dict[str, int] = {}
                for table, chain in (("filter", PKT), ("mangle", DUP)):
                    code, listing = self._run(name, ["iptables", "-w", "-t", table, "-L", chain, "-n", "-v", "-x"])
                    if code == 0:
                        hits.update(parse_hits(listing))
                out[name] = hits
            return out

    def measure(self, src: str, dst: str, *, count: int, timeout: float) -> dict[str, Any]:
        """``count`` TCP connects from ``src`` to ``dst``'s IP on :data:`MEASURE_PORT`: ``{rtt_ms, lost, sent}``.

        Nothing listens there, so each connect is one SYN and its RST over the
        same IP path and rules as the nodes' traffic, and a node's full accept
        queue is never mistaken for loss.
        """
        code, out = self._run(src, measure_argv(self._ips[dst], MEASURE_PORT, count, timeout, python=self._python))
        if code != 0:
            raise RuntimeError(f"measuring {src}->{dst} failed (exit {code}): {out.strip()}")
        return json.loads(out.strip().splitlines()[-1])

    def _has_netem(self) -> bool:
        if self._netem is None:
            first = next(iter(self._ips))
            code, _ = self._run(first, ["sh", "-c", "tc qdisc add dev lo root netem delay 1ms && "
                                                    "tc qdisc del dev lo root"])
            self._netem = code == 0
        return self._netem

    def _ok(self, node: str, argv: list[str], what: str) -> None:
        code, out = self._run(node, argv)
        if code != 0:
            raise EnvironmentError_(f"{node}: {what} failed in its namespace (exit {code}: {out.strip()}); "
                                    f"packet faults need iptables with the statistic, TEE and NFQUEUE "
                                    f"targets, or tc with sch_netem")


def netem_args(f: PacketFault) -> list[str]:
    args = ["netem"]
    if f.delay_ms or f.jitter_ms:
        args += ["delay", f"{f.delay_ms:g}ms", f"{f.jitter_ms:g}ms"]
    if f.loss:
        args += ["loss", f"{f.loss * 100:g}%"]
    if f.duplicate:
        args += ["duplicate", f"{f.duplicate * 100:g}%"]
    if f.reorder:
        args += ["reorder", f"{f.reorder * 100:g}%"]
    return args
