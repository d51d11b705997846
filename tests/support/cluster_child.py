"""A harness stand-in for crash tests: open a local cluster and wait to be signalled.

Run as ``python cluster_child.py RUN_ID RUN_DIR [--n3-never-ready]`` (with
``SPLITBRAIN_STATE_DIR`` set); prints one JSON line ``{"pids": {node: pid},
"root": temp dir}`` once every node is ready, then sleeps until interrupted
(SIGINT) or killed. With ``--n3-never-ready``, node n3 is a process that never
answers (its argv names its data dir), so the child stays in the start phase.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.backends.local import open_local_cluster
from dataclasses import replace

from harness.cluster import ClusterSpec
from harness.target import NodeContext
from tests.support import ping_target
from tests.support.ping_target import TARGET


def _never_ready_n3(ctx: NodeContext) -> list[str]:
    if ctx.name != "n3":
        return ping_target.node_command(ctx)
    return [ctx.python, "-c", "import time; time.sleep(120)", ctx.data_dir]


def main() -> None:
    run_id, run_dir = sys.argv[1], Path(sys.argv[2])
    target = replace(TARGET, node_command=_never_ready_n3) if "--n3-never-ready" in sys.argv else TARGET
    spec = ClusterSpec(target=target, variant="default", nodes=("n1", "n2", "n3"),
                       run_id=run_id, run_dir=run_dir)
    with open_local_cluster(spec, ready_timeout=120) as cluster:
        pids = {n: cluster.pid(n) for n in cluster.nodes}
        print(json.dumps({"pids": pids, "root": str(cluster.log_path("n1").parent.parent)}), flush=True)
        while True:
            time.sleep(0.1)


if __name__ == "__main__":
    main()
