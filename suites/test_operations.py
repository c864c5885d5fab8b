"""operations: what an operator watches on the running server besides the contract: security
posture, memory as MEMORY DOCTOR sees it, clients, latency causes, the host's kernel (where the
server runs on this machine) and the application's keys from one bounded scan.

Every check only reads, so the suite runs on attach too and ``nself-redis doctor`` runs all of
it. One that cannot read what it needs (INFO, CONFIG or ACL refused or renamed; a server on
another machine for the host checks) is skipped as unknown, with the reason.
"""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.operations


def test_engine_is_named(nself_checks: CheckContext) -> None:
    run_check("operations.engine", nself_checks)


def test_password_holders_cannot_wipe(nself_checks: CheckContext) -> None:
    run_check("operations.dangerous_commands", nself_checks)


def test_no_known_critical_flaw(nself_checks: CheckContext) -> None:
    run_check("operations.known_cves", nself_checks)


def test_fragmentation_is_low(nself_checks: CheckContext) -> None:
    run_check("operations.fragmentation", nself_checks)


def test_peak_is_near_usage(nself_checks: CheckContext) -> None:
    run_check("operations.memory_peak", nself_checks)


def test_no_eviction_the_policy_rules_out(nself_checks: CheckContext) -> None:
    run_check("operations.evictions", nself_checks)


def test_no_connection_refused(nself_checks: CheckContext) -> None:
    run_check("operations.rejected_connections", nself_checks)


def test_blocked_clients_are_expected(nself_checks: CheckContext) -> None:
    run_check("operations.blocked_clients", nself_checks)


def test_maxclients_is_what_was_asked(nself_checks: CheckContext) -> None:
    run_check("operations.maxclients", nself_checks)


def test_subscribers_are_not_cut_off(nself_checks: CheckContext) -> None:
    run_check("operations.pubsub_disconnections", nself_checks)


def test_no_latency_event(nself_checks: CheckContext) -> None:
    run_check("operations.latency_events", nself_checks)


def test_overcommit_is_on(nself_checks: CheckContext) -> None:
    run_check("operations.overcommit", nself_checks)


def test_transparent_hugepages_are_not_forced(nself_checks: CheckContext) -> None:
    run_check("operations.thp", nself_checks)


def test_somaxconn_allows_the_backlog(nself_checks: CheckContext) -> None:
    run_check("operations.somaxconn", nself_checks)


def test_open_files_cover_maxclients(nself_checks: CheckContext) -> None:
    run_check("operations.open_files", nself_checks)


def test_sessions_expire(nself_checks: CheckContext) -> None:
    run_check("operations.session_ttl", nself_checks)


def test_cache_keys_can_be_evicted(nself_checks: CheckContext) -> None:
    run_check("operations.cache_ttl", nself_checks)


def test_memory_by_prefix(nself_checks: CheckContext, nself_report: ReportAttachments) -> None:
    def table(result: CheckResult) -> None:
        measured = result.measured if isinstance(result.measured, dict) else {}
        if measured.get("prefixes"):
            nself_report.table("Memory by key prefix (sampled MEMORY USAGE)", measured["prefixes"])

    run_check("operations.memory_by_prefix", nself_checks, report=table)
