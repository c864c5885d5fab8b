"""queue: BullMQ readiness (version, noeviction, AOF, Lua cjson/cmsgpack, streams,
BZPOPMIN, CLIENT SETNAME/LIST, INFO) and a real BullMQ round trip through Node
(skipped with the reason when Node or its modules are missing: `nself-redis node-setup`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_nself_redis.checks import CheckContext, expect_result
from pytest_nself_redis.checks import queue as checks
from pytest_nself_redis.plugin.fixtures import ReportAttachments

pytestmark = pytest.mark.queue


def test_version_is_supported(nself_checks: CheckContext) -> None:
    expect_result(checks.version_is_supported(nself_checks))


def test_eviction_policy_is_noeviction(nself_checks: CheckContext) -> None:
    expect_result(checks.eviction_policy_is_noeviction(nself_checks))


def test_aof_is_on(nself_checks: CheckContext) -> None:
    expect_result(checks.aof_is_on(nself_checks))


def test_lua_libraries_available(nself_checks: CheckContext) -> None:
    expect_result(checks.lua_libraries_available(nself_checks))


def test_streams_work(nself_checks: CheckContext) -> None:
    expect_result(checks.streams_work(nself_checks))


def test_bzpopmin_with_subsecond_timeout(nself_checks: CheckContext) -> None:
    expect_result(checks.bzpopmin_with_subsecond_timeout(nself_checks))


def test_client_commands_allowed(nself_checks: CheckContext) -> None:
    expect_result(checks.client_commands_allowed(nself_checks))


def test_bullmq_round_trip(
    nself_checks: CheckContext,
    nself_report: ReportAttachments,
    record_property: Callable[[str, object], None],
) -> None:
    result = checks.bullmq_round_trip(nself_checks)
    measured = result.measured if isinstance(result.measured, dict) else {}
    for name in ("bullmq", "latency_ms", "delayed", "retry", "total_ms"):
        if measured.get(name) is not None:
            record_property(f"bullmq_{name}", measured[name])
    if measured.get("latency_ms"):
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
    expect_result(result)
