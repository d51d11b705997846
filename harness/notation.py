"""One notation for operation values, wherever people read them: EDN, as Jepsen prints them.

``[0 877]`` for an independent tuple, ``nil`` for nothing, ``{:x 1}``-style
maps as EDN maps. The CLI, ``results.json``'s prose and the HTML report all
go through :func:`value_text`, so a value looks the same in each of them
(issue 8: ``read [0 877]`` next to ``[0, null]`` made readers wonder whether
these were different values).
"""

from __future__ import annotations

from typing import Any

from harness.edn import dumps

__all__ = ["value_text", "seconds_text"]


def value_text(v: Any, limit: int = 60) -> str:
    """``v`` in EDN, cut to ``limit`` characters with an ellipsis (``repr`` for what EDN cannot write)."""
    try:
        s = dumps(v)
    except (ValueError, TypeError):
        s = repr(v)
    return s if len(s) <= limit else s[: max(1, limit - 3)] + "..."


def seconds_text(ns: int | None) -> str:
    """A history time (ns since the run began) as ``19.088 s``; ``?`` when the history has no times."""
    return "?" if ns is None else f"{ns / 1e9:.3f} s"
