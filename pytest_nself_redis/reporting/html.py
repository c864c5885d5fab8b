"""Self-contained HTML per env, made by pytest-html.

pytest-html writes one report per run; a run over several envs needs one per env.
Each env gets its own pytest-html report object, fed only that env's test
reports, and given the env table and the per-suite summary before it is written.
(This drives pytest-html 4's report classes directly; the version is pinned <5.)
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_nself_redis.reporting.environment import EnvReport


def _escape_rows(rows: dict[str, str | dict[str, str]]) -> dict[str, Any]:
    escaped: dict[str, Any] = {}
    for key, value in rows.items():
        if isinstance(value, dict):
            escaped[key] = {html.escape(inner): html.escape(text) for inner, text in value.items()}
        else:
            escaped[key] = html.escape(value)
    return escaped


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


class HtmlReport:
    def __init__(self, path: Path, config: pytest.Config) -> None:
        import pytest_html
        from pytest_html.report_data import ReportData
        from pytest_html.selfcontained_report import SelfContainedReport
        from pytest_html.util import _process_css, _read_template

        resources = Path(pytest_html.__file__).parent / "resources"
        template = _read_template([resources])
        css = _process_css(resources / "style.css", [])
        self.path = path
        self._impl = SelfContainedReport(str(path), config, ReportData(config), template, css)
        self._started = False

    def start(self, session: pytest.Session, title: str) -> None:
        self._impl.pytest_sessionstart(session)
        self._impl._report.title = title
        self._started = True

    def add(self, report: pytest.TestReport) -> None:
        self._impl.pytest_runtest_logreport(report)

    def finish(self, session: pytest.Session, env: EnvReport, extra_html: list[str]) -> None:
        data = self._impl._report
        data.collected_items = sum(1 for _ in data.data["tests"].values())
        data.set_data("environment", _escape_rows(env.rows()))
        data.additional_summary["prefix"].extend(extra_html)
        self._impl.pytest_sessionfinish(session)
