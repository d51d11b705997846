"""What the Docker backend costs, and how well runs on it find bugs.

Prints figures, asserts nothing (the lead re-runs it on a quiet machine):

* image builds: the base image cold (``--cold`` debootstraps and imports it
  again under a throwaway tag, about a minute), and the cached check a run does before every start;
* a 5-node quorum store cluster: time to bring it up (network, containers,
  services ready) and to tear it down (logs collected, everything removed);
* each fault operation on a running cluster: kill -9 + restart of a service,
  cut + a verifying probe, heal, pause + resume, container kill + restart;
* with ``--bugfinding``: ``bench/bench_bugfinding.py --backend docker``, the
  ``seed`` and ``abd`` variants for ``--seeds`` seeds of ``--time-limit`` s
  each (10 x 30 s each by default: about 12 minutes).

    python bench/bench_docker.py                   # about a minute, images cached
    python bench/bench_docker.py --cold            # plus a cold base build
    python bench/bench_docker.py --bugfinding      # plus the bug-finding benchmark
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.backends.docker import DockerCluster, open_docker_cluster  # noqa: E402
from harness.backends.docker_engine import connect  # noqa: E402
from harness.cluster import ClusterSpec  # noqa: E402
from harness.images import (  # noqa: E402
    BASE_RECIPE, build_base, ensure_base_image, ensure_target_image,
)
from harness.registry import get_target  # noqa: E402


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def row(label: str, samples: list[float]) -> None:
    if len(samples) == 1:
        print(f"  {label:<38} {samples[0]:7.2f} s")
    else:
        print(f"  {label:<38} median {statistics.median(samples):6.2f} s  "
              f"min {min(samples):6.2f}  max {max(samples):6.2f}  (n={len(samples)})")


def bench_images(cold: bool) -> None:
    client = connect()
    target = get_target("quorum-store")
    print("images")
    if cold:  # into a throwaway tag, so that the real base (and every target image) stays
        scratch = "splitbrain/base-bench:cold"
        try:
            row("base image, cold (debootstrap+import)",
                [timed(lambda: build_base(client, BASE_RECIPE, scratch))])
        finally:
            try:
                client.images.remove(scratch, force=True)
            except Exception:
                pass
    ensure_base_image(client, progress=lambda line: None)
    base = ensure_base_image(client)
    ensure_target_image(client, target, base=base)
    # median of several: a teammate's edit in the tree makes one of them a real rebuild
    row("cached check, base + target", [timed(lambda: ensure_target_image(
        client, target, base=ensure_base_image(client))) for _ in range(5)])


def bench_cluster(rounds: int, nodes: int) -> None:
    target = get_target("quorum-store")
    ups, downs = [], []
    faults: dict[str, list[float]] = {k: [] for k in (
        "kill -9 service", "start after kill (ready)", "cut 1 link + probe", "heal",
        "probe of an open link", "pause + resume", "container kill + start (ready)")}
    names = tuple(f"n{i}" for i in range(1, nodes + 1))
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="splitbrain-bench-") as tmp:
            spec = ClusterSpec(target=target, variant="abd", nodes=names,
                               run_id=f"bench{uuid.uuid4().hex[:8]}", run_dir=Path(tmp))
            t0 = time.perf_counter()
            cm = open_docker_cluster(spec)
            c: DockerCluster = cm.__enter__()
            try:
                ups.append(time.perf_counter() - t0)
                faults["kill -9 service"].append(timed(lambda: c.kill("n1")))
                faults["start after kill (ready)"].append(timed(lambda: c.start("n1")))
                faults["cut 1 link + probe"].append(timed(
                    lambda: (c.cut([("n1", "n2")]), c.reachable("n1", "n2", timeout=0.5))))
                faults["heal"].append(timed(c.heal))
                faults["probe of an open link"].append(timed(lambda: c.reachable("n1", "n2")))
                faults["pause + resume"].append(timed(lambda: (c.pause("n2"), c.resume("n2"))))
                faults["container kill + start (ready)"].append(timed(
                    lambda: (c.kill_container("n3"), c.start_container("n3"))))
            finally:
                t1 = time.perf_counter()
                cm.__exit__(None, None, None)
                downs.append(time.perf_counter() - t1)
    print(f"cluster of {nodes} quorum store nodes (warm images)")
    row("up: network, containers, ready", ups)
    row("down: logs, remove everything", downs)
    print("fault operations")
    for label, samples in faults.items():
        row(label, samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cold", action="store_true", help="rebuild the base image from scratch")
    ap.add_argument("--rounds", type=int, default=3, help="cluster up/down rounds")
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--bugfinding", action="store_true",
                    help="also run bench_bugfinding.py on the Docker backend")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=30.0)
    args = ap.parse_args()

    bench_images(args.cold)
    bench_cluster(args.rounds, args.nodes)
    if args.bugfinding:
        print("bug-finding on docker", flush=True)
        return subprocess.call([sys.executable, str(ROOT / "bench" / "bench_bugfinding.py"),
                                "--backend", "docker", "--seeds", str(args.seeds),
                                "--time-limit", str(args.time_limit)], cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
