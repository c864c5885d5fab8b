"""latency: round trips of PING, GET, SET, INCR, HSET, EVALSHA and a 16-command pipeline stay
within the env's budgets (p50, p95, p99, p99.9, max); SLOWLOG and INFO latencystats are
reported. How the sampler measures is stated in the report; its overhead against redis-benchmark
is a property of the harness, measured by the harness's own benchmarks, never a verdict here. Charts and
pytest-benchmark JSON (reports/benchmark-<env>.json) are written when the env's tests end."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult, expect_result
from pytest_nself_redis.checks import latency as checks
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.latency import COMMANDS
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.latency_session import LatencySession
from pytest_nself_redis.plugin.run import get_run

pytestmark = pytest.mark.latency
RecordProperty = Callable[[str, object], None]


@pytest.fixture(scope="module")
def latency_session(request: pytest.FixtureRequest, nself_context: EnvContext) -> Iterator[LatencySession]:
    """Budgets of this env; at the end, its charts in the HTML report and its benchmark JSON."""
    options = get_run(request.config).options
    try:
        session = LatencySession.start(options.budgets, nself_context)
    except HarnessError as problem:
        pytest.fail(f"nself-redis: {problem}", pytrace=False)
    yield session
    if session.results or session.outcomes:
        ReportAttachments(request, session.env).html(session.html())
        reports = options.reports
        if reports is not None and session.results:
            session.write_json(reports)


def _record(result: CheckResult, record_property: RecordProperty) -> CheckResult:
    if isinstance(result.measured, dict):
        for name, value in result.measured.get("percentiles_ms", {}).items():
            record_property(f"{name}_ms", value)
    return result


@pytest.mark.parametrize("command", COMMANDS)
def test_round_trips_within_budget(
    command: str,
    nself_checks: CheckContext,
    latency_session: LatencySession,
    record_property: RecordProperty,
) -> None:
    result = nself_checks.attribute(checks.within_budget(nself_checks, command, latency_session.plan))
    expect_result(_record(latency_session.keep(result), record_property))


def test_slowlog_within_budget(nself_checks: CheckContext, latency_session: LatencySession) -> None:
    expect_result(latency_session.keep(checks.slowlog_within_budget(nself_checks, latency_session.plan)))


def test_server_side_within_budget(nself_checks: CheckContext, latency_session: LatencySession) -> None:
    expect_result(latency_session.keep(checks.server_side_within_budget(nself_checks, latency_session.plan)))
