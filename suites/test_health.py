"""health: the server is up, primary, done loading, accepts writes, persists, and has headroom."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.health


def test_answers_ping(nself_checks: CheckContext) -> None:
    run_check("health.ping", nself_checks)


def test_is_a_primary(nself_checks: CheckContext) -> None:
    run_check("health.primary", nself_checks)


def test_has_finished_loading(nself_checks: CheckContext) -> None:
    run_check("health.loading", nself_checks)


def test_writes_are_accepted(nself_checks: CheckContext) -> None:
    run_check("health.writes", nself_checks)


def test_last_rdb_save_succeeded(nself_checks: CheckContext) -> None:
    run_check("health.rdb_status", nself_checks)


def test_last_aof_write_succeeded(nself_checks: CheckContext) -> None:
    run_check("health.aof_status", nself_checks)


def test_clients_have_headroom(nself_checks: CheckContext) -> None:
    run_check("health.clients", nself_checks)


def test_memory_has_headroom(nself_checks: CheckContext) -> None:
    run_check("health.memory", nself_checks)


def test_monitoring_fields_are_reported(nself_checks: CheckContext) -> None:
    run_check("health.monitoring_fields", nself_checks)


def test_container_healthcheck_passes(nself_checks: CheckContext) -> None:
    run_check("health.container", nself_checks)
