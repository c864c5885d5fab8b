"""health: the server is up, primary, done loading, accepts writes, persists, and has headroom."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext, expect_result
from pytest_nself_redis.checks import health as checks

pytestmark = pytest.mark.health


def test_answers_ping(nself_checks: CheckContext) -> None:
    expect_result(checks.answers_ping(nself_checks))


def test_is_a_primary(nself_checks: CheckContext) -> None:
    expect_result(checks.is_a_primary(nself_checks))


def test_has_finished_loading(nself_checks: CheckContext) -> None:
    expect_result(checks.has_finished_loading(nself_checks))


def test_writes_are_accepted(nself_checks: CheckContext) -> None:
    expect_result(checks.accepts_writes(nself_checks))


def test_last_rdb_save_succeeded(nself_checks: CheckContext) -> None:
    expect_result(checks.last_rdb_save_succeeded(nself_checks))


def test_last_aof_write_succeeded(nself_checks: CheckContext) -> None:
    expect_result(checks.last_aof_write_succeeded(nself_checks))


def test_clients_have_headroom(nself_checks: CheckContext) -> None:
    expect_result(checks.clients_have_headroom(nself_checks))


def test_memory_has_headroom(nself_checks: CheckContext) -> None:
    expect_result(checks.memory_has_headroom(nself_checks))


def test_monitoring_fields_are_reported(nself_checks: CheckContext) -> None:
    expect_result(checks.monitoring_fields_are_reported(nself_checks))
