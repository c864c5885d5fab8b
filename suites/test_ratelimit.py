"""ratelimit: the rate-limit contract (docs/suites/ratelimit.md) for every built-in limiter and yours,
with N = AUTH_RATE_LIMIT_MAX_REQUESTS and W = AUTH_RATE_LIMIT_WINDOW; then the deployment's
risks (eviction policy, nself's own ratelimit:* keys).

Your limiter: ``--nself-limiter MODULE:NAME``, or a ``nself_limiters`` fixture in your
conftest.py (it replaces the list: include ``BUILTIN_LIMITERS`` to keep them). Keys are
written only under the test's keyspace prefix and deleted, so the suite is safe on attach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult, Outcome, VariantFactory
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.keyspace import Keyspace
from pytest_nself_redis.plugin.options import HarnessOptions
from pytest_nself_redis.plugin.verdicts import record_measured, run_check
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.ratelimit import LimiterLoadError, LimiterSpec
from pytest_nself_redis.ratelimit.select import as_specs, default_limiters, unique

pytestmark = pytest.mark.ratelimit

Ledger = dict[str, list[dict[str, Any]]]


@pytest.fixture
def ratelimit_limiters(
    request: pytest.FixtureRequest, nself_options: HarnessOptions, nself_project: NselfProject
) -> list[LimiterSpec]:
    """The limiters under test: a ``nself_limiters`` fixture when you define one, else the
    built-ins plus ``--nself-limiter``."""
    try:
        try:
            chosen = request.getfixturevalue("nself_limiters")
        except pytest.FixtureLookupError:
            search = (request.config.invocation_params.dir, nself_project.dir)
            return default_limiters(nself_options.limiter, search)
        return unique(as_specs(chosen, "the nself_limiters fixture"))
    except LimiterLoadError as problem:
        pytest.fail(str(problem), pytrace=False)


@pytest.fixture(scope="module")
def ratelimit_ledger(request: pytest.FixtureRequest, nself_env_name: str) -> Iterator[Ledger]:
    """The measured numbers, one table per promise in the env's HTML report."""
    tables: Ledger = {}
    yield tables
    attachments = ReportAttachments(request, nself_env_name)
    for title, rows in tables.items():
        attachments.table(title, rows)


@pytest.fixture
def run_contract(
    nself_checks: CheckContext,
    ratelimit_limiters: list[LimiterSpec],
    nself_keyspace: Keyspace,
    ratelimit_ledger: Ledger,
    record_property: Callable[[str, object], None],
) -> Callable[[str, str, tuple[str, ...]], CheckResult]:
    """Run one contract point for every limiter under test; tabulate; pass/warn/fail."""

    def run(check_id: str, title: str, columns: tuple[str, ...]) -> CheckResult:
        rows = ratelimit_ledger.setdefault(f"ratelimit: {title}", [])

        def tabulate(spec: LimiterSpec, outcome: Outcome) -> None:
            measured: dict[str, Any] = outcome.measured if isinstance(outcome.measured, dict) else {}
            rows.append(
                {
                    "limiter": spec.name,
                    "kind": spec.kind,
                    "status": outcome.status.value,
                    **{column: measured.get(column, "") for column in columns},
                }
            )
            for column in columns:
                if column in measured:
                    record_property(f"{spec.name}.{column}", measured[column])

        return run_check(
            check_id,
            nself_checks,
            limiters=ratelimit_limiters,
            namespace=nself_keyspace.prefix,
            each=tabulate,
        )

    return run


def test_exactly_n_then_denied(run_contract: Callable[..., CheckResult]) -> None:
    run_contract("ratelimit.exact_limit", "exactly N, then denied", ("N", "allowed", "attempts"))


def test_allowed_again_after_the_window(run_contract: Callable[..., CheckResult]) -> None:
    run_contract("ratelimit.recovers", "allowed again after the window", ("steps",))


def test_no_burst_beyond_the_bound(run_contract: Callable[..., CheckResult]) -> None:
    """Sliding windows: at most N in any window-long span. The fixed window's boundary burst
    is measured and reported as its documented weakness (a warning with the numbers)."""
    run_contract(
        "ratelimit.burst",
        "bursts (allowed in a window-long span across the boundary; token bucket bounds)",
        (
            "N",
            "across_boundary",
            "at_boundary",
            "max_in_one_window",
            "worst_interval_allowed",
            "worst_interval_bound",
            "long_run_rate_per_s",
            "rate_per_s",
        ),
    )


@pytest.mark.load  # 90 connections from 4 processes: not on someone's server unless allowed
def test_exact_counts_under_concurrency(run_contract: Callable[..., CheckResult]) -> None:
    run_contract(
        "ratelimit.concurrency",
        "concurrency (one key, all callers released at once)",
        (
            "N",
            "threads",
            "processes",
            "threads_per_process",
            "callers",
            "attempts",
            "allowed",
            "errors",
            "seconds",
        ),
    )


def test_keys_are_namespaced_with_ttls(run_contract: Callable[..., CheckResult]) -> None:
    run_contract("ratelimit.keys", "keys and TTLs", ("needed_ms", "pttl_ms", "lingering"))


def test_one_clock(run_contract: Callable[..., CheckResult]) -> None:
    run_contract("ratelimit.one_clock", "one clock", ("problems",))


def test_eviction_policy_risk_is_reported(nself_checks: CheckContext) -> None:
    run_check("ratelimit.eviction_risk", nself_checks)


def test_eviction_under_the_configured_policy(
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    ratelimit_ledger: Ledger,
    record_property: Callable[[str, object], None],
) -> None:
    """Measured: a server like this env's, filled past a small maxmemory under the configured
    policy; does a limited client stay limited? (Skipped on attach: it launches a variant.)"""
    properties = record_measured(record_property)
    rows = ratelimit_ledger.setdefault("ratelimit: eviction under the configured policy", [])

    def report(result: CheckResult) -> None:
        properties(result)
        rows.append(result.measured if isinstance(result.measured, dict) else {})

    run_check("ratelimit.eviction_demonstration", nself_checks, launch=nself_variant, report=report)


def test_deployment_limiter_keys_expire(nself_checks: CheckContext) -> None:
    run_check("ratelimit.deployment_keys", nself_checks)
