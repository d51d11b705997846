"""``splitbrain report RUN_DIR``: (re)write a run's report.html and the runs index.

The report is a pure function of the run folder, so this can be re-run at any
time (after upgrading splitbrain, or on a folder copied from CI). It also
rewrites ``index.html`` at the store root (the folder holding the target
folders: ``RUN_DIR/../..``) unless ``--no-index``.

Exit code: 0 when the report was written, whatever the run's verdict (the
report shows it; ``splitbrain check RUN_DIR`` exits by verdict); 3 when RUN_DIR
is not a usable run folder.
"""

from __future__ import annotations

import errno
from pathlib import Path

import click

__all__ = ["report"]


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--index/--no-index", default=True, show_default=True,
              help="Also rewrite index.html at the store root (RUN_DIR/../..).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report here instead of RUN_DIR/report.html.")
def report(run_dir: Path, index: bool, out: Path | None) -> int:
    """Render RUN_DIR/report.html from its results.json and history.jsonl.

    \b
    Exit codes: 0 written (whatever the run's verdict), 3 RUN_DIR is not a
    usable run folder.
    """
    from harness.report import RunDirError, write_index, write_report

    where = out if out is not None else run_dir / "report.html"
    try:
        path = write_report(run_dir, out=out)
        click.echo(f"report: {path}")
        if index:
            where = run_dir.resolve().parent.parent / "index.html"
            click.echo(f"index:  {write_index(where.parent)}")
    except RunDirError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:  # an output name too long, a folder not writable, a full disk
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            click.echo(f"error: {where}: the disk is full; free some space and run the report again", err=True)
            return 4
        raise click.ClickException(f"{where}: cannot write: {e.strerror}") from None
    return 0
