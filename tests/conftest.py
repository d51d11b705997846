"""Suite-wide: skip exactly the tests that need the shared reference corpus when it is not here.

The corpus (Knossos, Porcupine and Elle histories with known verdicts) lives
beside the project, not in it (``tests/support/corpus.py`` says where). A fresh
clone without it must still pass ``bash scripts/test.sh``: a test is skipped,
with the reason, when its own code names a module-level path into the corpus
(``CORPUS``, or a ``GOOD = CORPUS / ...`` constant) and that path is missing.
Tests of the same module that do not touch the corpus still run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.corpus import CORPUS


def _corpus_paths(module: object, names: tuple[str, ...]) -> list[Path]:
    out = []
    for name in names:
        value = getattr(module, name, None)
        if isinstance(value, Path) and (value == CORPUS or CORPUS in value.parents
                                        or value.name == "corpus" or "corpus" in value.parts):
            out.append(value)
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fn = getattr(item, "function", None)
        module = getattr(item, "module", None)
        if fn is None or module is None:
            continue
        missing = [p for p in _corpus_paths(module, fn.__code__.co_names) if not p.exists()]
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"the shared reference corpus is not on this machine ({missing[0]} is missing; "
                       f"it lives beside the project, see tests/support/corpus.py)"))
