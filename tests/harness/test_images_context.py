"""``Target.build_context``: an outside target's Docker build context is its own folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.images import ImageBuildError, context_files, target_tag
from harness.registry import get_target


def _outside(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='outer'\n")
    folder = tmp_path / "mytarget"
    folder.mkdir()
    (folder / "node.py").write_text("print('node')\n")
    (folder / "Dockerfile").write_text("ARG BASE=python:3.11-slim\nFROM ${BASE}\nCOPY node.py /opt/node.py\n")
    return folder


def test_copy_paths_are_relative_to_the_build_context(tmp_path: Path) -> None:
    folder = _outside(tmp_path)
    target = replace(get_target("quorum-store"), name="mine", source_dir=folder, build_context=folder)
    assert context_files(folder / "Dockerfile", folder) == [Path("node.py")]
    tag = target_tag(target, "base:1")
    (folder / "node.py").write_text("print('changed')\n")
    assert target_tag(target, "base:1") != tag
    # without build_context the context is the nearest pyproject's folder, where node.py is not
    with pytest.raises(ImageBuildError, match="node.py"):
        target_tag(replace(target, build_context=None), "base:1")


def test_a_build_context_must_hold_the_dockerfile(tmp_path: Path) -> None:
    folder = _outside(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = replace(get_target("quorum-store"), name="mine", source_dir=folder, build_context=elsewhere)
    with pytest.raises(ImageBuildError, match="must be a folder holding its Dockerfile"):
        target_tag(target, "base:1")
