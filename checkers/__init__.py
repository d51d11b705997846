"""splitbrain's checkers. Import from the modules; these names are loaded lazily on first use."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {  # name -> module
    "ListAppend": "checkers.elle", "RWRegister": "checkers.elle",
    "Set": "checkers.sets", "SetFull": "checkers.sets", "Counter": "checkers.counter", "Bank": "checkers.bank",
    "Queue": "checkers.queue", "TotalQueue": "checkers.queue", "UniqueIds": "checkers.queue",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'checkers' has no attribute {name!r}")
