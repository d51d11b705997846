"""``splitbrain convert IN OUT``: a history from JSON Lines to EDN or back.

The formats are chosen by extension (``.jsonl``, ``.edn``); see
:mod:`harness.formats`. The input is read and paired in full first, so a bad
input (unparseable, unknown ``:type``, a process invoking with an op open)
stops with its file and line and exit 3, and no output is written.

Words, as in every command: an *event* is one line of a history (an
invocation, a completion, a nemesis event); an *op* is one client operation
(an invocation with its completion, if any).
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["convert"]


@click.command(name="convert")
@click.argument("src", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dst", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
def convert(src: Path, dst: Path) -> int:
    """Convert history IN to OUT (.jsonl <-> .edn, by extension).

    \b
    Exit codes: 0 written, 3 unreadable or malformed IN (FILE:LINE: what).
    """
    from harness.formats import load_history, write_history
    from harness.history import HistoryError

    try:
        h = load_history(src)
        write_history(h, dst)
    except HistoryError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {len(h.ops)} events ({len(h.operations)} ops) to {dst}")
    return 0
