"""Whose Docker leftovers `clean` may remove: only those whose owner is provably gone (no engine needed)."""

from __future__ import annotations

import os
import socket

from harness.backends.docker_engine import OWNER_LABEL, RUN_DIR_LABEL, RUN_LABEL, _owner_gone, run_labels
from harness.leftovers import process_start


def test_a_live_owner_on_this_host_is_not_gone() -> None:
    assert _owner_gone(run_labels("r1")) is False


def test_a_dead_owner_on_this_host_is_gone() -> None:
    start = process_start(os.getpid())
    assert _owner_gone({RUN_LABEL: "r1", OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}:{start + 1}"})


def test_another_hosts_owner_cannot_be_checked_so_it_is_not_gone() -> None:
    # on an engine shared by several machines, this is another machine's live run as far as we can tell
    assert _owner_gone({RUN_LABEL: "r1", OWNER_LABEL: "elsewhere:1:1"}) is None
    assert _owner_gone({RUN_LABEL: "r1"}) is None  # no owner at all: nothing proves it gone either


def test_the_run_folder_is_a_label_so_clean_can_save_logs_there(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert run_labels("r1", tmp_path / "run")[RUN_DIR_LABEL] == str(tmp_path / "run")
