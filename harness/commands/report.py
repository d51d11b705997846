"""``splitbrain report RUN_DIR``: (re)write a run's report.html and the runs index.

The report is a pure function of the run folder, so this can be re-run at any
time (after upgrading splitbrain, or on a folder copied from CI). It also
rewrites ``index.html`` at the store root (the folder holding the target
folders: ``RUN_DIR/../..``) unless ``--no-index``.

Exit code: the run's verdict (0 valid, 1 invalid, 2 unknown), like every
command; 3 when RUN_DIR is not a usable run folder.
"""

from __future__ import annotations

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
    """Render RUN_DIR/report.html from its results.json and history.jsonl."""
    from harness.report import RunDirError, write_index, write_report
    from harness.report.render import verdict_name
    from harness.report.rundata import load_results

    try:
        path = write_report(run_dir, out=out)
        verdict = verdict_name(load_results(run_dir).get("valid"))
    except RunDirError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"report: {path}")
    if index:
        root = run_dir.resolve().parent.parent
        click.echo(f"index:  {write_index(root)}")
    return {"valid": 0, "invalid": 1, "unknown": 2}[verdict]
