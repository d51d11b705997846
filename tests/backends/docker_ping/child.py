"""A harness stand-in for the Docker SIGINT test: open a cluster and wait to be signalled.

Run as ``python -m tests.backends.docker_ping.child RUN_ID RUN_DIR``; prints
one JSON line ``{"containers": [...], "network": ...}`` once every node is
ready, then sleeps until interrupted (SIGINT: the cluster must clean up).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.backends.docker import open_docker_cluster
from harness.cluster import ClusterSpec
from tests.backends.docker_ping.target import TARGET


def main() -> None:
    run_id, run_dir = sys.argv[1], Path(sys.argv[2])
    spec = ClusterSpec(target=TARGET, variant="default", nodes=("n1", "n2"),
                       run_id=run_id, run_dir=run_dir)
    with open_docker_cluster(spec) as cluster:
        print(json.dumps({"containers": [cluster.container_name(n) for n in cluster.nodes],
                          "network": cluster.network_name}), flush=True)
        while True:
            time.sleep(0.2)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
