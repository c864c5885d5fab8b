"""Gathers test reports per env during the run and writes JUnit and HTML at the end."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_nself_redis.plugin.html_report import HtmlReport
from pytest_nself_redis.plugin.verdicts import CHECK_PROPERTY
from pytest_nself_redis.remedy import Remedy
from pytest_nself_redis.reporting.environment import EnvReport
from pytest_nself_redis.reporting.html import alert, html_table, summary_table
from pytest_nself_redis.reporting.junit import CaseRecord, write_junit
from pytest_nself_redis.reporting.verdict import FAILED, EnvVerdict, Finding, verdict_html


@dataclass
class _Phases:
    env: str
    suite: str
    reports: list[pytest.TestReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _case(nodeid: str, phases: _Phases) -> CaseRecord:
    module, _, name = nodeid.rpartition("::")
    classname = module.replace("/", ".").removesuffix(".py").replace("::", ".")
    outcome, message, details = "passed", "", ""
    output: list[str] = []
    duration = 0.0
    for report in phases.reports:
        duration += report.duration
        output.extend(f"--- {title} ---\n{content}" for title, content in report.sections)
        if report.failed and outcome not in ("failed", "error"):
            outcome = "failed" if report.when == "call" else "error"
            details = report.longreprtext
            message = details.strip().splitlines()[-1] if details.strip() else "failed"
        elif report.skipped and outcome == "passed":
            outcome = "skipped"
            if isinstance(report.longrepr, tuple):
                message = str(report.longrepr[2])
            details = message
    properties = {name: str(value) for report in phases.reports for name, value in report.user_properties}
    for number, warning in enumerate(phases.warnings, start=1):
        properties[f"warning.{number}"] = warning
        output.append(f"--- warning ---\n{warning}")
    return CaseRecord(
        classname=classname,
        name=name or nodeid,
        suite=phases.suite,
        outcome=outcome,
        duration=duration,
        message=message,
        details=details,
        system_out="\n".join(output),
        properties=properties,
    )


class ReportCollector:
    def __init__(self, directory: Path, config: pytest.Config) -> None:
        self.directory = directory
        self.config = config
        self.phases: dict[str, _Phases] = {}
        self.html: dict[str, HtmlReport] = {}
        self.extra_html: dict[str, list[str]] = defaultdict(list)
        self.written: list[Path] = []

    def start(self, session: pytest.Session, envs: list[str]) -> None:
        for env in envs:
            report = HtmlReport(self.directory / f"report-{env}.html", self.config)
            report.start(session, f"nself Redis conformance — {env}")
            self.html[env] = report

    def add(self, report: pytest.TestReport, env: str, suite: str) -> None:
        phases = self.phases.setdefault(report.nodeid, _Phases(env, suite))
        phases.reports.append(report)
        if env in self.html:
            self.html[env].add(report)

    def add_warning(self, nodeid: str, message: str) -> None:
        """A promise kept only in part (PromiseWarning): in the test's JUnit case and the HTML."""
        phases = self.phases.get(nodeid)
        if phases is not None:
            phases.warnings.append(message)

    def warnings_table(self, env: str) -> list[dict[str, object]]:
        return [
            {"test": nodeid.rpartition("::")[2], "warning": warning}
            for nodeid, phases in self.phases.items()
            if phases.env == env
            for warning in phases.warnings
        ]

    def add_html(self, env: str, fragment: str) -> None:
        """Extra HTML for an env's summary (charts, tables); must be self-contained."""
        self.extra_html[env].append(fragment)

    def add_table(self, env: str, title: str, rows: list[dict[str, object]]) -> None:
        self.add_html(env, html_table(title, rows))

    def tally(self, env: str) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for nodeid, phases in self.phases.items():
            if phases.env == env:
                counts[phases.suite][_case(nodeid, phases).outcome] += 1
        return {suite: dict(values) for suite, values in counts.items()}

    def verdict(self, env: str) -> EnvVerdict:
        """The env's verdict: its counts, and each failed or warned test with its remedy."""
        findings = []
        for nodeid, phases in self.phases.items():
            if phases.env != env:
                continue
            case = _case(nodeid, phases)
            if case.outcome not in FAILED and not phases.warnings:
                continue
            properties = {name: value for report in phases.reports for name, value in report.user_properties}
            message = case.message if case.outcome in FAILED else phases.warnings[0]
            findings.append(
                Finding(
                    nodeid,
                    phases.suite,
                    case.outcome if case.outcome in FAILED else "warning",
                    message.strip().splitlines()[0] if message.strip() else case.outcome,
                    str(properties[CHECK_PROPERTY]) if CHECK_PROPERTY in properties else None,
                    Remedy.from_properties(properties),
                )
            )
        counts = {
            outcome: sum(suite.get(outcome, 0) for suite in self.tally(env).values())
            for outcome in ("passed", "failed", "error", "skipped")
        }
        return EnvVerdict(env, counts, findings)

    def finish(self, session: pytest.Session, env_reports: dict[str, EnvReport]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for env, env_report in env_reports.items():
            cases = [_case(nodeid, phases) for nodeid, phases in self.phases.items() if phases.env == env]
            junit = self.directory / f"junit-{env}.xml"
            write_junit(junit, env_report, cases)
            self.written.append(junit)
            if env in self.html:
                fragments = [summary_table(self.tally(env))]
                if env_report.tls_unverified:
                    fragments.insert(0, alert(env_report.tls_unverified))
                warnings = self.warnings_table(env)
                if warnings:
                    fragments.append(html_table("Warnings (promises kept only in part)", warnings))
                fragments += self.extra_html[env]
                verdicts = [self.verdict(name) for name in env_reports]
                others = verdicts if len(verdicts) > 1 else []
                opening = verdict_html(self.verdict(env), others, env_report.override)
                self.html[env].finish(session, env_report, fragments, opening)
                self.written.append(self.html[env].path)
