"""monitoring: the monitoring bundle's metrics (redis_exporter names) derived from INFO,
counters that move with what the test does, and the bundle's alert rules."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext, expect_result
from pytest_nself_redis.checks import monitoring as checks
from pytest_nself_redis.plugin.fixtures import ReportAttachments

pytestmark = pytest.mark.monitoring


def test_every_metric_is_derived(nself_checks: CheckContext, nself_report: ReportAttachments) -> None:
    result = expect_result(checks.every_metric_is_derived(nself_checks))
    if isinstance(result.measured, dict):
        nself_report.table(
            "Monitoring metrics (redis_exporter names, from INFO)",
            [
                {"metric": name, "INFO field": checks.METRICS.get(name, "PING"), "value": value}
                for name, value in result.measured.items()
            ],
        )


def test_hits_and_misses_follow_reads(nself_checks: CheckContext) -> None:
    expect_result(checks.hits_and_misses_follow_reads(nself_checks))


def test_commands_processed_grows(nself_checks: CheckContext) -> None:
    expect_result(checks.commands_processed_grows(nself_checks))


def test_expired_keys_grows(nself_checks: CheckContext) -> None:
    expect_result(checks.expired_keys_grows(nself_checks))


def test_documented_metric_names_exist(nself_checks: CheckContext) -> None:
    expect_result(checks.documented_metric_names_exist(nself_checks))


def test_memory_alert_can_work(nself_checks: CheckContext) -> None:
    expect_result(checks.memory_alert_can_work(nself_checks))


def test_connections_alert_can_work(nself_checks: CheckContext) -> None:
    expect_result(checks.connections_alert_can_work(nself_checks))


def test_exporter_url_carries_the_password(nself_checks: CheckContext) -> None:
    expect_result(checks.exporter_url_carries_the_password(nself_checks))
