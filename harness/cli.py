"""``splitbrain``: the command line.

Each subcommand lives in its own module under :mod:`harness.commands` and is
loaded only when used, so ``splitbrain check`` does not import Docker.

Exit codes, for every command: 0 valid, 1 anomaly found (invalid), 2 unknown,
3 usage or input error, 4 environment or harness failure.
"""

from __future__ import annotations

import importlib
import signal
import sys

import click

__all__ = ["main", "EXIT_VALID", "EXIT_INVALID", "EXIT_UNKNOWN", "EXIT_USAGE", "EXIT_ENV"]

EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN, EXIT_USAGE, EXIT_ENV = 0, 1, 2, 3, 4

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "check": "harness.commands.check:check",
    "convert": "harness.commands.convert:convert",
    "run": "harness.commands.run:run",
    "targets": "harness.commands.run:targets",
    "clean": "harness.commands.clean:clean",
    "images": "harness.commands.images:images",
    "report": "harness.commands.report:report",
    "suite": "harness.commands.suite:suite",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        mod, attr = spec.split(":")
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:  # a command not built yet
            @click.command(name=name, help=f"(unavailable: {e})")
            def _missing() -> None:
                raise click.UsageError(f"command {name!r} is not available: {e}")
            return _missing


def _version() -> str:
    """The installed distribution's version, else the source tree's ``pyproject.toml``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("splitbrain")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        try:
            with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
                return str(tomllib.load(f)["project"]["version"]) + " (source tree, not installed)"
        except (OSError, KeyError, ValueError):
            return "unknown (not installed: python3 -m pip install -e .)"


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit codes, for every command: 0 valid, 1 anomaly found (invalid), 2 unknown "
                    "(a budget ran out), 3 usage or input error, 4 environment or harness failure; "
                    "each command's --help says which it uses.")
@click.version_option(_version(), "--version", prog_name="splitbrain", message="%(prog)s %(version)s")
def cli() -> None:
    """splitbrain: Jepsen-style consistency testing and fault injection."""


def _sigterm_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C, so every scope's teardown runs (nodes, proxies, containers)."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns (and exits with) the documented exit codes."""
    if argv is None:
        _sigterm_as_interrupt()
    try:
        rv = cli.main(args=argv, prog_name="splitbrain", standalone_mode=False)
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:  # usage errors, bad parameters, bad files
        e.show()
        code = EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        code = 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = 130
    else:
        code = rv if isinstance(rv, int) else 0
    if argv is None:
        # The outcome is decided and recorded: a late Ctrl-C or SIGTERM (the second of two) must not
        # turn the exit code into "killed by a signal" while the interpreter shuts down.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
