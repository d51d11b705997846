"""A full disk ends a run like any other failure: exit 4, one sentence, nothing left behind.

The store is a small tmpfs (``mount -t tmpfs -o size=...``; needs root, else
skipped), so the disk really fills: while the history is being written
(``rate 0``: as fast as the nodes answer), or, with the test hold, at the
check, when only ``results.json`` and the report are left to write.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.runs import RunUnderTest

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k,mode=0755", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(disk: Path) -> None:
    """Take every free block of ``disk``."""
    fd = os.open(disk / "ballast", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def _assert_disk_full_end(run: RunUnderTest, code: int) -> dict:
    out = run.output()
    assert code == 4, out
    assert "Traceback" not in out, out
    sentences = [ln for ln in out.splitlines() if ln.startswith("splitbrain: the disk is full")]
    assert sentences, out
    assert "free some space" in sentences[0] and sentences[0].count(". ") == 0  # one sentence
    assert run.leftovers() == [], out
    rd = run.run_dir()
    assert rd is not None
    res = json.loads((rd / "results.json").read_text())
    assert res["status"] == "environment-error" and "the disk is full" in res["error"], res
    assert not (rd / "report.html").exists()
    assert not [p for p in rd.iterdir() if p.name.startswith(".")]  # no reserve, no temporary file
    return res


def test_a_disk_filled_by_the_history_ends_the_run_with_exit_4(tmp_path: Path, small_disk: Path) -> None:
    run = RunUnderTest(tmp_path, store=small_disk / "store", time_limit=30, rate=0)
    try:
        code = run.wait(timeout=120)
    finally:
        run.close()
    res = _assert_disk_full_end(run, code)
    assert res["stats"]["ops"] > 100 and res["stats"]["duration_s"] > 0
    assert "history.jsonl" in res["error"]  # the write that failed first is the one named


def test_a_disk_full_at_the_check_keeps_the_verdict_and_exits_4(tmp_path: Path, small_disk: Path) -> None:
    run = RunUnderTest(tmp_path, store=small_disk / "store", time_limit=1, hold="checking")
    try:
        assert run.wait_held() == "checking"
        _fill(small_disk)
        run.release()
        code = run.wait(timeout=120)
    finally:
        run.close()
    res = _assert_disk_full_end(run, code)
    assert res["valid"] is True  # checked, recorded thanks to the reserve; only the report is missing
    assert "while writing the report" in res["error"]


def test_a_disk_full_before_the_run_leaves_no_run_folder(tmp_path: Path, small_disk: Path) -> None:
    _fill(small_disk)
    run = RunUnderTest(tmp_path, store=small_disk / "store", time_limit=1)
    try:
        code = run.wait(timeout=120)
    finally:
        run.close()
    out = run.output()
    assert code == 4 and "Traceback" not in out, out
    assert "splitbrain: the disk is full" in out
    assert run.leftovers() == []
    left = [p for p in (small_disk / "store").rglob("*")] if (small_disk / "store").exists() else []
    assert all(p.is_dir() and not any(p.iterdir()) for p in left), left  # at most the empty store folders
