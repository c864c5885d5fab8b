"""ratelimit, keyspace hygiene: every key a limiter writes is under its namespace and carries a
TTL no longer than it needs, and is gone on Redis TIME once it stops mattering."""

from __future__ import annotations

import math
import time

import redis

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.ratelimit.contract import (
    REAL_WINDOW,
    SCAN_BUDGET,
    build,
    contract_of,
    contract_point,
    named,
    token,
)
from pytest_nself_redis.checks.results import Outcome, verdict
from pytest_nself_redis.live.keys import scan_prefix
from pytest_nself_redis.ratelimit.base import LimiterSpec


@contract_point("ratelimit.keys", "every key is namespaced and carries a TTL no longer than needed")
def keys_have_ttls(context: CheckContext, spec: LimiterSpec, prefix: str) -> Outcome:
    """every key is namespaced and carries a TTL no longer than needed"""
    contract = contract_of(context.settings)
    n = contract.limit
    client = context.client
    probe_key = token("ttl")
    limiter = build(context, spec, prefix, None)
    for _ in range(n + 1):
        limiter.hit(f"{probe_key}-a")
    limiter.hit(f"{probe_key}-b")
    needed_ms = round(spec.ttl_windows * contract.window * 1000)
    keys = sorted(scan_prefix(client, prefix, max_calls=SCAN_BUDGET))
    ttls = {key: int(client.pttl(key)) for key in keys}
    problems = _ttl_problems(spec, prefix, ttls, needed_ms)
    outside = _outside_namespace(client, probe_key, prefix)
    if outside:
        problems.append("key(s) outside the namespace: " + ", ".join(outside[:3]))
    lingering, waited = _lingering_on_redis_time(context, spec, prefix + "real:", f"{probe_key}-real")
    if lingering:
        problems.append(
            f"with a {REAL_WINDOW}s window, {waited:.2f}s later key(s) still exist: "
            + ", ".join(f"{key} PTTL={ttl}" for key, ttl in list(lingering.items())[:3])
        )
    shown = ", ".join(f"{key.removeprefix(prefix)} PTTL={ttl}" for key, ttl in ttls.items()) or "none"
    return verdict(
        not problems,
        f"{named(spec)} Promise: every key the limiter writes is under its namespace and carries a TTL "
        f"of at most {spec.ttl_windows:g} window(s) ({contract.cite}). Seen on Redis TIME: {shown}"
        + (
            f"; {'; '.join(problems)}"
            if problems
            else f"; all gone {waited:.2f}s after a {REAL_WINDOW}s window"
        ),
        contract.source,
        {
            "limiter": spec.name,
            "needed_ms": needed_ms,
            "pttl_ms": list(ttls.values()),
            "lingering": len(lingering),
        },
    )


def _outside_namespace(client: redis.Redis, token: str, prefix: str) -> list[str]:
    """Keys naming the probe's token but not under the namespace (skipped on big servers)."""
    if int(client.dbsize()) > SCAN_BUDGET * 1000:
        return []
    found: list[str] = []
    cursor = 0
    for _ in range(SCAN_BUDGET):
        cursor, batch = client.scan(cursor, match=f"*{token}*", count=1000)
        found.extend(key for key in batch if not key.startswith(prefix))
        if int(cursor) == 0:
            break
    for key in found:  # they are ours, wherever they landed
        client.unlink(key)
    return found


def _ttl_problems(spec: LimiterSpec, prefix: str, ttls: dict[str, int], needed_ms: int) -> list[str]:
    """No state, a key that never expires, or one that outlives the windows it needs."""
    problems = []
    if not ttls:
        problems.append(f"no key under the namespace {prefix!r}: the limiter keeps no state there")
    leaks = [key for key, ttl in ttls.items() if ttl == -1]
    if leaks:
        problems.append(
            f"{len(leaks)} key(s) without a TTL, never expiring (a leak): " + ", ".join(leaks[:3])
        )
    long_lived = {key: ttl for key, ttl in ttls.items() if ttl > needed_ms + 1}
    if long_lived:
        problems.append(
            f"TTL longer than the {spec.ttl_windows:g} window(s) = {needed_ms} ms it needs: "
            + ", ".join(f"{key} PTTL={ttl}" for key, ttl in list(long_lived.items())[:3])
        )
    return problems


def _lingering_on_redis_time(
    context: CheckContext, spec: LimiterSpec, prefix: str, key: str
) -> tuple[dict[str, int], float]:
    """On Redis TIME with a short window, the keys really go once they stop mattering: the keys
    still there (with their PTTL) after waiting that long, and how long it waited."""
    real = build(context, spec, prefix, None, window=REAL_WINDOW)
    longest = 0.0
    for _ in range(contract_of(context.settings).limit + 1):
        decision = real.hit(key)
        if not math.isinf(decision.reset_after):
            longest = max(longest, decision.reset_after)
    waited = min(max(longest, spec.ttl_windows * REAL_WINDOW), 2 * REAL_WINDOW) + 0.06
    time.sleep(waited)
    client = context.client
    return {
        name: int(client.pttl(name)) for name in scan_prefix(client, prefix, max_calls=SCAN_BUDGET)
    }, waited
