"""latency: round trips of PING, GET, SET, INCR, HSET, EVALSHA and a 16-command pipeline stay
within the env's budgets (p50, p95, p99, p99.9, max); SLOWLOG and INFO latencystats are
reported. How the sampler measures is stated in the report; its overhead against redis-benchmark
is a property of the harness, measured by the harness's own benchmarks, never a verdict here. Charts and
pytest-benchmark JSON (reports/benchmark-<env>.json) are written with the other reports at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.latency_session import LatencySession
from pytest_nself_redis.plugin.options import HarnessOptions
from pytest_nself_redis.plugin.verdicts import family, run_check

pytestmark = pytest.mark.latency
Run = Callable[[str], CheckResult]


@pytest.fixture(scope="module")
def latency_session(
    request: pytest.FixtureRequest, nself_options: HarnessOptions, nself_context: EnvContext
) -> Iterator[LatencySession]:
    """Budgets of this env; at the end, its charts in the HTML report and its benchmark JSON."""
    try:
        session = LatencySession.start(nself_options.budgets, nself_context)
    except HarnessError as problem:
        pytest.fail(f"nself-redis: {problem}", pytrace=False)
    yield session
    if session.results or session.outcomes:
        attachments = ReportAttachments(request, session.env)
        attachments.html(session.html())
        if session.results:
            attachments.benchmark(session.benchmark())


@pytest.fixture
def run_timed(
    nself_checks: CheckContext,
    latency_session: LatencySession,
    record_property: Callable[[str, object], None],
) -> Run:
    """Run a latency check with the env's plan; keep its result for the report and record its
    percentiles (JUnit properties)."""

    def report(result: CheckResult) -> None:
        latency_session.keep(result)
        if isinstance(result.measured, dict):
            for name, value in result.measured.get("percentiles_ms", {}).items():
                record_property(f"{name}_ms", value)

    return lambda check_id: run_check(check_id, nself_checks, plan=latency_session.plan, report=report)


@pytest.mark.parametrize("check_id", family("latency.{}"))
def test_round_trips_within_budget(check_id: str, run_timed: Run) -> None:
    run_timed(check_id)


def test_slowlog_within_budget(run_timed: Run) -> None:
    run_timed("latency.slowlog")


def test_server_side_within_budget(run_timed: Run) -> None:
    run_timed("latency.server_side")
