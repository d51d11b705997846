"""Putting data into the page safely: JSON inside ``<script>``, and plot slots.

Every figure travels as JSON in a ``<script type="application/json">`` inside
its ``<div class="sb-plot">``; one bootstrap script in the page hands each to
Plotly. JSON text is made inert for HTML by escaping ``<``, ``>``, ``&`` and the
two JavaScript line separators, so a value such as ``</script><script>…``
coming from the system under test can neither end the script element nor run.
Text that Plotly shows in hovers and labels is HTML-escaped as well
(:func:`plot_text`), since Plotly interprets a few tags in it.
"""

from __future__ import annotations

import html
import json
from typing import Any

from markupsafe import Markup

__all__ = ["plot_div", "plot_text", "script_json"]

_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                 0x2028: "\\u2028", 0x2029: "\\u2029"}


def script_json(obj: Any) -> Markup:
    """``obj`` as compact JSON that is safe verbatim inside a ``<script>`` element."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)
    for c, escaped in _JSON_ESCAPES.items():  # str.replace runs at C speed; translate goes char by char
        if chr(c) in text:
            text = text.replace(chr(c), escaped)
    return Markup(text)


def plot_text(value: Any, *, limit: int = 120) -> str:
    """A value as short, HTML-escaped text for Plotly hovers and labels."""
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return html.escape(s, quote=True)


def plot_div(figure: dict[str, Any], *, height: int = 360, css_class: str = "") -> Markup:
    """A slot rendered by the page's bootstrap script: ``figure`` is ``{data, layout}``."""
    cls = "sb-plot" + (f" {css_class}" if css_class else "")
    return Markup('<div class="{cls}" style="height:{h}px">'
                  '<script type="application/json">{json}</script></div>').format(
        cls=cls, h=int(height), json=script_json(figure))
