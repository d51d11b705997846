"""One module per CLI subcommand; each returns its exit code (see harness.cli)."""
