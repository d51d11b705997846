"""The Elle cycle section: the cycle drawn as a ring, its edges labelled by kind, the prose beside it.

For every cycle anomaly of :mod:`checkers.elle` (``G0`` .. ``G2-item`` and
their ``-process``/``-realtime`` variants) the anomaly's ``data`` holds
``cycle`` (the transactions T1..Tn in order, each with its history index) and
``steps`` (``from``, ``to``, ``type``: ww/wr/rw/process/realtime, and ``why``).
This section draws the transactions on a circle with an arrow per step,
labelled by its kind and coloured by it, puts Elle's "Let .. Then .." text next
to it, and the transactions as the usual operations table below. Anything
else in ``data`` goes to the generic table.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from markupsafe import Markup, escape

from checkers.api import Anomaly
from harness.report.sections.base import SectionContext

__all__ = ["ElleCycleSection", "cycle_svg"]

EDGE_COLORS = {"ww": "#6a1b9a", "wr": "#1565c0", "rw": "#c62828", "process": "#2e7d32", "realtime": "#ef6c00"}


def cycle_svg(names: Sequence[str], steps: Sequence[dict[str, Any]]) -> Markup:
    """An SVG ring of ``names`` with one labelled arrow per step (``from`` and ``to`` are names)."""
    n = max(1, len(names))
    r = 70 + 12 * n
    size = 2 * r + 90
    c = size / 2
    pos = {name: (c + r * math.sin(2 * math.pi * i / n), c - r * math.cos(2 * math.pi * i / n))
           for i, name in enumerate(names)}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:.0f}" height="{size:.0f}" '
             f'viewBox="0 0 {size:.0f} {size:.0f}" role="img" aria-label="dependency cycle">',
             '<defs>' + "".join(
                 f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
                 f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{col}"/></marker>'
                 for k, col in EDGE_COLORS.items()) + '</defs>']
    for s in steps:
        a, b = pos.get(str(s.get("from"))), pos.get(str(s.get("to")))
        if a is None or b is None:
            continue
        kind = str(s.get("type", ""))
        col = EDGE_COLORS.get(kind, "#555")
        dx, dy = b[0] - a[0], b[1] - a[1]
        d = math.hypot(dx, dy) or 1.0
        ux, uy = dx / d, dy / d
        x1, y1, x2, y2 = a[0] + 22 * ux, a[1] + 22 * uy, b[0] - 22 * ux, b[1] - 22 * uy
        # bend outwards so that a 2-cycle's two arrows do not overlap
        mx, my = (x1 + x2) / 2 - 28 * uy, (y1 + y2) / 2 + 28 * ux
        marker = f"arrow-{kind}" if kind in EDGE_COLORS else "arrow-ww"
        parts.append(f'<path d="M{x1:.1f},{y1:.1f} Q{mx:.1f},{my:.1f} {x2:.1f},{y2:.1f}" fill="none" '
                     f'stroke="{col}" stroke-width="2" marker-end="url(#{marker})"/>')
        parts.append(f'<text x="{mx:.1f}" y="{my:.1f}" font-size="12" text-anchor="middle" fill="{col}">'
                     f'{escape(kind)}</text>')
    for name, (x, y) in pos.items():
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="20" fill="#fff" stroke="#333" stroke-width="1.5"/>'
                     f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="13" text-anchor="middle">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


class ElleCycleSection:
    """A dependency cycle: ring drawing and prose side by side, then the transactions."""

    def render(self, anomaly: Anomaly, ctx: SectionContext) -> Markup:
        data = dict(anomaly.data)
        cycle = data.get("cycle") if isinstance(data.get("cycle"), list) else []
        steps = data.get("steps") if isinstance(data.get("steps"), list) else []
        names = [str(t.get("name")) for t in cycle if isinstance(t, dict)]
        parts = []
        if names and steps:
            text = escape(str(data.get("text", "")))
            parts.append(Markup('<div style="display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap">'
                                '<div>{}</div><pre style="white-space:pre-wrap;flex:1;min-width:20em">{}</pre>'
                                '</div>').format(cycle_svg(names, [s for s in steps if isinstance(s, dict)]), text))
        if anomaly.ops:
            parts.append(ctx.ops_table(list(anomaly.ops)))
        rest = {k: v for k, v in data.items() if k not in ("cycle", "steps", "text")}
        if rest or not (names and steps):
            parts.append(ctx.generic_data(data if not (names and steps) else rest))
        return Markup("").join(parts)
