"""Hooks that see every test report: scrub secrets, add server evidence, collect per env.

Without -n one process does it all. Under pytest-xdist each worker tags its reports with their
env and suite, scrubs them, and sends what else the reports need when it ends; the controller
collects, writes every report file and prints the summary (see ``distribution``).
"""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import pytest

from pytest_nself_redis.live.reads import info_summary
from pytest_nself_redis.plugin.collector import ReportCollector
from pytest_nself_redis.plugin.distribution import (
    WIRE_KEY,
    fill_in_unreported_envs,
    merge_wire,
    tag,
    tag_of,
    to_wire,
)
from pytest_nself_redis.plugin.redaction import scrub_report
from pytest_nself_redis.plugin.roles import is_controller, stop_as_the_worker_did, worker_id
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
        env = self.run.item_envs.get(item.nodeid)
        if env is not None:
            tag(report, env, self.run.item_suites.get(item.nodeid, "other"))
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
        """Scrub before anyone sees it (an xdist worker sends it on after this hook)."""
        scrub_report(report, self.run.redactor)
        if self.collector is None:
            return
        found = tag_of(report) or self.collector.env_of(report.nodeid)
        if found is not None:
            self.run.used = True  # the xdist controller learns it here
            self.collector.add(report, *found)

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, nodeid: str) -> None:
        """Scrubbed in place, so the terminal (and under -n, the controller) gets it scrubbed."""
        category = warning_message.category
        if not nodeid or category is None or not issubclass(category, PromiseWarning):
            return
        message = self.run.redactor.scrub(str(warning_message.message))
        warning_message.message = PromiseWarning(message)
        if self.collector is not None:
            self.collector.add_warning(nodeid, message)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """The xdist controller collects no test, so its collector starts here (without -n it
        starts once the tests are collected)."""
        reports, config = self.run.options.reports, self.run.config
        if is_controller(config) and reports is not None and not config.option.collectonly:
            self.start(session, [])

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """An xdist worker ended: stop the run as it did, or merge what it sent (nothing, if it
        crashed)."""
        output = getattr(node, "workeroutput", {})
        stop_as_the_worker_did(output)
        wire = output.get(WIRE_KEY)
        if isinstance(wire, dict):
            merge_wire(self.run, wire, str(node.gateway.id))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        scrub_report(report, self.run.redactor)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        run = self.run
        if worker_id(run.config) is not None:
            if run.used:
                run.config.workeroutput[WIRE_KEY] = to_wire(run)  # type: ignore[attr-defined]
            return
        if self.collector is None or not run.used:
            return
        if is_controller(run.config):
            fill_in_unreported_envs(run, self.collector.envs())
        self.collector.finish(session, run.env_reports, run.attachments, run.benchmarks)

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
            if report.workers:
                each = "" if report.target_kind == "attach" else ", each with its own server"
                write(f"  ran on pytest-xdist workers {', '.join(report.workers)}{each}")
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
                where = f", {launch.worker}" if launch.worker else ""
                what = f"{launch.env} variant" if launch.variant else launch.env
                write(f"launch {what} ({launch.kind}{where}): ready in {launch.ready_seconds * 1000:.1f} ms")
        if self.collector is not None:
            for env in run.env_reports:
                for number, line in enumerate(verdict_lines(self.collector.verdict(env))):
                    write(run.redactor.scrub(line), bold=number == 0)
            for path in self.collector.written:
                write(f"report: {path}")
