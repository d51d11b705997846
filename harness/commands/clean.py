"""``splitbrain clean``: remove what crashed runs left behind.

A run removes its own processes, proxies and directories when it ends, also
on Ctrl-C; only a harness that was itself killed (SIGKILL, OOM killer) leaves
anything. This command removes it:

* local runs: every run record (:mod:`harness.leftovers`) whose harness is
  dead: its node process groups are killed (after checking each pid still is
  the process that was recorded) and its temporary directories removed;
* Docker runs: ``harness.backends.docker.clean_leftovers()``, when that
  backend is installed and an engine answers; no engine means no containers,
  so nothing to clean.

Before a dead run's nodes and folders go, their logs are saved into its run
folder's ``logs/`` and its ``results.json`` is marked ``"status": "killed"``,
so that ``splitbrain check RUN_DIR`` and ``splitbrain report`` describe the
same unfinished run. Only what provably belongs to a dead harness is removed:
runs whose harness is still alive are left alone, and so are those made on
another host (a shared engine or a state dir in a shared home), whose owner
cannot be checked from here, unless ``--force``. Prints one line per thing
removed or left. Exit code 0 when everything found was removed, 4 when something
could not be (the line says what).
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli import EXIT_ENV, EXIT_VALID
from harness.leftovers import state_dir, sweep

__all__ = ["clean"]


@click.command(name="clean")
@click.option("--state-dir", "state", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where run records live (default: $SPLITBRAIN_STATE_DIR, "
                   "$XDG_STATE_HOME/splitbrain or ~/.local/state/splitbrain).")
@click.option("--no-docker", is_flag=True, help="Do not look for Docker leftovers.")
@click.option("--force", is_flag=True,
              help="Also remove leftovers whose owner cannot be checked from this host (another host's).")
def clean(state: Path | None, no_docker: bool, force: bool = False) -> int:
    """Remove processes, directories and containers left by crashed runs.

    \b
    Exit codes: 0 everything found was removed (or nothing was found),
    4 something could not be removed (the line says what).
    """
    failed = False
    removed = sweep(state, force=force)
    for r in removed:
        click.echo(str(r))
        failed |= not r.ok
    n_local = sum(1 for r in removed if r.kind not in ("record", "logs", "results") and r.verb == "removed")
    docker_part = ""  # --no-docker: Docker was not looked at, so nothing is said of it
    if not no_docker:
        ok, n_docker = _clean_docker(force)
        failed |= not ok
        docker_part = f" and {n_docker} Docker leftover(s)"
    click.echo(f"clean: removed {n_local} local leftover(s) (records in {state_dir(state) / 'runs'})"
               + docker_part)
    return EXIT_ENV if failed else EXIT_VALID


def _clean_docker(force: bool = False) -> tuple[bool, int]:
    """Run the Docker backend's cleaner if there is one; (ok, how many things removed)."""
    try:
        from harness.backends import docker as docker_backend
    except ImportError:
        return True, 0  # no Docker backend installed: nothing of ours can exist there
    cleaner = getattr(docker_backend, "clean_leftovers", None)
    if cleaner is None:
        return True, 0
    try:
        result = cleaner(force=force)
    except Exception as e:  # no engine (socket missing, daemon down) means nothing to clean
        if _is_no_engine(e):
            click.echo("docker: no engine reachable, nothing to clean")
            return True, 0
        click.echo(f"docker: could not clean leftovers: {type(e).__name__}: {e}", err=True)
        return False, 0
    items = list(result) if isinstance(result, (list, tuple, set)) else []
    gone = [i for i in items if str(i).startswith(("container ", "network ", "volume "))]
    for item in items:
        click.echo(f"docker: removed {item}" if item in gone else f"docker: {item}")
    return True, len(gone) if items else (result if isinstance(result, int) else 0)


def _is_no_engine(e: BaseException) -> bool:
    from harness.cluster import EnvironmentError_

    if isinstance(e, (EnvironmentError_, ConnectionError, FileNotFoundError)):
        return True
    try:
        from docker.errors import DockerException
    except ImportError:
        return False
    return isinstance(e, DockerException)
