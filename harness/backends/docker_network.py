"""The Docker backend's network: the run's bridge, the partition rules, the link probe.

Kept apart from :mod:`harness.backends.docker` because it is the part with
kernel semantics worth reading on its own.

The bridge. Each run gets its own /24 (first from 10.213.0.0/16, at a place
picked by the run id so that parallel runs rarely race for one, then from
172.29.0.0/16 and 192.168.128.0/17), skipping every subnet an existing Docker
network or a host route (``/proc/net/route``) covers; the gateway is ``.1``.

The rules. A directed link ``(src, dst)`` is the TCP connections ``src``
opens to ``dst``, as through the local backend's proxies. Cutting it adds, in
``dst``'s namespace, a DROP of packets from ``src`` in conntrack's ORIGINAL
direction (the SYNs and the requests) and, in ``src``'s, a DROP of packets
from ``dst`` in the REPLY direction (the answers). DROP, not REJECT: a connect
or a request in flight hangs until its timeout, as under a real partition.
Connections ``dst`` opens to ``src`` are not touched, so asymmetric grudges
(a majorities ring) behave as the grudge says. Only container addresses are
matched: the harness's own clients, coming from the gateway, are never cut.

The probe. ``python3 -c`` inside ``src`` connects to ``dst``'s service port
with a timeout. A connection, or a refusal (service down), means the packets
got through; only a timeout means the link drops them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Mapping

from harness.backends.netfilter import cut_rules, iptables_script, probe_argv, probe_passed
from harness.cluster import EnvironmentError_

if TYPE_CHECKING:
    import docker

__all__ = [
    "SUBNET_POOLS", "candidate_subnets", "create_run_network", "cut_rules", "iptables_script", "probe_argv",
    "probe_passed", "used_networks",
]

SUBNET_POOLS = tuple(ipaddress.ip_network(n) for n in
                     ("10.213.0.0/16", "172.29.0.0/16", "192.168.128.0/17"))



def used_networks(api: "docker.APIClient") -> list[ipaddress.IPv4Network]:
    """Subnets of every Docker network and of every host route (``/proc/net/route``)."""
    used: list[Any] = []
    for net in api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                used.append(ipaddress.ip_network(cfg.get("Subnet", ""), strict=False))
            except ValueError:
                pass
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        f = line.split()
        if len(f) < 8:
            continue
        dest, mask = (ipaddress.IPv4Address(int(x, 16).to_bytes(4, "little")) for x in (f[1], f[7]))
        if int(mask) == 0:
            continue  # the default route
        try:
            used.append(ipaddress.ip_network(f"{dest}/{mask}", strict=False))
        except ValueError:
            pass
    return [u for u in used if isinstance(u, ipaddress.IPv4Network)]


def candidate_subnets(run_id: str) -> list[ipaddress.IPv4Network]:
    """Every /24 a run may use, in the order it tries them."""
    first = list(SUBNET_POOLS[0].subnets(new_prefix=24))
    start = int(hashlib.sha256(run_id.encode()).hexdigest(), 16) % len(first)
    rest = [s for pool in SUBNET_POOLS[1:] for s in pool.subnets(new_prefix=24)]
    return first[start:] + first[:start] + rest  # type: ignore[return-value]


def create_run_network(api: "docker.APIClient", name: str, *, labels: Mapping[str, str],
                       run_id: str, used: list[ipaddress.IPv4Network] | None = None,
                       ) -> tuple[str, ipaddress.IPv4Network]:
    """Create bridge network ``name`` on a free /24; return (network id, subnet)."""
    import docker.errors
    from docker.types import IPAMConfig, IPAMPool

    if used is None:
        used = used_networks(api)
    for subnet in candidate_subnets(run_id):
        if any(subnet.overlaps(u) for u in used):
            continue
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet),
                                                  gateway=str(next(subnet.hosts())))])
        try:
            net = api.create_network(name, driver="bridge", ipam=ipam, labels=dict(labels),
                                     check_duplicate=True)
        except docker.errors.APIError as e:
            if "overlap" in str(e).lower():
                continue  # a parallel run took it since we listed
            raise EnvironmentError_(
                f"could not create Docker network {name}: {e.explanation or e}; "
                f"run `splitbrain clean` if a crashed run left it.") from None
        return net["Id"], subnet
    raise EnvironmentError_(
        f"no free /24 left in {', '.join(map(str, SUBNET_POOLS))} for the run's network "
        f"(host routes or Docker networks cover them): remove unused Docker "
        f"networks (`splitbrain clean`, `docker network prune`).")
