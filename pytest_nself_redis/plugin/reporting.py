"""Hooks that see every test report: scrub secrets, add server evidence, collect per env."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import pytest

from pytest_nself_redis.live.reads import info_summary
from pytest_nself_redis.plugin.collector import ReportCollector
from pytest_nself_redis.plugin.redaction import scrub_report
from pytest_nself_redis.plugin.run import NselfRun
from pytest_nself_redis.plugin.verdicts import PromiseWarning, collecting, result_properties
from pytest_nself_redis.remedy import Remedy
from pytest_nself_redis.reporting.verdict import verdict_lines

REMEDY_SECTION = "nself-redis remediation"


class HarnessReporting:
    """Registered once per pytest config, so report hooks know their run."""

    def __init__(self, run: NselfRun) -> None:
        self.run = run
        self.collector: ReportCollector | None = None

    def start(self, session: pytest.Session, envs: list[str]) -> None:
        assert self.run.options.reports is not None
        self.collector = ReportCollector(self.run.options.reports, self.run.config)
        self.collector.start(session, envs)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, None]:
        """The check the test ran and its remedy, in the test's properties (JUnit, HTML, verdict)."""
        with collecting() as results:
            yield
        item.user_properties.extend(result_properties(results))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.when != "call":
            return
        remedy = Remedy.from_properties(dict(report.user_properties))
        if remedy is not None:
            report.sections.append((REMEDY_SECTION, remedy.line()))
        if not report.failed:
            return
        target = getattr(item, "funcargs", {}).get("nself_target")
        if target is None:
            return
        report.sections.append(("nself-redis server log (tail)", target.log_tail(30) or "(empty)"))
        try:
            summary = info_summary(target.client(socket_timeout=2.0))
        except Exception as error:
            summary = f"(INFO unavailable: {error})"
        report.sections.append(("nself-redis INFO summary", summary))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        scrub_report(report, self.run.redactor)
        env = self.run.item_envs.get(report.nodeid)
        if env is not None and self.collector is not None:
            self.collector.add(report, env, self.run.item_suites.get(report.nodeid, "other"))

    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, nodeid: str) -> None:
        if self.collector is not None and nodeid and issubclass(warning_message.category, PromiseWarning):
            self.collector.add_warning(nodeid, self.run.redactor.scrub(str(warning_message.message)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        scrub_report(report, self.run.redactor)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.collector is not None and self.run.used:
            self.collector.finish(session, self.run.env_reports)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        run = self.run
        if not run.used or run.config.option.collectonly:
            return
        write = terminalreporter.write_line
        terminalreporter.section("nself-redis")
        for env, report in run.env_reports.items():
            write(
                f"{env}: {run.redactor.scrub(report.target)} · Redis {report.server_version} · "
                f"{report.deployment} · nself {report.generation}"
            )
            if report.tls_unverified:
                write(f"  {report.tls_unverified}", red=True, bold=True)
            for warning in report.warnings:
                write(f"  warning: {run.redactor.scrub(warning)}", yellow=True)
            if report.container_health:
                healthy = report.container_health.startswith("healthy (")
                write(f"  container health: {report.container_health}", yellow=not healthy)
            unreproduced = report.unreproduced_line()
            if unreproduced:
                write(f"  {unreproduced}", yellow=True)
            for line in report.measured:
                write(f"  {line}")
        # One line per launch (variants included: dozens in a full run) is detail for -v.
        for launch in run.launches if run.config.get_verbosity() > 0 else ():
            if launch.ready_seconds is not None:
                write(f"launch {launch.env} ({launch.kind}): ready in {launch.ready_seconds * 1000:.1f} ms")
        if self.collector is not None:
            for env in run.env_reports:
                for number, line in enumerate(verdict_lines(self.collector.verdict(env))):
                    write(run.redactor.scrub(line), bold=number == 0)
            for path in self.collector.written:
                write(f"report: {path}")
