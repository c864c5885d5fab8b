"""eviction: at maxmemory each of the 8 policies does what Redis documents, checked with
Redis's own technique on a server launched for each policy; then the configured policy
at the configured maxmemory on the env's own server. Evicted counts go to the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.plugin.ahead import VariantRuns
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import family, record_measured, run_check

pytestmark = [pytest.mark.eviction, pytest.mark.destructive]

Ledger = list[dict[str, Any]]
Report = Callable[[CheckResult], None]
Run = Callable[[str], CheckResult]
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
# Each promise's name in the env's table.
PROMISES = {
    "memory_limit": "memory under the limit",
    "plain_keys": "keys without a TTL",
    "volatile_only": "only volatile keys evicted",
    "preference": "which keys go first",
    "configured_policy": "configured policy",
}


@pytest.fixture(scope="module")
def eviction_ledger(request: pytest.FixtureRequest, nself_env_name: str) -> Iterator[Ledger]:
    """One table of evicted counts per env in the HTML report."""
    rows: Ledger = []
    yield rows
    if rows:
        ReportAttachments(request, nself_env_name).table("eviction: what each policy did at maxmemory", rows)


@pytest.fixture
def report_eviction(eviction_ledger: Ledger, record_property: Callable[[str, object], None]) -> Report:
    """Record a result's numbers (JUnit properties and the env's table)."""
    properties = record_measured(record_property)

    def report(result: CheckResult) -> None:
        properties(result)
        measured: dict[str, Any] = result.measured if isinstance(result.measured, dict) else {}
        eviction_ledger.append(
            {
                "promise": PROMISES[result.id.split(".")[1]],
                "policy": measured.get("policy", ""),
                "live policy": measured.get("live_policy", ""),
                **{name: measured.get(name, "") for name in COLUMNS},
                "detail": ", ".join(f"{name}={measured[name]}" for name in DETAILS if name in measured),
                "status": result.status.value,
            }
        )

    return report


@pytest.fixture
def run_on_variant(
    nself_checks: CheckContext, nself_variant_runs: VariantRuns, report_eviction: Report
) -> Run:
    """The result of a policy check on the server it launched for its policy (the module's
    policy checks run ahead, several at a time), with its numbers reported."""
    runs, report = nself_variant_runs, report_eviction
    return lambda check_id: run_check(check_id, nself_checks, ahead=runs, report=report)


@pytest.mark.parametrize("check_id", family("eviction.memory_limit.{}"))
def test_memory_stays_under_the_limit(check_id: str, run_on_variant: Run) -> None:
    run_on_variant(check_id)


@pytest.mark.parametrize("check_id", family("eviction.plain_keys.{}"))
def test_plain_keys_follow_the_policy(check_id: str, run_on_variant: Run) -> None:
    run_on_variant(check_id)


@pytest.mark.parametrize("check_id", family("eviction.volatile_only.{}"))
def test_volatile_policies_evict_only_volatile_keys(check_id: str, run_on_variant: Run) -> None:
    run_on_variant(check_id)


@pytest.mark.parametrize("check_id", family("eviction.preference.{}"))
def test_policy_evicts_the_right_keys_first(check_id: str, run_on_variant: Run) -> None:
    run_on_variant(check_id)


def test_configured_policy_at_configured_maxmemory(
    nself_checks: CheckContext, report_eviction: Report
) -> None:
    run_check("eviction.configured_policy", nself_checks, report=report_eviction)
