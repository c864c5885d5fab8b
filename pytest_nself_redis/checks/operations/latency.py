"""Latency causes the server records: LATENCY LATEST's events. The slow log is
``latency.slowlog``'s, fork time ``backup.fork_time``'s."""

from __future__ import annotations

import time
from typing import Any

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import Unknown, config, operations_check
from pytest_nself_redis.checks.results import Outcome, ok, skipped, warning
from pytest_nself_redis.live.refusals import explain

SUGGESTED_THRESHOLD_MS = 100


def _latest(context: CheckContext) -> list[dict[str, Any]]:
    """LATENCY LATEST as records (raises Unknown when refused)."""
    try:
        rows = context.client.execute_command("LATENCY", "LATEST")
    except redis_errors.RedisError as problem:
        raise Unknown(f"LATENCY LATEST {explain(problem)}") from None
    now = time.time()
    events = []
    for row in rows or []:
        name = row[0].decode() if isinstance(row[0], bytes) else str(row[0])
        events.append(
            {
                "event": name,
                "age_s": round(now - int(row[1])),
                "latest_ms": int(row[2]),
                "max_ms": int(row[3]),
            }
        )
    return events


def _threshold(context: CheckContext) -> int | None:
    """latency-monitor-threshold in ms; None when CONFIG GET is refused (raises Unknown when
    the value is not a number)."""
    try:
        return int(config(context, "latency-monitor-threshold"))
    except Unknown:
        return None
    except ValueError:
        raise Unknown("CONFIG GET latency-monitor-threshold is not a number") from None


@operations_check("operations.latency_events")
def no_latency_event(context: CheckContext) -> Outcome:
    """the latency monitor recorded no event (LATENCY LATEST)"""
    threshold = _threshold(context)
    if threshold is not None and threshold <= 0:
        return skipped(
            "a note, not a verdict: the latency monitor is off (latency-monitor-threshold 0), so "
            "LATENCY LATEST records nothing; turn it on to learn what stalls the server (CONFIG SET "
            f"latency-monitor-threshold {SUGGESTED_THRESHOLD_MS}, and in the server's config)"
        )
    events = _latest(context)
    if threshold is None and not events:
        raise Unknown(
            "CONFIG GET latency-monitor-threshold is refused or renamed here and LATENCY LATEST is empty, "
            "so whether the monitor is on (and nothing stalled) is not known"
        )
    shown_threshold = f"{threshold} ms" if threshold is not None else "its threshold (CONFIG GET refused)"
    promise = (
        f"Promise: nothing stalled the server for latency-monitor-threshold={shown_threshold} or more "
        "(LATENCY LATEST: commands, forks, expiry cycles, AOF fsync)."
    )
    measured = {"threshold_ms": threshold, "events": events}
    if not events:
        return ok(f"{promise} Kept: no event recorded since start", measured=measured)
    shown = "; ".join(
        f"{event['event']}: latest {event['latest_ms']} ms {event['age_s']} s ago, max {event['max_ms']} ms"
        for event in events
    )
    return warning(
        f"{promise} Seen: {shown}. LATENCY DOCTOR explains each; LATENCY RESET clears them once fixed",
        measured=measured,
    )
