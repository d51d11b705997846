"""The ping test target (:mod:`tests.support.ping_target`) as the Docker backend runs it.

Same node script, same endpoints and client; only the node command differs:
inside the container the script is ``tests/support/ping_node.py`` under the
project copy (the working directory of every service), and the image is built
from ``tests/backends/docker_ping/Dockerfile``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from harness.target import NodeContext
from tests.support.ping_target import TARGET as PING, get

__all__ = ["TARGET", "get"]


def node_command(ctx: NodeContext) -> list[str]:
    return [ctx.python, "tests/support/ping_node.py", "--name", ctx.name,
            "--host", ctx.listen.host, "--port", str(ctx.listen.port),
            "--data-dir", ctx.data_dir,
            "--peers", json.dumps({name: str(addr) for name, addr in ctx.peers.items()})]


TARGET = replace(PING, name="ping-docker", node_command=node_command,
                 source_dir=Path(__file__).resolve().parent)
