"""Latency causes the server records: LATENCY LATEST's events, and how long a fork blocked it.
The slow log is ``latency.slowlog``'s."""

from __future__ import annotations

import time
from typing import Any

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import GB, Unknown, config, info_section, number, size
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, ok, skipped, warning
from pytest_nself_redis.live.refusals import explain

# Redis's latency guide: a fork copies the page tables, about 10-20 ms per GB of RSS on real or
# well-virtualised hardware. Under 1 GB the fixed cost dominates, so a fork is held to 1 GB's.
FORK_MS_PER_GB = 20.0
FORK_MINIMUM_GB = 1.0
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


@check("operations.latency_events", safe=True)
def no_latency_event(context: CheckContext) -> Outcome:
    """the latency monitor recorded no event (LATENCY LATEST)"""
    try:
        threshold = int(config(context, "latency-monitor-threshold"))
    except (Unknown, ValueError) as problem:
        return Unknown(str(problem)).outcome()
    if threshold <= 0:
        return skipped(
            "the latency monitor is off (latency-monitor-threshold 0), so LATENCY LATEST "
            "records nothing: turn "
            "it on to learn what stalls the server (CONFIG SET latency-monitor-threshold "
            f"{SUGGESTED_THRESHOLD_MS}"
            ", and in the server's config)"
        )
    try:
        events = _latest(context)
    except Unknown as unknown:
        return unknown.outcome()
    promise = (
        f"Promise: nothing stalled the server for latency-monitor-threshold={threshold} ms or more "
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


@check("operations.fork_time", safe=True)
def fork_is_fast(context: CheckContext) -> Outcome:
    """the last fork blocked the server no longer than normal for its size"""
    try:
        fork_usec = number(info_section(context, "stats"), "latest_fork_usec", "stats")
        rss = number(info_section(context, "memory"), "used_memory_rss", "memory")
    except Unknown as unknown:
        return unknown.outcome()
    gigabytes = max(rss / GB, FORK_MINIMUM_GB)
    budget_ms = FORK_MS_PER_GB * gigabytes
    fork_ms = fork_usec / 1000
    promise = (
        "Promise: a background save or AOF rewrite blocks the server only for its fork, about "
        f"{FORK_MS_PER_GB:g} ms per GB of RSS at most (Redis's latency guide; under {FORK_MINIMUM_GB:g} GB "
        f"counted as {FORK_MINIMUM_GB:g} GB): {budget_ms:.0f} ms for RSS {size(rss)} now."
    )
    measured = {"latest_fork_ms": fork_ms, "used_memory_rss": rss, "budget_ms": round(budget_ms, 1)}
    if fork_usec == 0:
        return ok(f"{promise} Kept: no fork since the server started (latest_fork_usec=0)", measured=measured)
    seen = f"latest_fork_usec={fork_usec} ({fork_ms:.1f} ms)"
    if fork_ms > budget_ms:
        return warning(
            f"{promise} Seen: {seen}: every client waited that long. Slow forks come from a big RSS, "
            "transparent huge pages, or a hypervisor that copies page tables slowly (Xen); see "
            "operations.thp, save less often, or give the server a smaller dataset",
            measured=measured,
        )
    return ok(f"{promise} Kept: {seen}", measured=measured)
