"""The application's keys, from one bounded, rate-limited SCAN (``live.audit``): sessions and cache
entries that never expire, and which prefixes hold the memory.

The audit runs once and its result is shared by these checks for ``AUDIT_REUSE_SECONDS`` (doctor,
which runs them side by side, has the others wait for the one scan). BullMQ keys under an
evicting policy are ``queue.eviction_policy``'s.
"""

from __future__ import annotations

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import Unknown, info_section, operations_check, size
from pytest_nself_redis.checks.results import Outcome, ok, warning
from pytest_nself_redis.live.audit import Audit, AuditRefused, PrefixStats, audit_keyspace
from pytest_nself_redis.live.refusals import explain

AUDIT_REUSE_SECONDS = 30.0
SESSION_PREFIX = "session:"
CACHE_PREFIX = "cache:"
TOP_PREFIXES = 5
_MEMO = "operations.keyspace_audit"


def audit(context: CheckContext) -> Audit:
    """The keyspace audit of this server, reused while fresh (raises Unknown when refused)."""

    def look() -> Audit:
        try:
            return audit_keyspace(context.client)
        except AuditRefused as refused:
            raise Unknown(f"the keyspace cannot be scanned here: {refused}") from None
        except redis_errors.RedisError as problem:
            raise Unknown(f"the keyspace scan failed: {explain(problem)}") from None

    return context.memo.get(_MEMO, AUDIT_REUSE_SECONDS, look)


def _without_ttl(stats: PrefixStats, prefix: str) -> str:
    examples = ", ".join(stats.examples_without_ttl)
    return f"{stats.without_ttl} of {stats.keys} {prefix}* keys have no TTL (e.g. {examples})"


def _measured(found: Audit, stats: PrefixStats) -> dict[str, object]:
    return {
        "keys": stats.keys,
        "without_ttl": stats.without_ttl,
        "examples": stats.examples_without_ttl,
        "scanned": found.scanned,
        "dbsize": found.dbsize,
        "complete": found.complete,
    }


@operations_check("operations.session_ttl")
def sessions_expire(context: CheckContext) -> Outcome:
    """every session key (session:*) carries a TTL"""
    promise = (
        "Promise: every session key (session:<id>, nself's session store) expires: one without a TTL stays "
        "after its user has gone, and under a volatile-* policy it can never be evicted."
    )
    found = audit(context)
    stats = found.of(SESSION_PREFIX)
    measured = _measured(found, stats)
    if stats.without_ttl:
        return warning(
            f"{promise} Seen: {_without_ttl(stats, SESSION_PREFIX)}; {found.scope()}. Write sessions with "
            "SET ... EX (or EXPIRE them) from their expires_at",
            measured=measured,
        )
    return ok(
        f"{promise} Kept: {stats.keys} session keys, all with a TTL; {found.scope()}", measured=measured
    )


@operations_check("operations.cache_ttl")
def cache_keys_can_be_evicted(context: CheckContext) -> Outcome:
    """under a volatile-* policy, every cache key (cache:*) carries a TTL"""
    setting = context.settings.maxmemory_policy
    policy = str(info_section(context, "memory").get("maxmemory_policy", ""))
    found = audit(context)
    promise = (
        f"Promise: the cache can make room: under a volatile-* policy ({setting.cite()}; live {policy}) only "
        "keys with a TTL are evicted, so every cache key (cache:<key>) carries one."
    )
    stats = found.of(CACHE_PREFIX)
    measured = {**_measured(found, stats), "policy": policy}
    if stats.without_ttl and policy.startswith("volatile-"):
        return warning(
            f"{promise} Seen: {_without_ttl(stats, CACHE_PREFIX)}; {found.scope()}. They are "
            "never evicted: the "
            "cache grows to maxmemory and then writes fail with OOM. Give cache entries a TTL (SET ... EX)",
            str(setting.source),
            measured,
        )
    rule = "" if policy.startswith("volatile-") else f" ({policy} does not need TTLs to evict)"
    return ok(
        f"{promise} Kept: {stats.keys} cache keys, {stats.without_ttl} without a TTL{rule}; {found.scope()}",
        str(setting.source),
        measured,
    )


@operations_check("operations.memory_by_prefix")
def memory_by_prefix(context: CheckContext) -> Outcome:
    """which key prefixes hold the memory (sampled MEMORY USAGE)"""
    found = audit(context)
    rows = [
        {
            "prefix": prefix,
            "keys": stats.keys,
            "without_ttl": stats.without_ttl,
            "sampled": stats.sampled,
            "estimated_bytes": stats.estimated_bytes,
        }
        for prefix, stats in found.top(TOP_PREFIXES)
    ]
    measured = {"prefixes": rows, "scanned": found.scanned, "dbsize": found.dbsize, "seconds": found.seconds}
    promise = (
        f"Promise: the report says where the memory goes: the top {TOP_PREFIXES} key prefixes by "
        "MEMORY USAGE "
        "of up to 100 sampled keys each, times their keys."
    )
    if found.memory_refused is not None:
        shown = ", ".join(f"{row['prefix']} {row['keys']} keys" for row in rows) or "no key"
        return ok(
            f"{promise} Seen: MEMORY USAGE {found.memory_refused}, so only key counts: {shown}; "
            f"{found.scope()}",
            measured=measured,
        )
    shown = "; ".join(
        f"{row['prefix']} {row['keys']} keys ≈ {size(int(str(row['estimated_bytes'])))}" for row in rows
    )
    return ok(f"{promise} Seen: {shown or 'no application key'}; {found.scope()}", measured=measured)
