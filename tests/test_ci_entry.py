"""CI runs the README's test command and nothing else (beyond starting the engine), so a fresh
machine that the README command fails on fails CI too."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_does_no_setup_of_its_own_and_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    code = "\n".join(line for line in ci.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"apt-get|apt |pip |debootstrap|chromium|images build", code), code
    assert code.rstrip().endswith("exec bash scripts/test.sh")
    readme = (ROOT / "README.md").read_text()
    assert "```\nbash scripts/test.sh\n```" in readme


def test_the_test_command_installs_what_the_tests_need_or_says_they_are_skipped() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text()
    for tool in ("debootstrap", "chromium", "iptables"):
        assert f"need+=({tool})" in script
    assert "apt-get update -qq" in script and "the tests that need them are skipped" in script
