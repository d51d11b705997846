"""Did the faults touch the nodes' own traffic? Per-link counters, judged after a run.

A partition probe proves that a cut link drops the probe's packets. It cannot
prove that the nodes' traffic takes that path: a node that reaches its peers
at addresses the harness did not hand out (an address it advertised itself, a
port the local proxies do not cover) is never cut, and the run would pass
while proving nothing. So every run also records what each directed link
carried, from the backend (:class:`~harness.cluster.TrafficCounters`):

* ``iptables`` (netns): packets and bytes ``dst`` received from ``src``, and the
  nodes' packets the cut rules dropped (probe packets are not counted);
* ``proxy`` (local): bytes and reads the fault proxies forwarded, and reads and
  connections a cut dropped (probe connections are not counted).

:func:`judge` turns counters and the run's fault windows into the
``stats["traffic"]`` record of ``results.json``, with a ``warning`` when
partitions were in effect but changed nothing the nodes send: no cut dropped a
single packet of theirs, or (proxy) some link carried no bytes at all.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from harness.cluster import Link, TrafficCounters
from harness.history import Op
from nemesis.windows import FaultWindow, fault_windows

__all__ = ["NO_EFFECT", "judge", "traffic_record"]

NO_EFFECT = "partitions had no observable effect on this target's traffic"


def _name(link: Link) -> str:
    return f"{link[0]}->{link[1]}"


def judge(counters: Mapping[Link, Any], windows: Sequence[FaultWindow], *, source: str) -> dict[str, Any]:
    """The ``stats["traffic"]`` record: counters per link, links cut, and the warning if any."""
    links = {_name(link): c.to_json() for link, c in sorted(counters.items())}
    cut: set[Link] = set()
    partitions = [w for w in windows if w.kind == "partition"]
    for w in partitions:
        detail = w.detail if isinstance(w.detail, Mapping) else {}
        cut.update((str(a), str(b)) for a, b in detail.get("links", []) or [])
    out: dict[str, Any] = {"source": source, "links": links, "partitions": len(partitions),
                           "cut_links": sorted(_name(l) for l in cut), "warning": None}
    if not partitions:
        return out
    dropped = sum(counters[l].dropped for l in cut if l in counters)
    silent = sorted(_name(l) for l, c in counters.items() if c.bytes == 0) if source == "proxy" else []
    if dropped == 0:
        out["warning"] = (f"{NO_EFFECT}: {len(partitions)} partition(s) cut {len(cut)} link(s), and the "
                          f"cuts dropped none of the nodes' own packets ({source} counters); the nodes "
                          f"may reach each other at addresses or ports the harness does not cut")
    elif silent:
        shown = ", ".join(silent[:6]) + (f" and {len(silent) - 6} more" if len(silent) > 6 else "")
        out["warning"] = (f"{NO_EFFECT} on {len(silent)} link(s): {shown} carried no bytes through the "
                          f"fault proxies during the run, so a cut of them changed nothing")
    return out


def traffic_record(cluster: object, events: Iterable[Op]) -> dict[str, Any] | None:
    """Read the cluster's counters (before it closes) and judge them; None when it has none."""
    if not isinstance(cluster, TrafficCounters):
        return None
    source = str(getattr(cluster, "traffic_source", "backend"))
    try:
        counters = cluster.traffic()
    except Exception as e:  # noqa: BLE001 - the verdict must not be lost to a counter read
        return {"source": source, "error": f"could not read the traffic counters: {type(e).__name__}: {e}",
                "warning": None}
    return judge(counters, fault_windows(events), source=source)
