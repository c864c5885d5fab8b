"""Gathers test reports per env during the run and writes JUnit, HTML and benchmark JSON at the end.

One collector writes every file, in the process that sees every test report: pytest itself
without -n, the pytest-xdist controller under -n (workers write nothing).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_nself_redis.plugin.benchmark_json import BenchmarkRecord, write_benchmark_document
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
            if isinstance(report.longrepr, tuple | list) and len(report.longrepr) == 3:
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


def benchmark_path(reports: Path, env: str) -> Path:
    return reports / f"benchmark-{env}.json"


class ReportCollector:
    def __init__(self, directory: Path, config: pytest.Config) -> None:
        self.directory = directory
        self.config = config
        self.phases: dict[str, _Phases] = {}
        self.html: dict[str, HtmlReport] = {}
        self.written: list[Path] = []
        self._session: pytest.Session | None = None
        self._started = time.time()

    def start(self, session: pytest.Session, envs: list[str]) -> None:
        """Begin the run's reports; an env not named here gets its HTML report when its first
        test report arrives (under -n the controller learns the envs from the workers)."""
        self._session = session
        self._started = time.time()
        for env in envs:
            self._html_of(env)

    def _html_of(self, env: str) -> HtmlReport:
        report = self.html.get(env)
        if report is None:
            assert self._session is not None, "start() comes first"
            report = HtmlReport(self.directory / f"report-{env}.html", self.config)
            report.start(self._session, f"nself Redis conformance — {env}", started=self._started)
            self.html[env] = report
        return report

    def env_of(self, nodeid: str) -> tuple[str, str] | None:
        """(env, suite) of a test already seen (a report xdist makes for a crashed worker's test
        carries neither)."""
        phases = self.phases.get(nodeid)
        return None if phases is None else (phases.env, phases.suite)

    def envs(self) -> list[str]:
        """The envs of the tests seen, in the order they first came."""
        return list(dict.fromkeys(phases.env for phases in self.phases.values()))

    def add(self, report: pytest.TestReport, env: str, suite: str) -> None:
        phases = self.phases.setdefault(report.nodeid, _Phases(env, suite))
        phases.reports.append(report)
        self._html_of(env).add(report)

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

    def finish(
        self,
        session: pytest.Session,
        env_reports: Mapping[str, EnvReport],
        attachments: Mapping[str, list[str]],
        benchmarks: Mapping[str, BenchmarkRecord],
    ) -> None:
        """Write each env's files: JUnit, HTML (with the tables and charts tests attached) and,
        when the latency suite ran, its benchmark JSON."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for env, env_report in env_reports.items():
            cases = [_case(nodeid, phases) for nodeid, phases in self.phases.items() if phases.env == env]
            junit = self.directory / f"junit-{env}.xml"
            write_junit(junit, env_report, cases)
            self.written.append(junit)
            fragments = [summary_table(self.tally(env))]
            if env_report.tls_unverified:
                fragments.insert(0, alert(env_report.tls_unverified))
            warnings = self.warnings_table(env)
            if warnings:
                fragments.append(html_table("Warnings (promises kept only in part)", warnings))
            fragments += attachments.get(env, [])
            verdicts = [self.verdict(name) for name in env_reports]
            others = verdicts if len(verdicts) > 1 else []
            opening = verdict_html(self.verdict(env), others, env_report.override)
            html = self._html_of(env)
            html.finish(session, env_report, fragments, opening)
            self.written.append(html.path)
            record = benchmarks.get(env)
            if record is not None and record.entries:
                self.written.append(write_benchmark_document(benchmark_path(self.directory, env), record))
