"""monitoring: the monitoring bundle's metrics (redis_exporter names) derived from INFO,
counters that move with what the test does, and the bundle's alert rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.checks.monitoring import METRICS
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.monitoring


@pytest.fixture
def metrics_table(nself_report: ReportAttachments) -> Callable[[CheckResult], None]:
    """The derived metrics, with the INFO field each comes from, as a table in the env's report."""

    def table(result: CheckResult) -> None:
        if isinstance(result.measured, dict):
            nself_report.table(
                "Monitoring metrics (redis_exporter names, from INFO)",
                [
                    {"metric": name, "INFO field": METRICS.get(name, "PING"), "value": value}
                    for name, value in result.measured.items()
                ],
            )

    return table


def test_every_metric_is_derived(
    nself_checks: CheckContext, metrics_table: Callable[[CheckResult], None]
) -> None:
    run_check("monitoring.metrics", nself_checks, report=metrics_table)


def test_hits_and_misses_follow_reads(nself_checks: CheckContext) -> None:
    run_check("monitoring.keyspace_counters", nself_checks)


def test_commands_processed_grows(nself_checks: CheckContext) -> None:
    run_check("monitoring.commands_processed", nself_checks)


def test_expired_keys_grows(nself_checks: CheckContext) -> None:
    run_check("monitoring.expired_keys", nself_checks)


def test_documented_metric_names_exist(nself_checks: CheckContext) -> None:
    run_check("monitoring.documented_names", nself_checks)


def test_memory_alert_can_work(nself_checks: CheckContext) -> None:
    run_check("monitoring.memory_alert", nself_checks)


def test_connections_alert_can_work(nself_checks: CheckContext) -> None:
    run_check("monitoring.connections_alert", nself_checks)


def test_exporter_url_carries_the_password(nself_checks: CheckContext) -> None:
    run_check("monitoring.exporter_url", nself_checks)


def test_the_real_exporter_reads_the_server(nself_checks: CheckContext) -> None:
    run_check("monitoring.exporter", nself_checks)
