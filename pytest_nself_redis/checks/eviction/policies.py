"""eviction, per policy: each promise a family of checks over the policies it concerns, each
run on a server launched for that policy (``launch``, the suites' ``nself_variant``)."""

from __future__ import annotations

import time

import redis

from pytest_nself_redis.checks.base import CheckContext, VariantFactory
from pytest_nself_redis.checks.eviction.technique import (
    NOEVICTION,
    POLICIES,
    PREFERENCES,
    TECHNIQUE,
    VOLATILE,
    Run,
    fill_failed,
    judge,
    policy_family,
    set_limit_just_above_use,
    technique,
)
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, skipped
from pytest_nself_redis.durability.fill import (
    OOM_PROMISE,
    FillError,
    Write,
    alternating,
    evicted_keys,
    existing,
    fill_to_limit,
    plain,
    read_keys,
    read_memory,
    volatile,
    write_until_evicted,
)

# One key in HOT_EVERY of the first fill is the one the policy should keep.
HOT_EVERY = 40
# Redis's LRU clock has a resolution of one second (LRU_CLOCK_RESOLUTION) and is
# refreshed by serverCron (10 times a second), so keys touched 1.25 s after the others
# were written are certainly younger in Redis's eyes.
LRU_CLOCK_WAIT_S = 1.25
# 100 reads lift an LFU counter from 5 (a new key) to about 10 with the default
# lfu-log-factor 10; unread keys stay at 5.
LFU_READS = 100
HOT_TTL, COLD_TTL, NEW_TTL = 100_000, 1_000, 5_000
# The preference checks fill a larger room and stop further from the limit, so reading
# the preferred keys (a client buffer that grows by a few KiB) evicts nothing before
# they are read; then they write until half the other keys are gone.
PREFERENCE_HEADROOM = 400 * 1024
PREFERENCE_GAP = 64 * 1024


def policy_server(launch: VariantFactory, policy: str) -> redis.Redis:
    """A server like the env's, with ``policy`` and no persistence (nothing to fork or fsync)."""
    return launch(REDIS_MAXMEMORY_POLICY=policy, REDIS_PERSISTENCE="false").client()


@check("eviction.memory_limit.{}", params=POLICIES, title="with {} memory stays under maxmemory")
def memory_limit_is_honoured(context: CheckContext, policy: str, *, launch: VariantFactory) -> Outcome:
    """Writes past maxmemory leave memory under the limit (SETEX keys, as Redis's test)."""
    if policy == NOEVICTION:
        head = (
            "Promise: with maxmemory-policy noeviction, writes past maxmemory are refused with OOM, "
            f"nothing is evicted and memory stays under the limit ({TECHNIQUE})."
        )
    else:
        head = (
            f"Promise: with maxmemory-policy {policy}, Redis evicts keys so that memory stays under "
            f"maxmemory while writes go on past it ({TECHNIQUE})."
        )
    try:
        run = technique(policy_server(launch, policy), context.key_prefix(f"evict-{policy}-"), volatile())
    except FillError as problem:
        return fill_failed(head, problem)
    lost = f"{run.evicted} keys were evicted" if run.evicted else None
    return judge(head, run, run.broken_promises(policy == NOEVICTION, lost), policy=policy)


@check("eviction.plain_keys.{}", params=POLICIES, title="{} treats keys without a TTL as it promises")
def plain_keys_follow_the_policy(context: CheckContext, policy: str, *, launch: VariantFactory) -> Outcome:
    """allkeys-* evict keys without TTL; volatile-* and noeviction refuse with OOM and keep them."""
    family = policy_family(policy)
    if family == "allkeys":
        head = (
            f"Promise: {policy} evicts keys that have no TTL to stay under maxmemory, without "
            f"refusing writes ({TECHNIQUE}, with plain SET keys)."
        )
    else:
        head = (
            f"Promise: {policy} never evicts a key without a TTL: with no volatile key to evict, "
            f"writes past maxmemory get `{OOM_PROMISE}` and every key stays ({TECHNIQUE}, with "
            "plain SET keys)."
        )
    server = policy_server(launch, policy)
    try:
        run = technique(server, context.key_prefix(f"plain-{policy}-"), plain())
    except FillError as problem:
        return fill_failed(head, problem)
    gone = len(run.fill.keys) - len(existing(server, run.fill.keys))
    broken = run.beyond_limit()
    if family == "allkeys":
        if run.refused:
            broken.append(f"{run.refused} writes were refused with OOM instead of evicting keys")
        if run.evicted == 0 or gone == 0:
            broken.append("no key without a TTL was evicted")
    else:
        if run.refused == 0:
            broken.append("no write past the limit was refused")
        elif not (run.first_refusal or "").startswith(OOM_PROMISE):
            broken.append(f"the refusal was not Redis's OOM error: {run.first_refusal}")
        if gone or run.evicted:
            broken.append(f"{gone} keys without a TTL are gone (evicted_keys +{run.evicted})")
    return judge(head, run, broken, f"{gone} of {len(run.fill.keys)} first-fill keys gone", policy=policy)


@check("eviction.volatile_only.{}", params=VOLATILE, title="{} evicts only keys with a TTL")
def persistent_keys_are_spared(context: CheckContext, policy: str, *, launch: VariantFactory) -> Outcome:
    """volatile-* evict only keys with a TTL: every key without one survives."""
    head = (
        f"Promise: {policy} evicts only keys that have a TTL: half the first fill has none "
        "(even-numbered keys, plain SET) and every one of them survives while as many volatile keys "
        f"again are written past the limit ({TECHNIQUE})."
    )
    if policy_family(policy) != "volatile":
        return skipped(f"{policy} is not a volatile-* policy")
    server = policy_server(launch, policy)
    try:
        run = technique(
            server,
            context.key_prefix(f"mixed-{policy}-"),
            alternating(plain(), volatile()),
            again_write=volatile(),
        )
    except FillError as problem:
        return fill_failed(head, problem)
    persistent = run.fill.keys[0::2]
    kept = existing(server, persistent)
    broken = []
    if len(kept) < len(persistent):
        broken.append(f"{len(persistent) - len(kept)} of {len(persistent)} keys without a TTL were evicted")
    broken += run.beyond_limit()
    if run.evicted == 0:
        broken.append("evicted_keys did not grow")
    return judge(
        head,
        run,
        broken,
        f"{len(kept)} of {len(persistent)} keys without a TTL kept",
        policy=policy,
        persistent_kept=len(kept),
        persistent=len(persistent),
    )


def _hot_ttl(index: int) -> int:
    return HOT_TTL if index % HOT_EVERY == 0 else COLD_TTL + index % 1000


def _preference_promise(policy: str, preference: str) -> str:
    hot_count = f"one key in {HOT_EVERY}"
    return {
        "lru": (
            f"Promise: {policy} evicts the least recently used keys first: {hot_count} of the first "
            f"fill, read {LRU_CLOCK_WAIT_S} s after all were written (Redis's LRU clock ticks once a "
            "second), outlives the keys nobody read while new keys are written past the limit until "
            "half the others are evicted."
        ),
        "lfu": (
            f"Promise: {policy} evicts the least frequently used keys first: {hot_count} of the first "
            f"fill, read {LFU_READS} times each, outlives the keys never read while new keys are written "
            "past the limit until half the others are evicted."
        ),
        "ttl": (
            f"Promise: volatile-ttl evicts the keys closest to expiring first: {hot_count} of the first "
            f"fill has a TTL of {HOT_TTL} s, the others {COLD_TTL}-{COLD_TTL + 999} s, and the long ones "
            f"outlive the short ones while new keys (TTL {NEW_TTL} s) are written past the limit until "
            "half the others are evicted."
        ),
    }[preference]


def _writes(policy: str, preference: str) -> tuple[Write, Write]:
    """How the first fill and the keys written after it are written for ``preference``."""
    if preference == "ttl":
        return volatile(_hot_ttl), volatile(NEW_TTL)
    write = plain() if policy.startswith("allkeys-") else volatile()
    return write, write


def _touch(server: redis.Redis, hot: list[str], preference: str) -> None:
    """Make the preferred keys what the policy keeps: read once after the LRU clock has
    ticked, or read often; volatile-ttl's are preferred by their TTL alone."""
    if preference == "lru":
        time.sleep(LRU_CLOCK_WAIT_S)
        read_keys(server, hot, 1)
    elif preference == "lfu":
        read_keys(server, hot, LFU_READS)


@check("eviction.preference.{}", params=tuple(PREFERENCES), title="{} evicts the right keys first")
def policy_keeps_the_right_keys(context: CheckContext, policy: str, *, launch: VariantFactory) -> Outcome:
    """LRU keeps a recently read key, LFU a frequently read one, volatile-ttl the longest TTL."""
    preference = PREFERENCES.get(policy)
    if preference is None:
        return skipped(f"{policy} promises no order of eviction")
    head = _preference_promise(policy, preference)
    write, again = _writes(policy, preference)
    server = policy_server(launch, policy)
    prefix = context.key_prefix(f"prefer-{policy}-")
    before = evicted_keys(server)
    limit = set_limit_just_above_use(server, prefix, PREFERENCE_HEADROOM)
    try:
        fill = fill_to_limit(server, limit, lambda index: f"{prefix}{index}", write, gap=PREFERENCE_GAP)
    except FillError as problem:
        return fill_failed(head, problem)
    hot = fill.keys[0::HOT_EVERY]
    _touch(server, hot, preference)
    hot_set = set(hot)
    others = [name for name in fill.keys if name not in hot_set]
    tally, count = write_until_evicted(
        server,
        lambda index: f"{prefix}{index}",
        again,
        first_index=fill.next_index,
        evictions=len(others) // 2,
        max_keys=4 * len(fill.keys),
    )
    run = Run(limit, fill, tally, count, read_memory(server), evicted_keys(server) - before)
    hot_kept, others_gone = len(existing(server, hot)), len(others) - len(existing(server, others))
    broken = []
    if hot_kept < len(hot):
        broken.append(f"{len(hot) - hot_kept} of the {len(hot)} keys the policy should keep were evicted")
    if others_gone == 0 or run.evicted == 0:
        broken.append("no other key was evicted")
    if run.refused:
        broken.append(f"{run.refused} writes were refused instead of evicting keys")
    summary = (
        f"{hot_kept} of {len(hot)} preferred keys kept; {others_gone} of {len(others)} other "
        "first-fill keys evicted"
    )
    return judge(
        head,
        run,
        broken,
        summary,
        policy=policy,
        preferred_kept=hot_kept,
        preferred=len(hot),
        others_evicted=others_gone,
    )
