"""The public fixtures (documented in the README).

Session scope for what is expensive (the target); function scope for what a
test owns (its keyspace, its variant servers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from pytest_nself_redis.checks import CheckContext, VariantFactory
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.live.expiring import expiring
from pytest_nself_redis.plugin.ahead import VariantRuns, module_checks
from pytest_nself_redis.plugin.benchmark_json import BenchmarkRecord
from pytest_nself_redis.plugin.keyspace import Keyspace
from pytest_nself_redis.plugin.options import HarnessOptions
from pytest_nself_redis.plugin.run import get_run
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.reporting.html import html_table
from pytest_nself_redis.sentinel.access import Deployment, LaunchedDeployment
from pytest_nself_redis.targets.base import Target


@pytest.fixture(scope="session")
def nself_env_name(request: pytest.FixtureRequest) -> str:
    """The env this test runs for (parametrized when --nself-env lists several)."""
    param = getattr(request, "param", None)
    if isinstance(param, str):
        return param
    return get_run(request.config).env_names()[0]


@pytest.fixture(scope="session")
def nself_options(request: pytest.FixtureRequest) -> HarnessOptions:
    """The run's --nself-* options and ini values (budgets, reports folder, limiters, ...)."""
    return get_run(request.config).options


@pytest.fixture(scope="session")
def nself_project(request: pytest.FixtureRequest) -> NselfProject:
    """The nself project under test."""
    return get_run(request.config).project()


@pytest.fixture(scope="session")
def nself_context(request: pytest.FixtureRequest, nself_env_name: str) -> EnvContext:
    """Settings, deployment and warnings of the current env."""
    return get_run(request.config).context(nself_env_name)


@pytest.fixture(scope="session")
def nself_settings(nself_context: EnvContext) -> RedisSettings:
    """The resolved REDIS_* / AUTH_RATE_LIMIT_* settings (the contract)."""
    return nself_context.settings


@pytest.fixture(scope="session")
def nself_service(nself_context: EnvContext) -> RedisService:
    """The compose redis service, read or rendered (the deployment)."""
    return nself_context.service


@pytest.fixture(scope="session")
def nself_target(request: pytest.FixtureRequest, nself_context: EnvContext) -> Iterator[Target]:
    """The Redis under test for this env: launched (docker/process) or attached."""
    run = get_run(request.config)
    target = run.launch(nself_context)
    yield target
    run.release(target)


@pytest.fixture(scope="session")
def nself_redis(nself_target: Target) -> redis.Redis:
    """A client authenticated as the settings say (decode_responses=True). On a server the run
    did not launch, keys it writes under ``nself-harness:`` (``nself_keyspace``) carry a TTL."""
    client = nself_target.client()
    return client if nself_target.launched else expiring(client)


@pytest.fixture(scope="session")
def nself_connect(nself_target: Target) -> Callable[..., redis.Redis]:
    """A factory of clients that do not authenticate unless given ``password=``."""
    return nself_target.connect


@pytest.fixture(scope="session")
def nself_checks(
    request: pytest.FixtureRequest, nself_target: Target, nself_redis: redis.Redis
) -> CheckContext:
    """What the bundled checks look at: settings, deployment and clients of this env's target."""
    return CheckContext.of(nself_target, nself_redis, get_run(request.config).run_id)


@pytest.fixture(scope="session")
def nself_sentinel(request: pytest.FixtureRequest, nself_context: EnvContext) -> Iterator[Deployment | None]:
    """The env's Sentinel deployment (``REDIS_SENTINEL_ENABLED=true``): a topology of a primary,
    ``REDIS_REPLICAS`` replicas and ``REDIS_SENTINEL_COUNT`` sentinels launched like the env's
    server (removed after the session), or the running one of ``--nself-sentinel-url``. None
    when the env promises no Sentinel, or on attach without a sentinel's URL."""
    run = get_run(request.config)
    try:
        deployment = run.sentinel(nself_context)
    except HarnessError as problem:
        pytest.fail(
            run.redactor.scrub(f"nself-redis: the Sentinel topology could not start: {problem}"),
            pytrace=False,
        )
    yield deployment
    if isinstance(deployment, LaunchedDeployment):
        deployment.topology.stop()


class ReportAttachments:
    """What a test adds to its env's report beyond pass/fail: measured numbers. Kept by the run
    and written with the reports at the end (under -n, by the controller, from every worker)."""

    def __init__(self, request: pytest.FixtureRequest, env: str) -> None:
        self._run = get_run(request.config)
        self.env = env

    def table(self, title: str, rows: list[dict[str, Any]]) -> None:
        """A table in the env's HTML summary."""
        self._run.add_html(self.env, html_table(self._run.redactor.scrub(title), rows))

    def closing_line(self, text: str) -> None:
        """A line of measured figures for the env's closing note (terminal) and report table."""
        report = self._run.env_reports.get(self.env)
        if report is not None:
            report.measured.append(self._run.redactor.scrub(text))

    def html(self, fragment: str) -> None:
        """Self-contained HTML (inline SVG, no network) for the env's HTML summary."""
        self._run.add_html(self.env, fragment)

    def benchmark(self, record: BenchmarkRecord) -> None:
        """Latency runs for the env's ``benchmark-<env>.json``."""
        self._run.add_benchmark(self.env, record)


@pytest.fixture
def nself_report(request: pytest.FixtureRequest, nself_env_name: str) -> ReportAttachments:
    """Add measured numbers to the env's reports: ``nself_report.table(title, rows)``;
    per-test numbers go through pytest's ``record_property`` (JUnit properties)."""
    return ReportAttachments(request, nself_env_name)


@pytest.fixture
def nself_keyspace(request: pytest.FixtureRequest, nself_redis: redis.Redis) -> Iterator[Keyspace]:
    """A unique key prefix; every key created under it is deleted after the test."""
    keyspace = Keyspace(nself_redis, get_run(request.config).run_id)
    yield keyspace
    keyspace.cleanup()


@pytest.fixture
def nself_variant(request: pytest.FixtureRequest, nself_env_name: str) -> Iterator[VariantFactory]:
    """Launch a server like the target but with overridden settings (REDIS_*=...).

    ``extra_args`` are appended to the redis-server command line. Variants are
    removed after the test. On the attach target there is nothing to launch, so
    the test is skipped with that reason.
    """
    run = get_run(request.config)
    launched: list[Target] = []
    if run.kind == "attach":
        pytest.skip("needs to launch variant servers; the attach target launches nothing")

    def launch(extra_args: tuple[str, ...] = (), **overrides: Any) -> Target:
        target = run.launch_variant(nself_env_name, extra_args, overrides)
        launched.append(target)
        return target

    yield launch
    for target in launched:
        target.stop()


@pytest.fixture(scope="module")
def nself_variant_runs(
    request: pytest.FixtureRequest, nself_env_name: str, nself_checks: CheckContext
) -> Iterator[VariantRuns]:
    """The checks this module's tests run on servers of their own (variants), started together
    ahead of those tests, several at a time: ``run_check(check_id, nself_checks,
    ahead=nself_variant_runs)`` reports one's result. Each test asks by its parameters: a check
    id of a check that takes ``launch``. Skipped on the attach target, like ``nself_variant``."""
    run = get_run(request.config)
    if run.kind == "attach":
        pytest.skip("needs to launch variant servers; the attach target launches nothing")
    runs = VariantRuns(run, nself_env_name, nself_checks)
    runs.start(module_checks(request, nself_env_name))
    yield runs
    runs.close()
