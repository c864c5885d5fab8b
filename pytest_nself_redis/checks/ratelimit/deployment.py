"""ratelimit, the deployment: the eviction policy's risk to limiter keys (stated, and measured
on a server like the env's), and the TTLs of the ``ratelimit:*`` keys nself writes."""

from __future__ import annotations

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext, VariantFactory
from pytest_nself_redis.checks.ratelimit.contract import SCAN_BUDGET, contract_of, token
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, ok, skipped, verdict, warning
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.ratelimit.base import Limiter, LimiterSpec
from pytest_nself_redis.ratelimit.limiters import NSELF_FIXED_SPEC

NSELF_KEY_SAMPLE = 500
FILLER_BATCHES, FILLER_BATCH, FILLER_BYTES = 64, 64, 1024


SAFE_POLICY_NOTE = (
    "limiter keys are never evicted; at full memory their writes fail with OOM and the application "
    "decides whether that fails open or closed"
)


@check("ratelimit.eviction_risk", safe=True)
def eviction_risk(context: CheckContext) -> Outcome:
    """the eviction policy's risk to limiter keys is reported"""
    settings = context.settings
    setting = settings.maxmemory_policy
    if not settings.rate_limit_enabled.value:
        return skipped(f"rate limiting is off ({settings.rate_limit_enabled.cite()})")
    if settings.rate_limit_store.value != "redis":
        return skipped(
            f"limiter state is not kept in Redis ({settings.rate_limit_store.cite()})",
            str(setting.source),
        )
    live = config_get(context.client, "maxmemory-policy")
    policy = live or setting.value
    where = f"{setting.cite()}" + (f", live {live}" if live and live != setting.value else "")
    head = f"Promise: limits survive memory pressure ({where}, {settings.maxmemory.cite()})."
    measured = {"policy": policy, "configured": setting.value, "live": live}
    if policy.startswith("allkeys-"):
        return warning(
            f"{head} Risk: under {policy} a full Redis may evict any key, limiter keys included; an evicted "
            "ratelimit:* key resets that client's limit (a limited client gets a fresh N). Use noeviction, "
            "or keep limiter keys on a Redis that does not fill up",
            str(setting.source),
            measured,
        )
    if policy.startswith("volatile-"):
        return warning(
            f"{head} Risk: under {policy} a full Redis evicts keys that carry a TTL, and every limiter key "
            "carries one, so limiter keys are among the first to go and their limits reset",
            str(setting.source),
            measured,
        )
    return ok(f"{head} Kept: under {policy} {SAFE_POLICY_NOTE}", str(setting.source), measured)


def _fill_past_the_limit(client: redis.Redis) -> tuple[int, bool]:
    """Filler keys until OOM or 4 MiB: how many were written, and whether OOM stopped it."""
    written, payload = 0, "x" * FILLER_BYTES
    try:
        for batch in range(FILLER_BATCHES):
            with client.pipeline(transaction=False) as pipe:
                for n in range(FILLER_BATCH):
                    pipe.set(f"filler:{batch}:{n}", payload)
                pipe.execute()
            written += FILLER_BATCH
    except redis_errors.OutOfMemoryError:
        return written, True
    return written, False


def limiter_keys(limiter: Limiter, key: str) -> list[str]:
    keys = getattr(limiter, "keys", None)
    return list(keys(key)) if callable(keys) else []


# Not for doctor: it launches a server (``launch``) and fills it past its memory limit.
@check("ratelimit.eviction_demonstration")
def eviction_demonstration(
    context: CheckContext, *, launch: VariantFactory, spec: LimiterSpec = NSELF_FIXED_SPEC
) -> Outcome:
    """a limited client stays limited under memory pressure (measured on a server like the env's)

    A server like the env's, with maxmemory just above its use, filled past its limit under the
    configured policy: does a limited key survive? The measured side of ``eviction_risk``."""
    settings = context.settings
    client = launch().client()
    contract = contract_of(settings)
    policy = config_get(client, "maxmemory-policy") or settings.maxmemory_policy.value
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(used + 512 * 1024))
    limiter = spec(client, namespace="", limit=contract.limit, window=contract.window)
    key = token("evict")
    filled = sum(limiter.hit(key).allowed for _ in range(contract.limit))
    limited = not limiter.hit(key).allowed
    written, oom = _fill_past_the_limit(client)
    evicted = int(client.info("stats")["evicted_keys"])
    survived = [name for name in limiter_keys(limiter, key) if client.exists(name)]
    try:
        reset = limiter.hit(key).allowed
        outcome = "allowed (its limit was reset)" if reset else "still denied"
    except redis_errors.OutOfMemoryError:
        reset, outcome = False, "refused with OOM (the limiter cannot write)"
    measured = {
        "policy": policy,
        "filled": filled,
        "limited_before": limited,
        "filler_keys_written": written,
        "oom": oom,
        "evicted_keys": evicted,
        "limiter_key_survived": bool(survived),
        "hit_after": outcome,
    }
    message = (
        f"Promise: a limited client stays limited under memory pressure "
        f"({settings.maxmemory_policy.cite()}). Seen with maxmemory = used + 512 KiB: {filled} hits "
        f"filled the limit, then {written} filler keys" + (" until OOM" if oom else "") + f", "
        f"{evicted} keys evicted, the limiter key {'survived' if survived else 'was evicted'}; "
        f"the next hit was {outcome}"
    )
    return (warning if reset else ok)(message, str(settings.maxmemory_policy.source), measured)


@check("ratelimit.deployment_keys", safe=True)
def deployment_keys(context: CheckContext) -> Outcome:
    """nself's ratelimit:* keys on the server carry TTLs within the window"""
    settings = context.settings
    window = settings.rate_limit_window
    client = context.client
    keys: list[str] = []
    cursor, calls = 0, 0
    while calls < SCAN_BUDGET and len(keys) < NSELF_KEY_SAMPLE:
        cursor, batch = client.scan(cursor, match="ratelimit:*", count=1000)
        keys.extend(batch)
        calls += 1
        if int(cursor) == 0:
            break
    complete = int(cursor) == 0
    keys = keys[:NSELF_KEY_SAMPLE]
    head = (
        f"Promise: nself's limiter keys (ratelimit:<key> counters, ratelimit:sliding:<key> sorted sets) "
        f"expire within the window ({window.cite()})."
    )
    if not keys:
        return ok(
            f"{head} Seen: no ratelimit:* keys"
            + ("" if complete else f" in the first {calls * 1000} keys scanned"),
            str(window.source),
            {"keys": 0},
        )
    problems = []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
        pipe.pttl(key)
    replies = pipe.execute()
    limit_ms = window.value * 1000
    for key, kind, ttl in zip(keys, replies[::2], replies[1::2], strict=True):
        expected = "zset" if key.startswith("ratelimit:sliding:") else None
        if int(ttl) == -1:
            problems.append(f"{key} ({kind}) has no TTL and never expires: a limit that never resets")
        elif int(ttl) > limit_ms:
            problems.append(f"{key} ({kind}) PTTL={ttl} ms is longer than the window")
        if expected and kind != expected:
            problems.append(f"{key} is a {kind}, nself's sliding window writes a zset")
    sample = f"{len(keys)} key(s)" + ("" if complete else " (a sample)")
    return verdict(
        not problems,
        f"{head} Seen: {sample}"
        + (f"; {'; '.join(problems[:5])}" if problems else ", each with a TTL within it"),
        str(window.source),
        {"keys": len(keys), "problems": len(problems)},
    )
