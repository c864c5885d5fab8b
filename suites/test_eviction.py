"""eviction: at maxmemory each of the 8 policies does what Redis documents, checked with
Redis's own technique on a server launched for each policy; then the configured policy
at the configured maxmemory on the env's own server. Evicted counts go to the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from pytest_nself_redis.checks import CheckContext, CheckResult, expect_result
from pytest_nself_redis.checks import eviction as checks
from pytest_nself_redis.plugin.fixtures import ReportAttachments, VariantFactory

pytestmark = [pytest.mark.eviction, pytest.mark.destructive]

Ledger = list[dict[str, Any]]
COLUMNS = ("limit", "filled", "written_again", "refused", "evicted", "over_limit")
DETAILS = (
    "preferred_kept",
    "preferred",
    "others_evicted",
    "persistent_kept",
    "persistent",
    "configured_limit",
    "scale_factor",
    "write_rate_mb_s",
)


@pytest.fixture(scope="module")
def eviction_ledger(request: pytest.FixtureRequest, nself_env_name: str) -> Iterator[Ledger]:
    """One table of evicted counts per env in the HTML report."""
    rows: Ledger = []
    yield rows
    if rows:
        ReportAttachments(request, nself_env_name).table("eviction: what each policy did at maxmemory", rows)


@pytest.fixture
def report_eviction(
    eviction_ledger: Ledger, record_property: Callable[[str, object], None]
) -> Callable[[str, CheckResult], CheckResult]:
    """Record a result's numbers (JUnit properties and the env's table), then return it."""

    def report(promise: str, result: CheckResult) -> CheckResult:
        measured: dict[str, Any] = result.measured if isinstance(result.measured, dict) else {}
        for name, value in measured.items():
            record_property(name, value)
        eviction_ledger.append(
            {
                "promise": promise,
                "policy": measured.get("policy", ""),
                "live policy": measured.get("live_policy", ""),
                **{name: measured.get(name, "") for name in COLUMNS},
                "detail": ", ".join(f"{name}={measured[name]}" for name in DETAILS if name in measured),
                "status": result.status.value,
            }
        )
        return result

    return report


def _server(nself_variant: VariantFactory, policy: str) -> redis.Redis:
    """A server like the env's, with ``policy`` and no persistence (nothing to fork or fsync)."""
    return nself_variant(REDIS_MAXMEMORY_POLICY=policy, REDIS_PERSISTENCE="false").client()


@pytest.mark.parametrize("policy", checks.POLICIES)
def test_memory_stays_under_the_limit(
    policy: str,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_eviction: Callable[[str, CheckResult], CheckResult],
) -> None:
    result = checks.memory_limit_is_honoured(nself_checks, _server(nself_variant, policy), policy)
    expect_result(report_eviction("memory under the limit", result))


@pytest.mark.parametrize("policy", checks.POLICIES)
def test_plain_keys_follow_the_policy(
    policy: str,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_eviction: Callable[[str, CheckResult], CheckResult],
) -> None:
    result = checks.plain_keys_follow_the_policy(nself_checks, _server(nself_variant, policy), policy)
    expect_result(report_eviction("keys without a TTL", result))


@pytest.mark.parametrize("policy", checks.VOLATILE)
def test_volatile_policies_evict_only_volatile_keys(
    policy: str,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_eviction: Callable[[str, CheckResult], CheckResult],
) -> None:
    result = checks.persistent_keys_are_spared(nself_checks, _server(nself_variant, policy), policy)
    expect_result(report_eviction("only volatile keys evicted", result))


@pytest.mark.parametrize("policy", list(checks.PREFERENCES))
def test_policy_evicts_the_right_keys_first(
    policy: str,
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    report_eviction: Callable[[str, CheckResult], CheckResult],
) -> None:
    result = checks.policy_keeps_the_right_keys(nself_checks, _server(nself_variant, policy), policy)
    expect_result(report_eviction("which keys go first", result))


def test_configured_policy_at_configured_maxmemory(
    nself_checks: CheckContext, report_eviction: Callable[[str, CheckResult], CheckResult]
) -> None:
    expect_result(report_eviction("configured policy", checks.configured_policy_holds(nself_checks)))
