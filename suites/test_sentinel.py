"""sentinel: the Sentinel deployment the env promises (REDIS_SENTINEL_ENABLED=true) watches
the primary, agrees, and fails over within the budget without losing what a replica had.

Every test skips when the env promises no Sentinel. The safe checks read the deployment (the
topology this run launched like the env's server, or the running one of
--nself-sentinel-url); the failover tests kill the primary of a launched topology, once, and
read the same measured failover. The report gets the topology, the failover's counts and its
timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import record_measured, run_check
from pytest_nself_redis.reporting.failover import timeline_html
from pytest_nself_redis.sentinel.access import Deployment
from pytest_nself_redis.sentinel.readings import topology_rows

pytestmark = pytest.mark.sentinel

Run = Callable[[str], CheckResult]
COUNTS = ("failover_ms", "budget_ms", "waited_writes", "waited_lost", "unwaited_writes", "unwaited_lost")


@pytest.fixture(scope="module")
def failover_report(
    request: pytest.FixtureRequest, nself_env_name: str, nself_sentinel: Deployment | None
) -> Iterator[list[dict[str, Any]]]:
    """The topology as the sentinels saw it before the failover, and the failover's counts and
    timeline after it, in the env's HTML report."""
    attachments = ReportAttachments(request, nself_env_name)
    if nself_sentinel is not None:
        attachments.table(
            f"sentinel: topology ({nself_sentinel.describe()})", topology_rows(nself_sentinel.views())
        )
    measured: list[dict[str, Any]] = []
    yield measured
    if measured:
        counts = {key: value for key, value in measured[0].items() if key != "timeline"}
        attachments.table("sentinel: failover counts", [counts])
        timeline = [(float(at), str(event)) for at, event in measured[0].get("timeline", [])]
        attachments.html(
            timeline_html(
                "sentinel: failover timeline", timeline, counts["budget_ms"], counts.get("failover_ms")
            )
        )


@pytest.fixture
def run_sentinel_check(
    nself_checks: CheckContext,
    nself_sentinel: Deployment | None,
    failover_report: list[dict[str, Any]],
    record_property: Callable[[str, object], None],
) -> Run:
    properties = record_measured(record_property, **{name: name for name in COUNTS})

    def report(result: CheckResult) -> None:
        properties(result)
        if result.id == "sentinel.failover" and isinstance(result.measured, dict):
            failover_report.append(result.measured)

    return lambda check_id: run_check(check_id, nself_checks, sentinel=nself_sentinel, report=report)


def test_sentinels_can_agree(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.quorum")


def test_sentinels_see_one_live_primary(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.primary")


def test_sentinels_see_every_node(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.counts")


def test_replicas_are_in_sync(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.replication")


def test_down_after_fits_the_budget(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.down_after")


@pytest.mark.destructive
@pytest.mark.needs_restart
def test_failover_within_budget(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.failover")


@pytest.mark.destructive
@pytest.mark.needs_restart
def test_replicated_writes_survive_failover(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.acknowledged_writes")


@pytest.mark.destructive
@pytest.mark.needs_restart
def test_old_primary_rejoins(run_sentinel_check: Run) -> None:
    run_sentinel_check("sentinel.rejoin")
