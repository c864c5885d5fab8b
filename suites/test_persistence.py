"""persistence: acknowledged writes survive restarts and crashes as each mode promises.

A matrix over RDB only, AOF everysec, AOF always, both and none, each on a server
launched for it (a variant of the env's target, docker or process), through a graceful
restart, a SIGKILL crash and (docker) a new container on the same volume; then the
env's own configured mode on its own deployment. The counts (written, acknowledged,
survived, lost, loss window) go to the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult, expect_result
from pytest_nself_redis.checks import persistence as checks
from pytest_nself_redis.durability.modes import (
    CRASH,
    GRACEFUL,
    MATRIX,
    RECREATE,
    PersistenceMode,
    promised_mode,
)
from pytest_nself_redis.plugin.fixtures import ReportAttachments, VariantFactory
from pytest_nself_redis.targets.base import Target

pytestmark = [pytest.mark.persistence, pytest.mark.needs_restart]

Ledger = list[dict[str, Any]]
PROPERTIES = ("written", "acknowledged", "survived", "lost", "in_flight", "loss_window_ms", "restart_s")
MODE_IDS = [mode.id for mode in MATRIX]


@pytest.fixture(scope="module")
def persistence_ledger(request: pytest.FixtureRequest, nself_env_name: str) -> Iterator[Ledger]:
    """One table of counts per env in the HTML report."""
    rows: Ledger = []
    yield rows
    if rows:
        ReportAttachments(request, nself_env_name).table(
            "persistence: acknowledged writes across restarts and crashes", rows
        )


@pytest.fixture
def report_persistence(
    persistence_ledger: Ledger, record_property: Callable[[str, object], None]
) -> Callable[[CheckResult], CheckResult]:
    """Record a result's counts (JUnit properties and the env's table), then return it."""

    def report(result: CheckResult) -> CheckResult:
        measured: dict[str, Any] = result.measured if isinstance(result.measured, dict) else {}
        for name in PROPERTIES:
            if name in measured:
                record_property(name, measured[name])
        if measured:
            persistence_ledger.append({**measured, "status": result.status.value})
        return result

    return report


def skip_recreate_without_docker(target: Target) -> None:
    if target.kind != "docker":
        pytest.skip(f"recreating the container needs the docker target; this run uses {target.kind}")


@pytest.mark.parametrize("mode", MATRIX, ids=MODE_IDS)
def test_graceful_restart_keeps_what_the_mode_promises(
    mode: PersistenceMode,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_persistence: Callable[[CheckResult], CheckResult],
) -> None:
    target = nself_variant((), **mode.overrides)
    expect_result(report_persistence(checks.writes_survive(nself_checks, target, mode, GRACEFUL)))


@pytest.mark.parametrize("mode", MATRIX, ids=MODE_IDS)
def test_crash_loses_no_more_than_the_mode_allows(
    mode: PersistenceMode,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_persistence: Callable[[CheckResult], CheckResult],
) -> None:
    target = nself_variant((), **mode.overrides)
    expect_result(report_persistence(checks.writes_survive(nself_checks, target, mode, CRASH)))


@pytest.mark.parametrize("mode", MATRIX, ids=MODE_IDS)
def test_recreated_container_keeps_what_the_mode_promises(
    mode: PersistenceMode,
    nself_target: Target,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_persistence: Callable[[CheckResult], CheckResult],
) -> None:
    skip_recreate_without_docker(nself_target)
    target = nself_variant((), **mode.overrides)
    expect_result(report_persistence(checks.writes_survive(nself_checks, target, mode, RECREATE)))


@pytest.mark.parametrize("scenario", [GRACEFUL, CRASH, RECREATE], ids=["restart", "crash", "recreate"])
def test_configured_mode_keeps_its_promise(
    scenario: str,
    nself_target: Target,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_persistence: Callable[[CheckResult], CheckResult],
) -> None:
    """The env's own deployment (its compose service, or the one rendered from the settings)."""
    if scenario == RECREATE:
        skip_recreate_without_docker(nself_target)
    target = nself_variant()
    mode = promised_mode(target.context.settings)
    expect_result(report_persistence(checks.writes_survive(nself_checks, target, mode, scenario)))
