"""The failover timeline for the HTML report: inline SVG, no script, no network.

One row per event from the kill (0 ms) on: a bar from the kill to the event, the event's
time written beside it, the failover budget drawn as a vertical line. The row of the first
write accepted by the new primary is green within the budget and red beyond it. Every
number is also text, so the chart reads without colour and survives copy-paste.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from pytest_nself_redis.reporting.charts import GRID, INK, OVER, UNBUDGETED, WITHIN

FIRST_WRITE = "first write accepted by the new primary"
_WIDTH = 760
_LABEL = 330  # event text on the left
_PLOT = 300  # bar area
_ROW = 20
_TOP = 24
_EVENT_CHARS = 52


def _short(text: str) -> str:
    return text if len(text) <= _EVENT_CHARS else text[: _EVENT_CHARS - 1] + "…"


def timeline_svg(events: Sequence[tuple[float, str]], budget_ms: float, failover_ms: float | None) -> str:
    """An SVG timeline of ``events`` ((ms after the kill, text), in order)."""
    span = max([budget_ms, *(at for at, _ in events)]) * 1.05 or 1.0

    def x(ms: float) -> float:
        return _LABEL + _PLOT * max(0.0, ms) / span

    height = _TOP + _ROW * len(events) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'role="img" aria-label="failover timeline" style="font:11px sans-serif">',
        f'<text x="{_LABEL}" y="12" fill="{INK}">0 ms (SIGKILL)</text>',
        f'<line x1="{x(budget_ms):.1f}" y1="{_TOP - 8}" x2="{x(budget_ms):.1f}" y2="{height - 4}" '
        f'stroke="{INK}" stroke-dasharray="4 3"/>',
        f'<text x="{x(budget_ms) + 3:.1f}" y="12" fill="{INK}">budget {budget_ms:.0f} ms</text>',
    ]
    for row, (at, text) in enumerate(events):
        top = _TOP + row * _ROW
        colour = UNBUDGETED
        if text == FIRST_WRITE:
            colour = WITHIN if failover_ms is not None and failover_ms <= budget_ms else OVER
        parts += [
            f'<text x="4" y="{top + 12}" fill="{INK}">{html.escape(_short(text))}</text>',
            f'<line x1="{_LABEL}" y1="{top + 8}" x2="{_LABEL + _PLOT}" y2="{top + 8}" stroke="{GRID}"/>',
            f'<rect x="{_LABEL}" y="{top + 3}" width="{max(1.0, x(at) - _LABEL):.1f}" height="10" '
            f'fill="{colour}"/>',
            f'<text x="{x(at) + 4:.1f}" y="{top + 12}" fill="{INK}">{at:.0f} ms</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def timeline_html(
    title: str, events: Sequence[tuple[float, str]], budget_ms: float, failover_ms: float | None
) -> str:
    """The titled timeline for the report: the chart, then every event as text."""
    rows = "".join(f"<tr><td>{at:.0f}</td><td>{html.escape(text)}</td></tr>" for at, text in events)
    return (
        f"<h3>{html.escape(title)}</h3>"
        f'<div class="nself-failover">{timeline_svg(events, budget_ms, failover_ms)}</div>'
        '<table class="nself-measurements"><thead><tr><th>ms after the kill</th><th>event</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
