"""Self-contained charts for the HTML report: inline SVG, no script, no network.

One chart per command: a horizontal bar per percentile on a log scale (round trips
span microseconds to seconds), the budget drawn as a black mark on its bar, bars
green within budget and red over it. Every number is also written as text, so the
chart reads without colour and survives copy-paste.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_nself_redis.durations import format_ms
from pytest_nself_redis.reporting.html import html_table

WITHIN = "#2e7d32"
OVER = "#c62828"
UNBUDGETED = "#78909c"
UNJUDGED = "#b0bec5"
INK = "#1f2328"
GRID = "#d0d7de"

_WIDTH = 620
_LEFT = 52  # percentile labels
_PLOT_RIGHT = 330  # end of the bar area; value and budget text follow
_ROW = 26
_BAR = 14
_TOP = 8
_AXIS = 26


@dataclass(frozen=True)
class Bar:
    """One percentile of one command."""

    label: str
    value_ms: float
    budget_ms: float | None = None
    budget_source: str | None = None
    judged: bool = True

    @property
    def over(self) -> bool:
        return self.judged and self.budget_ms is not None and self.value_ms > self.budget_ms

    @property
    def colour(self) -> str:
        if self.budget_ms is None:
            return UNBUDGETED
        if not self.judged:
            return UNJUDGED
        return OVER if self.over else WITHIN


@dataclass(frozen=True)
class CommandChart:
    command: str
    description: str
    samples: int
    bars: tuple[Bar, ...]

    @property
    def over(self) -> bool:
        return any(bar.over for bar in self.bars)


def _scale(values: Sequence[float]) -> tuple[float, float]:
    """Decades that hold every value (at least two, so small spreads still read)."""
    positive = [value for value in values if value > 0] or [0.01, 1.0]
    # Some room below the smallest value, so a budget there is not drawn on the axis.
    low = 10 ** math.floor(math.log10(min(positive) * 0.7))
    high = 10 ** math.ceil(math.log10(max(positive) * 1.02))
    if high / low < 100:
        high = low * 100
    return low, high


def _x(value_ms: float, low: float, high: float) -> float:
    value = min(max(value_ms, low), high)
    return _LEFT + (math.log10(value / low) / math.log10(high / low)) * (_PLOT_RIGHT - _LEFT)


def _tick_label(value_ms: float) -> str:
    if value_ms < 1:
        return f"{value_ms * 1000:g} µs"
    if value_ms < 1000:
        return f"{value_ms:g} ms"
    return f"{value_ms / 1000:g} s"


def _values(charts: Sequence[CommandChart]) -> list[float]:
    return [
        value
        for chart in charts
        for bar in chart.bars
        for value in (bar.value_ms, bar.budget_ms)
        if value is not None
    ]


def _axis(low: float, high: float, axis_y: int) -> list[str]:
    """A grid line and a label at every decade from ``low`` to ``high``."""
    parts = []
    decade = low
    while decade <= high * 1.0001:
        x = _x(decade, low, high)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP - 4}" x2="{x:.1f}" y2="{axis_y}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{axis_y + 14}" font-size="11" text-anchor="middle" fill="{INK}">'
            f"{html.escape(_tick_label(decade))}</text>"
        )
        decade *= 10
    return parts


def _bar(command: str, bar: Bar, index: int, low: float, high: float) -> str:
    """One percentile: its label, its bar, the budget's mark and the value (with the budget)."""
    top = _TOP + index * _ROW
    middle = top + _ROW / 2
    bar_top = middle - _BAR / 2
    end = _x(bar.value_ms, low, high)
    budget_text = ""
    title = f"{command} {bar.label} = {format_ms(bar.value_ms)}"
    if bar.budget_ms is not None:
        budget_text = f" · budget {format_ms(bar.budget_ms)}"
        title += f"; budget {format_ms(bar.budget_ms)} ({bar.budget_source})"
        if not bar.judged:
            budget_text += " (not judged)"
            title += "; not judged: too few samples"
        elif bar.over:
            budget_text += " — OVER"
    parts = [
        f'<g class="nself-bar{" over" if bar.over else ""}" data-percentile="{html.escape(bar.label)}">'
        f"<title>{html.escape(title)}</title>"
        f'<text x="{_LEFT - 8}" y="{middle + 4:.1f}" font-size="12" text-anchor="end" fill="{INK}">'
        f"{html.escape(bar.label)}</text>"
        f'<rect x="{_LEFT}" y="{bar_top:.1f}" width="{max(end - _LEFT, 1.5):.1f}" height="{_BAR}" '
        f'fill="{bar.colour}" rx="2"/>'
    ]
    if bar.budget_ms is not None:
        mark = _x(bar.budget_ms, low, high)
        parts.append(
            f'<line class="nself-budget" x1="{mark:.1f}" y1="{bar_top - 4:.1f}" x2="{mark:.1f}" '
            f'y2="{bar_top + _BAR + 4:.1f}" stroke="{INK}" stroke-width="2.5"/>'
        )
    weight = ' font-weight="bold"' if bar.over else ""
    colour = OVER if bar.over else INK
    parts.append(
        f'<text x="{_PLOT_RIGHT + 8}" y="{middle + 4:.1f}" font-size="11.5" fill="{colour}"{weight}>'
        f"{html.escape(format_ms(bar.value_ms) + budget_text)}</text></g>"
    )
    return "".join(parts)


def command_chart(chart: CommandChart, scale: tuple[float, float] | None = None) -> str:
    """A ``<figure>`` with the command's percentiles against its budgets; ``scale`` (low, high
    in ms) lets several charts share one axis so they compare at a glance."""
    low, high = scale or _scale(_values([chart]))
    height = _TOP + _ROW * len(chart.bars) + _AXIS
    parts = _axis(low, high, _TOP + _ROW * len(chart.bars) + 4)
    parts += [_bar(chart.command, bar, index, low, high) for index, bar in enumerate(chart.bars)]
    state = "over budget" if chart.over else "within budget"
    label = f"{chart.command} round-trip percentiles against budget: {state}"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" '
        f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
        f'font-family="system-ui, sans-serif">{"".join(parts)}</svg>'
    )
    caption = (
        f"<strong>{html.escape(chart.command)}</strong> — {html.escape(chart.description)}; "
        f"{chart.samples} round trips"
        + (f' · <span style="color:{OVER};font-weight:bold">over budget</span>' if chart.over else "")
    )
    return (
        f'<figure class="nself-latency-chart" data-command="{html.escape(chart.command)}" '
        f'data-over-budget="{str(chart.over).lower()}" style="margin:0 0 12px 0">'
        f'<figcaption style="font-size:13px;margin-bottom:2px">{caption}</figcaption>{svg}</figure>'
    )


def legend() -> str:
    def swatch(colour: str, text: str) -> str:
        return (
            f'<span style="display:inline-block;width:12px;height:12px;background:{colour};'
            f'vertical-align:middle;margin:0 4px 0 12px"></span>{html.escape(text)}'
        )

    return (
        '<p class="nself-latency-legend" style="font-size:12px">'
        + swatch(WITHIN, "within budget")
        + swatch(OVER, "over budget")
        + swatch(UNBUDGETED, "no budget")
        + swatch(UNJUDGED, "not judged: too few samples for this percentile")
        + f'<span style="display:inline-block;width:3px;height:14px;background:{INK};'
        'vertical-align:middle;margin:0 4px 0 12px"></span>budget (log scale)</p>'
    )


def _table(title: str, rows: Sequence[Mapping[str, object]], css_class: str) -> str:
    return html_table(title, rows, css_class, heading="h4") if rows else ""


def latency_section(
    env: str,
    charts: Sequence[CommandChart],
    overhead: Sequence[str] = (),
    tables: Sequence[tuple[str, Sequence[Mapping[str, object]]]] = (),
) -> str:
    """The env's latency part of the report: sampler overhead lines, charts, then tables."""
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in overhead)
    scale = _scale(_values(charts))
    figures = "".join(command_chart(chart, scale) for chart in charts) or "<p>(no command was measured)</p>"
    extra = "".join(_table(title, rows, "nself-measurements") for title, rows in tables)
    return (
        f'<section id="nself-latency" class="nself-latency" data-env="{html.escape(env)}">'
        f"<h3>Latency — {html.escape(env)}</h3>"
        + (f'<ul class="nself-latency-overhead">{lines}</ul>' if lines else "")
        + legend()
        + '<div class="nself-latency-charts" style="display:flex;flex-wrap:wrap;column-gap:24px">'
        + f"{figures}</div>{extra}</section>"
    )
