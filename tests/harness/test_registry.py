"""Finding targets: built-ins, entry points, and an entry point that is broken, said in one sentence."""

from __future__ import annotations

from typing import Any

import pytest

from harness import registry


class EP:
    def __init__(self, name: str, value: str, load: Any) -> None:
        self.name, self.value, self._load = name, value, load

    def load(self) -> Any:
        return self._load()


def _with(monkeypatch: pytest.MonkeyPatch, *eps: EP) -> None:
    monkeypatch.setattr(registry, "entry_points", lambda group: list(eps))


def test_a_broken_entry_point_is_named_with_its_reason_and_hides_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> Any:
        raise ModuleNotFoundError("No module named 'mystore'")

    _with(monkeypatch, EP("my-store", "mystore.target:TARGET", boom), EP("odd", "x:Y", lambda: 42))
    assert "quorum-store" in registry.all_targets() and "my-store" not in registry.all_targets()
    with pytest.raises(ValueError, match=r"entry point my-store = 'mystore.target:TARGET' .* failed to "
                                         r"load: ModuleNotFoundError: No module named 'mystore'"):
        registry.get_target("my-store")
    with pytest.raises(ValueError, match="names a int, not a harness.Target"):
        registry.get_target("odd")
    with pytest.raises(ValueError, match="unknown target 'nope'.*did not load: my-store, odd"):
        registry.get_target("nope")
    assert registry.get_target("quorum_store").name == "quorum-store"


def test_an_entry_point_may_not_shadow_a_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace
    fake = replace(registry.get_target("quorum-store"), description="impostor")
    _with(monkeypatch, EP("qs", "evil:TARGET", lambda: fake))
    assert registry.get_target("quorum-store").description != "impostor"
    with pytest.raises(ValueError, match="which another target already is"):
        registry.get_target("qs")


def test_splitbrain_targets_says_which_entry_points_did_not_load(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    def boom() -> Any:
        raise ImportError("cannot import name 'TARGET'")

    _with(monkeypatch, EP("my-store", "mystore:TARGET", boom))
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    assert "quorum-store:" in out
    assert "not loaded: entry point my-store = 'mystore:TARGET' (group splitbrain.targets) failed to load" in out
