"""Quorum store speed on the local backend: ops/s and latency, healthy and partitioned.

Starts a 5-node quorum store on the local backend (every peer link through the
harness's fault-injecting proxy), drives it with C client threads for a few
seconds per variant, and prints ok ops/s and read/write latency percentiles;
then cuts one node off from all others and prints how long its writes and
reads take to come back (they must be bounded by the peer timeout, ~0.5 s per
phase, never hang).

    python bench/bench_quorum_store.py                   # both variants, 5 s each, 8 clients
    python bench/bench_quorum_store.py --seconds 10 --clients 16 --variants abd

Figures are noisy on a shared machine; this script only prints them.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness.backends import open_cluster
from harness.cluster import ClusterSpec
from harness.history import Op
from targets.quorum_store import TARGET


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def drive(cluster: object, nodes: tuple[str, ...], clients: int, seconds: float) -> dict[str, list[float]]:
    lat: dict[str, list[float]] = {"read": [], "write": [], "not-ok": []}
    lock = threading.Lock()
    stop = threading.Event()

    def worker(i: int) -> None:
        rng = random.Random(i)
        node = nodes[i % len(nodes)]
        c = TARGET.client().open(node, cluster.address(node))  # type: ignore[attr-defined]
        n = 0
        try:
            while not stop.is_set():
                n += 1
                f = "read" if rng.random() < 0.5 else "write"
                value = [rng.randrange(5), None if f == "read" else i * 10**6 + n]
                t0 = time.perf_counter()
                done = c.invoke(Op(index=0, type="invoke", process=i, f=f, value=value))
                dt = time.perf_counter() - t0
                with lock:
                    lat[f if done.type == "ok" else "not-ok"].append(dt)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return lat


def one_variant(variant: str, clients: int, seconds: float) -> None:
    nodes = tuple(f"n{i}" for i in range(1, 6))
    with tempfile.TemporaryDirectory(prefix="splitbrain-bench-qs-") as tmp:
        spec = ClusterSpec(target=TARGET, variant=variant, nodes=nodes, run_id=f"bench-qs-{variant}",
                           run_dir=Path(tmp))
        with open_cluster("local", spec) as cluster:
            _measure(cluster, nodes, variant, clients, seconds)


def _measure(cluster: object, nodes: tuple[str, ...], variant: str, clients: int, seconds: float) -> None:
    lat = drive(cluster, nodes, clients, seconds)
    ok = len(lat["read"]) + len(lat["write"])
    print(f"{variant:5} healthy  clients={clients} {ok / seconds:7.1f} ok ops/s  "
          f"read p50={pct(lat['read'], .5) * 1e3:5.1f}ms p99={pct(lat['read'], .99) * 1e3:5.1f}ms  "
          f"write p50={pct(lat['write'], .5) * 1e3:5.1f}ms p99={pct(lat['write'], .99) * 1e3:5.1f}ms  "
          f"not-ok={len(lat['not-ok'])}")
    cluster.cut([(a, b) for a in nodes for b in nodes if a != b and "n1" in (a, b)])  # type: ignore[attr-defined]
    c = TARGET.client().open("n1", cluster.address("n1"))  # type: ignore[attr-defined]
    try:
        times: dict[str, list[float]] = {"read": [], "write": []}
        outcomes: dict[str, set[str]] = {"read": set(), "write": set()}
        for i in range(10):
            for f, value in (("write", [0, -i - 1]), ("read", [0, None])):
                t0 = time.perf_counter()
                done = c.invoke(Op(index=0, type="invoke", process=0, f=f, value=value))
                times[f].append(time.perf_counter() - t0)
                outcomes[f].add(done.type)
    finally:
        c.close()
        cluster.heal()  # type: ignore[attr-defined]
    print(f"{variant:5} n1 cut off: write {statistics.mean(times['write']) * 1e3:6.1f}ms mean "
          f"(max {max(times['write']) * 1e3:6.1f}ms) -> {sorted(outcomes['write'])}; "
          f"read {statistics.mean(times['read']) * 1e3:6.1f}ms mean "
          f"(max {max(times['read']) * 1e3:6.1f}ms) -> {sorted(outcomes['read'])}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="seed,abd")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    for v in args.variants.split(","):
        one_variant(v, args.clients, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
