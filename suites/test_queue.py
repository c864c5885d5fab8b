"""queue: BullMQ readiness (version, noeviction, AOF, Lua cjson/cmsgpack, streams,
BZPOPMIN, CLIENT SETNAME/LIST, INFO) and a real BullMQ round trip through Node
(skipped with the reason when Node or its modules are missing: `nself-redis node-setup`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.queue


def test_version_is_supported(nself_checks: CheckContext) -> None:
    run_check("queue.version", nself_checks)


def test_eviction_policy_is_noeviction(nself_checks: CheckContext) -> None:
    run_check("queue.eviction_policy", nself_checks)


def test_aof_is_on(nself_checks: CheckContext) -> None:
    run_check("queue.aof", nself_checks)


def test_lua_libraries_available(nself_checks: CheckContext) -> None:
    run_check("queue.lua", nself_checks)


def test_streams_work(nself_checks: CheckContext) -> None:
    run_check("queue.streams", nself_checks)


def test_bzpopmin_with_subsecond_timeout(nself_checks: CheckContext) -> None:
    run_check("queue.blocking_pop", nself_checks)


def test_client_commands_allowed(nself_checks: CheckContext) -> None:
    run_check("queue.client_commands", nself_checks)


@pytest.fixture
def bullmq_report(
    nself_report: ReportAttachments, record_property: Callable[[str, object], None]
) -> Callable[[CheckResult], None]:
    """The round trip's numbers: JUnit properties, and a table in the env's report."""

    def report(result: CheckResult) -> None:
        measured = result.measured if isinstance(result.measured, dict) else {}
        for name in ("bullmq", "latency_ms", "delayed", "retry", "total_ms"):
            if measured.get(name) is not None:
                record_property(f"bullmq_{name}", measured[name])
        if not measured.get("latency_ms"):
            return
        latency, delayed, retry = measured["latency_ms"], measured["delayed"], measured["retry"]
        nself_report.table(
            f"BullMQ round trip (bullmq {measured['bullmq']}, ioredis {measured['ioredis']}, "
            f"node {measured['node']})",
            [
                {
                    "measure": "jobs correct / added",
                    "value": f"{measured['jobs']['correct']}/{measured['jobs']['added']}",
                },
                {"measure": "add to result p50 (ms)", "value": latency["p50"]},
                {"measure": "add to result p95 (ms)", "value": latency["p95"]},
                {"measure": "add to result max (ms)", "value": latency["max"]},
                {
                    "measure": f"delayed job ({delayed['delay_ms']} ms) ran after (ms)",
                    "value": delayed["waited_ms"],
                },
                {"measure": "attempts of the job failing once", "value": retry["attempts"]},
                {"measure": "whole round trip (ms)", "value": measured["total_ms"]},
            ],
        )

    return report


def test_bullmq_round_trip(nself_checks: CheckContext, bullmq_report: Callable[[CheckResult], None]) -> None:
    run_check("queue.bullmq", nself_checks, report=bullmq_report)
