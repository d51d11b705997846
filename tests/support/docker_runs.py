"""A whole ``splitbrain run`` of a built-in target on the Docker backend, for the targets' Docker tests.

:func:`docker_or_skip` skips the test, with the reason, when no engine is
reachable or the target's image cannot be built here (no root, no
debootstrap); otherwise it builds (or reuses, cached by content) the base
and target images once, so the run's own time is not spent building.
:func:`run_on_docker` runs ``python -m harness.cli run TARGET --backend
docker ...`` in a child process with its own store and returns the run's
``results.json``. The containers are the harness's, labelled with the run's
id, and removed by the run itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["docker_or_skip", "run_on_docker"]


def docker_or_skip(target: str) -> None:
    """Skip unless an engine answers and ``target``'s image is built (building it if it is not)."""
    from harness.backends.docker_engine import connect
    from harness.cluster import EnvironmentError_
    from harness.images import ImageBuildError, ensure_base_image, ensure_target_image
    from harness.registry import get_target

    try:
        client = connect(timeout=10)
    except EnvironmentError_ as e:
        pytest.skip(f"no Docker engine: {e}")
    try:
        ensure_target_image(client, get_target(target), base=ensure_base_image(client))
    except ImageBuildError as e:
        pytest.skip(f"cannot build the {target} image here: {e}")
    finally:
        client.close()


def run_on_docker(target: str, variant: str, store: Path, *args: str, timeout: float = 240) -> dict[str, Any]:
    """``splitbrain run TARGET --variant VARIANT --backend docker ARGS...``; its results.json."""
    argv = [sys.executable, "-m", "harness.cli", "run", target, "--variant", variant, "--backend", "docker",
            "--store", str(store), *args]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    found = [p for p in store.glob(f"{target}/*/results.json") if not p.parent.is_symlink()]
    assert len(found) == 1, f"exit {proc.returncode}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return json.loads(found[0].read_text())
