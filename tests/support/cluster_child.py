"""A harness stand-in for crash tests: open a local cluster and wait to be signalled.

Run as ``python cluster_child.py RUN_ID RUN_DIR`` (with ``SPLITBRAIN_STATE_DIR``
set); prints one JSON line ``{"pids": {node: pid}, "root": temp dir}`` once
every node is ready, then sleeps until interrupted (SIGINT) or killed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.backends.local import open_local_cluster
from harness.cluster import ClusterSpec
from tests.support.ping_target import TARGET


def main() -> None:
    run_id, run_dir = sys.argv[1], Path(sys.argv[2])
    spec = ClusterSpec(target=TARGET, variant="default", nodes=("n1", "n2", "n3"),
                       run_id=run_id, run_dir=run_dir)
    with open_local_cluster(spec) as cluster:
        pids = {n: cluster.pid(n) for n in cluster.nodes}
        print(json.dumps({"pids": pids, "root": str(cluster.log_path("n1").parent.parent)}), flush=True)
        while True:
            time.sleep(0.1)


if __name__ == "__main__":
    main()
