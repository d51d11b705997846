"""Suite-wide: skip exactly the tests that need the shared reference corpus when it is not here.

The corpus (Knossos, Porcupine and Elle histories with known verdicts) lives
beside the project, not in it (``tests/support/corpus.py`` says where). A fresh
clone without it must still pass ``bash scripts/test.sh``: a test is skipped,
with the reason, when its own code names a module-level path into the corpus
(``CORPUS``, or a ``GOOD = CORPUS / ...`` constant) and that path is missing.
Tests of the same module that do not touch the corpus still run.

At the end, one line per reason any test was skipped (``skipped N: why``),
whatever test or fixture skipped it, so a log says in a few lines what did not
run and why (pytest's own ``-rs`` prints one line per place).
"""

from __future__ import annotations

from collections import Counter
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
        if any(not p.exists() for p in _corpus_paths(module, fn.__code__.co_names)):
            item.add_marker(pytest.mark.skip(reason=NO_CORPUS))


NO_CORPUS = (f"the shared reference corpus is not on this machine ({CORPUS} is missing; "
             f"it lives beside the project, see tests/support/corpus.py)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reasons: Counter[str] = Counter()
    for rep in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(rep, "longrepr", None)
        why = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        why = why.removeprefix("Skipped: ")
        if why.startswith("got empty parameter set") and not CORPUS.is_dir():
            why = NO_CORPUS  # a test parametrized by the corpus's rows
        reasons[why] += 1
    if reasons:
        terminalreporter.write_sep("-", "skipped tests, by reason")
        for why, n in reasons.most_common():
            terminalreporter.write_line(f"skipped {n}: {why}")
