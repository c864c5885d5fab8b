"""HTML fragments of the reports (tables, alerts), escaped and self-contained.

Plain strings, no pytest: the per-env pytest-html report that shows them is
``pytest_nself_redis.plugin.html_report``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence


def summary_table(tally: dict[str, dict[str, int]]) -> str:
    """The per-suite summary: passed/failed/skipped per suite, as an HTML table."""
    outcomes = ("passed", "failed", "error", "skipped")
    head = "".join(f"<th>{name}</th>" for name in ("suite", *outcomes))
    body = []
    for suite, counts in sorted(tally.items()):
        cells = "".join(f"<td>{counts.get(outcome, 0)}</td>" for outcome in outcomes)
        failed = counts.get("failed", 0) + counts.get("error", 0)
        state = "failed" if failed else "passed"
        body.append(f'<tr class="nself-suite {state}"><td>{html.escape(suite)}</td>{cells}</tr>')
    return (
        '<h3>Per-suite summary</h3><table id="nself-suite-summary" class="nself-summary">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def alert(text: str) -> str:
    """A line the reader must not miss (TLS verification turned off), in red."""
    return f'<p class="nself-alert" style="color:#c00;font-weight:bold">{html.escape(text)}</p>'


def html_table(
    title: str,
    rows: Sequence[Mapping[str, object]],
    css_class: str = "nself-measurements",
    heading: str = "h3",
) -> str:
    """A titled table of measurements (columns from the first row), escaped."""
    if not rows:
        return f"<{heading}>{html.escape(title)}</{heading}><p>(no rows)</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(column, '')))}</td>" for column in columns) + "</tr>"
        for row in rows
    )
    return (
        f'<{heading}>{html.escape(title)}</{heading}><table class="{css_class}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
