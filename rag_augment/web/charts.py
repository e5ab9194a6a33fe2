"""Bar charts as inline SVG, drawn on the server: no chart library and no script, and they print as they look.

Colours are SVG attributes (the page's Content-Security-Policy allows no inline style); every label is escaped.
"""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#3b6ea8"
LOW = "#c0392b"


def bar_chart(rows: Sequence[tuple[str, float]], title: str, *, value_format: str = "{:,.0f}",
              max_value: float | None = None, low_below: float | None = None, width: int = 640,
              label_width: int = 220, bar_height: int = 18) -> Markup:
    """Horizontal bars, one per (label, value), in the order given. Bars under `low_below` are drawn red, so
    the thin parts (a persona with few queries, a document without coverage) stand out."""
    gap, top = 6, 26
    height = top + max(1, len(rows)) * (bar_height + gap) + 4
    top_value = max_value if max_value is not None else max((v for _, v in rows), default=0) or 1
    span = width - label_width - 70
    parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>']
    if not rows:
        parts.append(f'<text x="0" y="{top + 14}" font-size="12" fill="#666">nothing to show</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_height + gap)
        w = max(0.0, min(1.0, value / top_value)) * span if top_value else 0
        colour = LOW if low_below is not None and value < low_below else BAR
        short = _fit(label, 30)
        parts.append(f'<g><title>{escape(label)}: {escape(value_format.format(value))}</title>'
                     f'<text x="{label_width - 6}" y="{y + bar_height - 5}" font-size="12" '
                     f'text-anchor="end">{escape(short)}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{colour}"/>'
                     f'<text x="{label_width + w + 4:.1f}" y="{y + bar_height - 5}" font-size="12">'
                     f'{escape(value_format.format(value))}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _fit(label: str, n: int) -> str:
    """Keep the end of a long label: for paths ("…/travel/leave.md") the end is what tells them apart."""
    return label if len(label) <= n else "…" + label[-(n - 1):]
