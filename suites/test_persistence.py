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

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.plugin.ahead import VariantRuns
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import family, record_measured, run_check

pytestmark = [pytest.mark.persistence, pytest.mark.needs_restart]

Ledger = list[dict[str, Any]]
Run = Callable[[str], CheckResult]
PROPERTIES = ("written", "acknowledged", "survived", "lost", "in_flight", "loss_window_ms", "restart_s")


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
def run_on_variant(
    nself_checks: CheckContext,
    nself_variant_runs: VariantRuns,
    persistence_ledger: Ledger,
    record_property: Callable[[str, object], None],
) -> Run:
    """The result of a persistence check on the server it launched (the module's scenarios run
    ahead, several at a time), with its counts recorded (JUnit properties and the env's table)."""
    properties = record_measured(record_property, **{name: name for name in PROPERTIES})

    def report(result: CheckResult) -> None:
        properties(result)
        if isinstance(result.measured, dict) and result.measured:
            persistence_ledger.append({**result.measured, "status": result.status.value})

    return lambda check_id: run_check(check_id, nself_checks, ahead=nself_variant_runs, report=report)


@pytest.mark.parametrize("check_id", family("persistence.restart.{}"))
def test_graceful_restart_keeps_what_the_mode_promises(check_id: str, run_on_variant: Run) -> None:
    run_on_variant(check_id)


@pytest.mark.parametrize("check_id", family("persistence.crash.{}"))
def test_crash_loses_no_more_than_the_mode_allows(check_id: str, run_on_variant: Run) -> None:
    run_on_variant(check_id)


@pytest.mark.parametrize("check_id", family("persistence.recreate.{}"))
def test_recreated_container_keeps_what_the_mode_promises(check_id: str, run_on_variant: Run) -> None:
    run_on_variant(check_id)


@pytest.mark.parametrize("check_id", family("persistence.{}.configured"))
def test_configured_mode_keeps_its_promise(check_id: str, run_on_variant: Run) -> None:
    """The env's own deployment (its compose service, or the one rendered from the settings)."""
    run_on_variant(check_id)
