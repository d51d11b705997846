"""The engine-free parts of :mod:`harness.images`: the apt mirror, the build context, the tags."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from harness.images import (
    BASE_RECIPE, ImageBuildError, base_tag, context_files, find_apt_mirror, target_tag,
)
from harness.registry import get_target


@pytest.fixture(autouse=True)
def _no_mirror_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPLITBRAIN_APT_MIRROR", raising=False)


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "other.sources").write_text(
        "Types: deb\nURIs: https://example.invalid/node\nSuites: nodistro\nComponents: main\n")
    (d / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\n")
    assert find_apt_mirror("bookworm", (tmp_path / "sources.list", d)) == "http://mirror.invalid/debian"


def test_mirror_from_one_line_list_skips_deb_src_and_options(tmp_path: Path) -> None:
    f = tmp_path / "sources.list"
    f.write_text("# deb http://commented.invalid/debian bookworm main\n"
                 "deb-src http://src.invalid/debian bookworm main\n"
                 "deb [arch=amd64 signed-by=/k.gpg] http://one.invalid/debian bookworm main\n")
    assert find_apt_mirror("bookworm", (f,)) == "http://one.invalid/debian"


def test_no_mirror_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "sources.list"
    f.write_text("deb http://one.invalid/ubuntu jammy main\n")
    with pytest.raises(ImageBuildError, match="SPLITBRAIN_APT_MIRROR"):
        find_apt_mirror("bookworm", (f,))
    monkeypatch.setenv("SPLITBRAIN_APT_MIRROR", "http://override.invalid/debian")
    assert find_apt_mirror("bookworm", (f,)) == "http://override.invalid/debian"


def test_base_tag_follows_the_recipe(tmp_path: Path) -> None:
    script = tmp_path / "debootstrap.sh"
    script.write_bytes(BASE_RECIPE.script.read_bytes())
    same = replace(BASE_RECIPE, script=script)
    assert base_tag(same) == base_tag()
    assert base_tag(replace(same, packages=(*same.packages, "curl"))) != base_tag()
    assert base_tag(replace(same, suite="trixie")) != base_tag()
    script.write_text(script.read_text() + "\n# changed\n")
    assert base_tag(same) != base_tag()


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    for rel in ("pkg/a.py", "pkg/sub/b.py", "pkg/__pycache__/a.cpython-311.pyc", "pkg/c.pyc",
                "other/x.txt", "tgt/node.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / "tgt" / "Dockerfile").write_text(
        "ARG BASE=python:3.11-slim\nFROM ${BASE}\n# COPY nothing/ here\n"
        "COPY --chown=0:0 pkg \\\n  /opt/pkg\nCOPY [\"tgt/node.py\", \"/opt/tgt/\"]\n"
        "COPY --from=builder /x /y\nRUN true\n")
    return tmp_path


def test_context_holds_only_what_is_copied(tmp_path: Path) -> None:
    root = _project(tmp_path)
    files = context_files(root / "tgt" / "Dockerfile", root)
    assert files == [Path("pkg/a.py"), Path("pkg/sub/b.py"), Path("tgt/node.py")]


def test_context_names_a_missing_source(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "tgt" / "Dockerfile").write_text("FROM x\nCOPY nope /opt/\n")
    with pytest.raises(ImageBuildError, match="copies 'nope'"):
        context_files(root / "tgt" / "Dockerfile", root)


def test_target_tag_changes_with_copied_code_only(tmp_path: Path) -> None:
    root = _project(tmp_path)
    target = replace(get_target("quorum-store"), name="My Target", source_dir=root / "tgt")
    tag = target_tag(target, "splitbrain/base:1")
    assert tag.startswith("splitbrain/my-target:")
    assert target_tag(target, "splitbrain/base:1") == tag
    (root / "other" / "x.txt").write_text("not copied")
    (root / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_text("cache")
    assert target_tag(target, "splitbrain/base:1") == tag
    assert target_tag(target, "splitbrain/base:2") != tag
    (root / "pkg" / "sub" / "b.py").write_text("changed")
    assert target_tag(target, "splitbrain/base:1") != tag


def test_target_without_dockerfile_says_so(tmp_path: Path) -> None:
    target = replace(get_target("quorum-store"), source_dir=tmp_path)
    with pytest.raises(ImageBuildError, match="no Dockerfile.*--backend local"):
        target_tag(target, "b")


def test_shipped_dockerfiles_parse() -> None:
    qs = get_target("quorum-store")
    assert qs.source_dir is not None
    files = context_files(Path(qs.source_dir) / "Dockerfile")
    assert Path("targets/quorum_store/server.py") in files
    assert Path("harness/target.py") in files
    assert not any("__pycache__" in str(f) or f.suffix == ".pyc" for f in files)
    assert os.access(BASE_RECIPE.script, os.R_OK)


def test_images_build_of_an_unknown_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["images", "build", "no-such-target"]) == 3
    assert "unknown target 'no-such-target'" in capsys.readouterr().err
