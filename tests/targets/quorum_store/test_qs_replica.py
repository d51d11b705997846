"""The SQLite replica: version rules per mode, and what survives a reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from targets.quorum_store.replica import ZERO, Replica


def test_a_key_never_written_reads_as_nil_at_version_zero(tmp_path: Path) -> None:
    r = Replica(str(tmp_path), mode="max")
    s = r.get("k")
    assert s.value is None and s.version == ZERO
    r.close()


def test_max_mode_keeps_the_higher_version_only(tmp_path: Path) -> None:
    r = Replica(str(tmp_path), mode="max")
    assert r.put("k", 1, (2, "n1"))
    assert not r.put("k", 9, (1, "n5"))          # lower counter: refused
    assert not r.put("k", 9, (2, "n1"))          # equal: refused (an idempotent re-store)
    assert r.put("k", 3, (2, "n2"))              # same counter, higher node: taken
    s = r.get("k")
    assert (s.value, s.version) == (3, (2, "n2"))
    r.close()


def test_overwrite_mode_stores_an_older_version_over_a_newer_one(tmp_path: Path) -> None:
    # The guide's node.write: the flaw that turns a late repair into a lost update.
    r = Replica(str(tmp_path), mode="overwrite")
    r.put("k", "new", (2000, ""))
    assert r.put("k", "old", (1000, ""))
    s = r.get("k")
    assert (s.value, s.version) == ("old", (1000, ""))
    r.close()


def test_values_and_versions_survive_a_reopen(tmp_path: Path) -> None:
    r = Replica(str(tmp_path), mode="max")
    r.put("a", {"x": [1, None]}, (7, "n3"))
    r.put("b", None, (1, "n1"))
    r.close()
    r2 = Replica(str(tmp_path), mode="max")
    assert (r2.get("a").value, r2.get("a").version) == ({"x": [1, None]}, (7, "n3"))
    assert (r2.get("b").value, r2.get("b").version) == (None, (1, "n1"))
    r2.close()


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="overwrite"):
        Replica(str(tmp_path), mode="lww")


def test_incarnations_count_starts_durably(tmp_path: Path) -> None:
    r = Replica(str(tmp_path), mode="max")
    assert r.next_incarnation() == 1
    r.close()
    r = Replica(str(tmp_path), mode="max")
    assert r.next_incarnation() == 2
    r.close()
