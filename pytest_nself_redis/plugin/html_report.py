"""Self-contained HTML per env, made by pytest-html.

pytest-html writes one report per run; a run over several envs needs one per env.
Each env gets its own pytest-html report object, fed only that env's test
reports, and given the env table and the per-suite summary before it is written.
(This drives pytest-html 4's report classes directly; the version is pinned <5.)
"""

from __future__ import annotations

import html
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


# Where the verdict goes: right after pytest-html's title (its template's ``<h1 id="title">``).
TITLE_END = "</h1>"


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

    def start(self, session: pytest.Session, title: str, started: float | None = None) -> None:
        """``started``: when the run began (time.time()), if before this report was made."""
        if started is not None:
            self._impl._suite_start_time = started
        self._impl.pytest_sessionstart(session)
        self._impl._report.title = title
        self._started = True

    def add(self, report: pytest.TestReport) -> None:
        self._impl.pytest_runtest_logreport(report)

    def finish(
        self, session: pytest.Session, env: EnvReport, extra_html: list[str], opening: str = ""
    ) -> None:
        """Write the report; ``opening`` (the verdict) goes right under the title, above all else."""
        data = self._impl._report
        data.collected_items = sum(1 for _ in data.data["tests"].values())
        data.set_data("environment", _escape_rows(env.rows()))
        data.additional_summary["prefix"].extend(extra_html)
        self._impl.pytest_sessionfinish(session)
        if opening:
            page = self.path.read_text(encoding="utf-8")
            head, title_end, rest = page.partition(TITLE_END)
            if title_end:
                self.path.write_text(head + title_end + opening + rest, encoding="utf-8")
