"""``splitbrain images``: build (or list) the Docker backend's images.

``splitbrain images build [--force] [TARGET ...]`` makes the base image offline
(debootstrap, see :mod:`harness.images`) unless it exists, then each target's
image (every target with a Dockerfile when none is named). A run with
``--backend docker`` does the same on demand; building first keeps the first
run's clock honest. Exit 0 when everything is built, 3 for an unknown target,
4 when the engine or the build fails.
"""

from __future__ import annotations

import time

import click
from rich.console import Console

from harness.cli import EXIT_ENV, EXIT_VALID
from harness.cluster import EnvironmentError_

__all__ = ["images"]


@click.group()
def images() -> None:
    """Build and list the images of the Docker backend (no registry needed).

    \b
    Exit codes: 0 done, 3 unknown target, 4 no engine or the build failed
    (the message says what to do).
    """


@images.command()
@click.option("--force", is_flag=True, help="Rebuild even when an image with the same content exists.")
@click.argument("targets", nargs=-1)
def build(force: bool, targets: tuple[str, ...]) -> int:
    """Build the base image, then the image of each TARGET (default: every target with a Dockerfile).

    \b
    Exit codes: 0 built, 3 unknown target, 4 no engine or the build failed.
    """
    from harness.backends.docker_engine import connect
    from harness.images import ImageBuildError, ensure_base_image, ensure_target_image
    from harness.registry import all_targets, get_target

    console = Console(stderr=True)
    if targets:
        try:
            chosen = [get_target(t) for t in targets]
        except ValueError as e:
            raise click.UsageError(str(e)) from None
    else:
        chosen = [t for t in all_targets().values()
                  if t.source_dir is not None and (t.source_dir / "Dockerfile").is_file()]
    try:
        client = connect()
        with console.status("images") as status:
            def progress(line: str) -> None:
                status.update(f"[bold]images[/]: {line.strip()[:100]}")
            t0 = time.monotonic()
            base = ensure_base_image(client, force=force, progress=progress)
            console.print(f"{'base':<14} {base}  ({time.monotonic() - t0:.1f} s)")
            for target in chosen:
                t0 = time.monotonic()
                tag = ensure_target_image(client, target, base=base, force=force, progress=progress)
                console.print(f"{target.name:<14} {tag}  ({time.monotonic() - t0:.1f} s)")
    except (EnvironmentError_, ImageBuildError) as e:
        console.print(f"[red]error:[/] {e}")
        return EXIT_ENV
    return EXIT_VALID


@images.command(name="list")
def list_() -> int:
    """List splitbrain's images in the engine.

    \b
    Exit codes: 0 listed, 4 no engine reachable.
    """
    from harness.backends.docker_engine import connect
    from harness.images import IMAGE_LABEL

    try:
        client = connect()
    except EnvironmentError_ as e:
        Console(stderr=True).print(f"[red]error:[/] {e}")
        return EXIT_ENV
    for img in client.images.list(filters={"label": IMAGE_LABEL}):
        size = img.attrs.get("Size", 0) / 1e6
        for tag in img.tags:
            click.echo(f"{tag:<40} {size:8.1f} MB")
    return EXIT_VALID
