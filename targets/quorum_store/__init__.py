"""The quorum store target: the bundled guide's quorum replication design, and ABD.

The guide's ``QuorumStore`` (its section 4.4, "quorum replication"): N
replicas, a write succeeds once W of them acknowledge it, a read asks R and
keeps the newest value, last write wins by wall-clock timestamp.

N replicas, each an HTTP service (:mod:`targets.quorum_store.server`) keeping
key -> (value, version) durably in SQLite; any node coordinates a client's
request with its peers over the (faultable) network. Variants:

* ``seed``: the guide's algorithm as written (wall-clock versions, W acks or
  "fail", unconditional replica stores, asynchronous read repair). Not
  linearizable; the harness should say so within a 30 s run with faults.
* ``abd``:  multi-writer ABD, a linearizable register.
* ``vclock``: the guide's §4.3 vector clocks (:mod:`targets.quorum_store.vclock`,
  :mod:`targets.quorum_store.vclock_node`): each write increments the
  coordinator's clock entry, replicas compare clocks and merge ``CONCURRENT``
  versions (lists by union, as the guide's shopping cart; other values kept
  as siblings, returned to the reader), reads merge R answers and repair.

Target options (``--option K=V``), passed to every node: ``w``, ``r`` (quorum
sizes, default N//2+1), ``peer_timeout`` (seconds per peer request, default
0.3); to the workload: ``keys``, ``hot``, ``read_fraction``
(see :mod:`targets.quorum_store.workload`).

Workloads (``--workload``): ``register`` (default; linearizability per key),
and the data types of :mod:`targets.quorum_store.datatypes`: ``set``
(set-full per key), ``counter``, ``list-append`` (Elle). On ``seed`` and
``abd`` their adds are client read-modify-writes; on ``vclock`` they are sent
as operations the coordinator merges. Their options: ``keys`` (default 3),
``read_fraction`` (set 0.2, else 0.5), ``max_writes_per_key`` (list-append,
64). E.g. ``splitbrain run quorum-store --workload set --variant seed
--concurrency 20 --nemesis partition --time-limit 30``.

Importing this package needs only the standard library and ``harness``'s
protocol modules, so a node can start in a container with only python3.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from harness.cluster import Address
from harness.node.http import ready_as
from harness.target import NodeContext, Target, WorkloadContext
from targets.quorum_store.client import QuorumStoreClient
from targets.quorum_store.datatypes import COUNTER, LIST_APPEND, SET
from targets.quorum_store.workload import REGISTER

__all__ = ["TARGET", "clock", "node_command", "ready"]

_NODE_OPTIONS = {"w": "--w", "r": "--r", "peer_timeout": "--peer-timeout"}


def node_command(ctx: NodeContext) -> list[str]:
    """argv for one node: ``python -m targets.quorum_store.server ...``."""
    argv = [ctx.python, "-m", "targets.quorum_store.server",
            "--node", ctx.name, "--host", ctx.listen.host, "--port", str(ctx.listen.port),
            "--data", ctx.data_dir, "--variant", ctx.variant]
    for peer in sorted(ctx.peers):
        a = ctx.peers[peer]
        argv += ["--peer", f"{peer}={a.host}:{a.port}"]
    for opt, flag in _NODE_OPTIONS.items():
        if opt in ctx.options:
            argv += [flag, str(ctx.options[opt])]
    if _yes(ctx.options.get("weak_quorum")):
        argv.append("--weak-quorum")
    return argv


def _yes(v: str | None) -> bool:
    return (v or "0").strip().lower() not in ("", "0", "false", "no")


ready = ready_as(None)
"""One probe of ``GET /health``: True when the node answers ``{"status": "ok"}`` (its nodes have one role)."""


def clock(address: Address) -> float:
    """The node's wall clock (``GET /time``), seconds since the epoch; ``OSError`` when it does not answer."""
    conn = http.client.HTTPConnection(address.host, address.port, timeout=1.0)
    try:
        conn.request("GET", "/time")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        if resp.status != 200 or not isinstance(body.get("time"), (int, float)):
            raise OSError(f"GET /time answered {resp.status} {body!r}")
        return float(body["time"])
    except (http.client.HTTPException, ValueError) as e:
        raise OSError(f"GET /time failed: {e}") from e
    finally:
        conn.close()


def _number(ctx: WorkloadContext, name: str, kind: type, lo: float, hi: float | None, what: str) -> None:
    raw = ctx.options.get(name)
    if raw is None:
        return
    try:
        v = kind(raw)
    except ValueError:
        raise ValueError(f"--option {name}={raw}: {what}, not {raw!r}") from None
    if v < lo or (hi is not None and v > hi):
        raise ValueError(f"--option {name}={raw}: {what}")


def check_options(ctx: WorkloadContext) -> None:
    """Refuse values the nodes or the workload would refuse, before anything starts."""
    n = len(ctx.nodes)
    for q, what in (("w", "acks a write needs"), ("r", "replies a read needs")):
        _number(ctx, q, int, 1, n, f"the {what}, a whole number from 1 to N = {n}")
    quorum = {q: int(ctx.options.get(q, n // 2 + 1)) for q in ("w", "r")}
    if ctx.variant == "abd" and quorum["w"] + quorum["r"] <= n and not _yes(ctx.options.get("weak_quorum")):
        raise ValueError(f"--option w={quorum['w']}, r={quorum['r']}: abd needs W + R > N = {n} to be "
                         f"linearizable; raise w or r, or add --option weak_quorum=1 to run it anyway")
    for t in ("peer_timeout", "client_timeout"):
        _number(ctx, t, float, 1e-3, None, "seconds, a number > 0")
    _number(ctx, "keys", int, 1, None, "a whole number of keys, at least 1")
    _number(ctx, "max_writes_per_key", int, 1, None, "a whole number of appends, at least 1")
    for f in ("hot", "read_fraction"):
        _number(ctx, f, float, 0.0, 1.0, "a fraction from 0 to 1")


TARGET = Target(
    name="quorum-store",
    description="N-replica key-value store over HTTP + SQLite: the quorum replication design of the bundled "
                "distributed-architecture guide (N replicas, W/R quorums, last write wins by wall clock)",
    variants={
        "seed": "the guide's quorum store as written: wall-clock versions, W acks else fail, "
                "unconditional replica stores, async read repair (not linearizable)",
        "abd": "multi-writer ABD: quorum version query, (counter+1, node) versions, "
               "read write-back (linearizable)",
        "vclock": "the guide's section 4.3 vector clocks on the quorum store: concurrent versions merged "
                  "(sets and lists by union, register siblings kept and returned), read repair; set adds "
                  "sent as operations",
    },
    default_variant="seed",
    node_command=node_command,
    ready=ready,
    clock=clock,
    check_options=check_options,
    client=QuorumStoreClient,
    workloads={"register": REGISTER, "set": SET, "counter": COUNTER, "list-append": LIST_APPEND},
    default_workload="register",
    default_nodes=5,
    source_dir=Path(__file__).parent,
    options={
        "w": "write quorum: acks a write needs (default N//2+1)",
        "r": "read quorum: replies a read needs (default N//2+1)",
        "weak_quorum": "1: let abd run with W + R <= N (quorums need not intersect; default 0: refused)",
        "peer_timeout": "seconds a coordinator waits for each peer (default 0.3)",
        "client_timeout": "seconds a client waits for its node (default 1.5)",
        "keys": "how many keys the workload uses (default 100; set, counter, list-append 3)",
        "hot": "fraction of ops on the first key (default 0.8)",
        "read_fraction": "fraction of ops that are reads (default 0.5; set 0.2)",
        "max_writes_per_key": "list-append: appends a key takes before it is retired (default 64)",
    },
)
