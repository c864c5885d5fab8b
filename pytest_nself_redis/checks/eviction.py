"""eviction: at maxmemory each policy does what Redis documents.

The policy checks take a server the run launched for one policy (a variant of the
env's target) and use Redis's own technique (``durability.fill``): the limit is set
just above the memory in use, keys are written until the limit is near, then as many
again. They judge behaviour only (what was evicted, what was refused, where memory
ended) and name the policy the server really runs, so a server that applies another
policy fails them. ``configured_policy_holds`` runs the same technique on the env's
own server at the configured ``REDIS_MAXMEMORY`` (scaled down when filling it would
take more than a few seconds) and names the layer where the promise broke.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from pytest_nself_redis.checks.base import CheckContext, CheckResult, check, error, skipped, verdict
from pytest_nself_redis.durability.fill import (
    HEADROOM,
    OOM_PROMISE,
    REDIS_MIN_KEYS,
    SLACK,
    Fill,
    FillError,
    Memory,
    Write,
    WriteTally,
    alternating,
    evicted_keys,
    existing,
    fill_to_limit,
    measure_write_rate,
    plain,
    read_keys,
    read_memory,
    volatile,
    warm_up,
    write_keys,
    write_until_evicted,
)
from pytest_nself_redis.layers import compare_layers, config_promises
from pytest_nself_redis.live.expiring import without_ttls
from pytest_nself_redis.live.keys import delete_prefix
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.project.settings import EVICTION_POLICIES

POLICIES = EVICTION_POLICIES
ALLKEYS = ("allkeys-lru", "allkeys-lfu", "allkeys-random")
VOLATILE = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")
NOEVICTION = "noeviction"
# The policies that promise which keys go first, and what they prefer.
PREFERENCES = {
    "allkeys-lru": "lru",
    "volatile-lru": "lru",
    "allkeys-lfu": "lfu",
    "volatile-lfu": "lfu",
    "volatile-ttl": "ttl",
}
TECHNIQUE = (
    "Redis's own maxmemory test: limit = used_memory + 100 KiB, write until used_memory + "
    f"{SLACK} > limit, then as many keys again; memory must end under limit + {SLACK} bytes, the "
    "slack Redis allows for the command that runs after each eviction pass"
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
# The configured-policy check writes values of this size and spends at most this long
# filling (both phases); beyond it the limit is lowered and the scale factor reported.
CONFIGURED_VALUE_BYTES = 1000
CONFIGURED_FILL_SECONDS = 2.0
CALIBRATION_KEYS = 500  # written first to measure the write rate the scale is based on
# Far below its limit the configured server's query buffer is noise: bigger pipelines.
CONFIGURED_PIPELINE_BYTES = 128 * 1024
MARKER_KEYS = 16  # keys without a TTL a volatile-* policy must keep on the configured server


def policy_family(policy: str) -> str:
    if policy == NOEVICTION:
        return "noeviction"
    return "allkeys" if policy.startswith("allkeys-") else "volatile"


@dataclass
class Run:
    """One application of the technique: limit, first fill, second write, what followed."""

    limit: int
    fill: Fill
    again: WriteTally
    again_count: int
    after: Memory
    evicted: int

    @property
    def over_limit(self) -> int:
        return self.after.counted - self.limit

    @property
    def refused(self) -> int:
        """OOM refusals in both phases (a fill ends at its first one)."""
        return self.fill.tally.refused + self.again.refused

    @property
    def first_refusal(self) -> str | None:
        return self.fill.tally.first_refusal or self.again.first_refusal

    @property
    def within(self) -> bool:
        return self.after.counted < self.limit + SLACK

    def seen(self) -> str:
        refusal = f" ({self.first_refusal})" if self.first_refusal else ""
        errors = f"; other errors: {self.again.other_errors}" if self.again.other_errors else ""
        early = (
            f" (the fill ended at an OOM refusal {self.limit - self.fill.memory.counted} bytes short of it)"
            if self.fill.tally.refused
            else ""
        )
        return (
            f"limit {self.limit} bytes; {len(self.fill.keys)} keys filled it{early}, {self.again_count} "
            f"more written: {len(self.again.acknowledged)} acknowledged, {self.refused} refused in all"
            f"{refusal}{errors}; evicted_keys +{self.evicted}; memory ended at {self.after.counted} "
            f"bytes ({self.over_limit:+d} vs the limit); the server runs maxmemory-policy "
            f"{self.after.policy}"
        )

    def measured(self, policy: str, **extra: Any) -> dict[str, Any]:
        return {
            "policy": policy,
            "live_policy": self.after.policy,
            "limit": self.limit,
            "filled": len(self.fill.keys),
            "written_again": self.again_count,
            "refused": self.refused,
            "evicted": self.evicted,
            "used_memory_after": self.after.counted,
            "over_limit": self.over_limit,
            **extra,
        }


def set_limit_just_above_use(server: redis.Redis, prefix: str, headroom: int = HEADROOM) -> int:
    """Redis's technique: maxmemory = memory in use + 100 KiB (after a warm-up, see
    ``durability.fill.warm_up``)."""
    warm_up(server, f"{prefix}warm-up")
    limit = read_memory(server).counted + headroom
    server.config_set("maxmemory", limit)
    return limit


def _technique(
    server: redis.Redis, prefix: str, write: Write, again_write: Write | None = None, again_ratio: float = 1.0
) -> tuple[Run, int]:
    """Fill to the limit, then write ``again_ratio`` times as many keys; return the run and
    evicted_keys before it."""
    before = evicted_keys(server)
    limit = set_limit_just_above_use(server, prefix)
    fill = fill_to_limit(server, limit, lambda index: f"{prefix}{index}", write)
    count = int(len(fill.keys) * again_ratio)
    start = fill.next_index
    names = [f"{prefix}{start + offset}" for offset in range(count)]
    again = write_keys(server, names, again_write or write, first_index=start)
    after = read_memory(server)
    return Run(limit, fill, again, count, after, evicted_keys(server) - before), before


def _judge(
    check_id: str, head: str, run: Run, broken: list[str], seen: str = "", **measured: Any
) -> CheckResult:
    if len(run.fill.keys) <= REDIS_MIN_KEYS:
        broken.append(f"the fill took only {len(run.fill.keys)} keys (Redis's test needs more than 10)")
    tail = f" Broken: {'; '.join(broken)}." if broken else " Kept."
    return verdict(
        check_id,
        not broken,
        f"{head} Seen: {run.seen()}{'; ' + seen if seen else ''}.{tail}",
        measured=run.measured(measured.pop("policy"), **measured),
    )


def _fill_failed(check_id: str, head: str, problem: FillError) -> CheckResult:
    return error(check_id, f"{head} Could not bring the server to its limit: {problem}")


def memory_limit_is_honoured(context: CheckContext, server: redis.Redis, policy: str) -> CheckResult:
    """Writes past maxmemory leave memory under the limit (SETEX keys, as Redis's test)."""
    check_id = f"eviction.memory_limit.{policy}"
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
        run, _ = _technique(server, context.key_prefix(f"evict-{policy}-"), volatile())
    except FillError as problem:
        return _fill_failed(check_id, head, problem)
    broken = []
    if not run.within:
        broken.append(f"memory ended {run.over_limit - SLACK} bytes beyond limit + {SLACK}")
    if policy == NOEVICTION:
        if run.refused == 0:
            broken.append("no write past the limit was refused")
        if run.evicted:
            broken.append(f"{run.evicted} keys were evicted")
    else:
        if run.refused:
            broken.append(f"{run.refused} writes were refused instead of evicting keys")
        if run.evicted == 0:
            broken.append("evicted_keys did not grow")
    return _judge(check_id, head, run, broken, policy=policy)


def plain_keys_follow_the_policy(context: CheckContext, server: redis.Redis, policy: str) -> CheckResult:
    """allkeys-* evict keys without TTL; volatile-* and noeviction refuse with OOM and keep them."""
    check_id = f"eviction.plain_keys.{policy}"
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
    try:
        run, _ = _technique(server, context.key_prefix(f"plain-{policy}-"), plain())
    except FillError as problem:
        return _fill_failed(check_id, head, problem)
    survivors = existing(server, run.fill.keys)
    gone = len(run.fill.keys) - len(survivors)
    broken = []
    if not run.within:
        broken.append(f"memory ended {run.over_limit - SLACK} bytes beyond limit + {SLACK}")
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
    return _judge(
        check_id, head, run, broken, f"{gone} of {len(run.fill.keys)} first-fill keys gone", policy=policy
    )


def persistent_keys_are_spared(context: CheckContext, server: redis.Redis, policy: str) -> CheckResult:
    """volatile-* evict only keys with a TTL: every key without one survives."""
    check_id = f"eviction.volatile_only.{policy}"
    head = (
        f"Promise: {policy} evicts only keys that have a TTL: half the first fill has none "
        "(even-numbered keys, plain SET) and every one of them survives while as many volatile keys "
        f"again are written past the limit ({TECHNIQUE})."
    )
    if policy_family(policy) != "volatile":
        return skipped(check_id, f"{policy} is not a volatile-* policy")
    try:
        run, _ = _technique(
            server,
            context.key_prefix(f"mixed-{policy}-"),
            alternating(plain(), volatile()),
            again_write=volatile(),
        )
    except FillError as problem:
        return _fill_failed(check_id, head, problem)
    persistent = run.fill.keys[0::2]
    kept = existing(server, persistent)
    broken = []
    if len(kept) < len(persistent):
        broken.append(f"{len(persistent) - len(kept)} of {len(persistent)} keys without a TTL were evicted")
    if not run.within:
        broken.append(f"memory ended {run.over_limit - SLACK} bytes beyond limit + {SLACK}")
    if run.evicted == 0:
        broken.append("evicted_keys did not grow")
    return _judge(
        check_id,
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


def policy_keeps_the_right_keys(context: CheckContext, server: redis.Redis, policy: str) -> CheckResult:
    """LRU keeps a recently read key, LFU a frequently read one, volatile-ttl the longest TTL."""
    check_id = f"eviction.preference.{policy}"
    preference = PREFERENCES.get(policy)
    if preference is None:
        return skipped(check_id, f"{policy} promises no order of eviction")
    hot_count = f"one key in {HOT_EVERY}"
    head = {
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
    if preference == "ttl":
        write: Write = volatile(_hot_ttl)
        again: Write = volatile(NEW_TTL)
    else:
        write = plain() if policy.startswith("allkeys-") else volatile()
        again = write
    prefix = context.key_prefix(f"prefer-{policy}-")
    before = evicted_keys(server)
    limit = set_limit_just_above_use(server, prefix, PREFERENCE_HEADROOM)
    try:
        fill = fill_to_limit(server, limit, lambda index: f"{prefix}{index}", write, gap=PREFERENCE_GAP)
    except FillError as problem:
        return _fill_failed(check_id, head, problem)
    hot = fill.keys[0::HOT_EVERY]
    if preference == "lru":
        time.sleep(LRU_CLOCK_WAIT_S)
    reads = LFU_READS if preference == "lfu" else 1 if preference == "lru" else 0
    if reads:
        read_keys(server, hot, reads)
    others_count = len(fill.keys) - len(hot)
    tally, count = write_until_evicted(
        server,
        lambda index: f"{prefix}{index}",
        again,
        first_index=fill.next_index,
        evictions=others_count // 2,
        max_keys=4 * len(fill.keys),
    )
    run = Run(limit, fill, tally, count, read_memory(server), evicted_keys(server) - before)
    hot_set = set(hot)
    others = [name for name in fill.keys if name not in hot_set]
    hot_kept = existing(server, hot)
    others_kept = existing(server, others)
    broken = []
    if len(hot_kept) < len(hot):
        broken.append(
            f"{len(hot) - len(hot_kept)} of the {len(hot)} keys the policy should keep were evicted"
        )
    if len(others_kept) == len(others) or run.evicted == 0:
        broken.append("no other key was evicted")
    if run.refused:
        broken.append(f"{run.refused} writes were refused instead of evicting keys")
    summary = (
        f"{len(hot_kept)} of {len(hot)} preferred keys kept; {len(others) - len(others_kept)} of "
        f"{len(others)} other first-fill keys evicted"
    )
    return _judge(
        check_id,
        head,
        run,
        broken,
        summary,
        policy=policy,
        preferred_kept=len(hot_kept),
        preferred=len(hot),
        others_evicted=len(others) - len(others_kept),
    )


@dataclass(frozen=True)
class Scale:
    """How much of the configured headroom the configured-policy check fills."""

    configured_limit: int
    limit: int
    headroom: int
    rate_bytes_per_s: float
    estimated_s: float

    @property
    def factor(self) -> float:
        used = self.configured_limit - self.headroom
        return (self.limit - used) / self.headroom if self.headroom else 1.0

    @property
    def scaled(self) -> bool:
        return self.limit < self.configured_limit

    def describe(self) -> str:
        rate = f"{self.rate_bytes_per_s / 1e6:.1f} MB/s"
        if not self.scaled:
            return (
                f"Not scaled: filling the {self.headroom} bytes of headroom twice at the measured {rate} "
                f"takes about {self.estimated_s:.1f} s."
            )
        return (
            f"Scaled: filling the {self.headroom} bytes of headroom twice at the measured {rate} would "
            f"take about {self.estimated_s:.1f} s (more than {CONFIGURED_FILL_SECONDS:.0f} s), so maxmemory "
            f"was lowered to {self.limit} bytes for this check (scale factor {self.factor:.3f} of the "
            f"headroom) and restored to {self.configured_limit} afterwards."
        )


def _layer_problems(context: CheckContext, live: dict[str, str | None]) -> list[str]:
    promises = config_promises(context.settings)
    problems = []
    for promise_id in ("maxmemory", "maxmemory-policy"):
        promise = promises[promise_id]
        verdict_ = compare_layers(promise, context.service, live[promise.directive])
        if not verdict_.ok:
            problems.append(verdict_.message)
    return problems


@check("eviction.configured_policy", safe=False)
def configured_policy_holds(context: CheckContext) -> CheckResult:
    """at the configured maxmemory the server applies the configured policy"""
    check_id = "eviction.configured_policy"
    settings = context.settings
    policy, maxmemory = settings.maxmemory_policy, settings.maxmemory
    source = f"{policy.source}, {maxmemory.source}"
    head = (
        f"Promise: at maxmemory {settings.describe_maxmemory()} ({maxmemory.cite()}) the server applies "
        f"{policy.value} ({policy.cite()})."
    )
    if maxmemory.value == 0:
        return skipped(
            check_id,
            f"no memory limit is promised ({maxmemory.cite()}), so {policy.value} never applies",
            source,
        )
    if not context.launched:
        return skipped(
            check_id,
            "fills the server to its memory limit, so it runs only on a server this run launched",
            source,
        )
    # Keys without a TTL are part of what it watches: no TTLs added (destructive, opt-in on attach).
    client = without_ttls(context.client)
    live = {name: config_get(client, name) for name in ("maxmemory", "maxmemory-policy")}
    if live["maxmemory"] is None:
        return skipped(
            check_id, "CONFIG is not available on this server, so the limit cannot be read", source
        )
    problems = _layer_problems(context, live)
    configured_limit = int(live["maxmemory"])
    if configured_limit == 0:
        return error(
            check_id,
            f"{head} Broken: the live server has no memory limit (maxmemory=0), so it grows until the "
            f"container or the OS kills it and {policy.value} never applies. Traced through the layers: "
            + " ".join(problems),
            source,
            {"live_maxmemory": 0, "live_policy": live.get("maxmemory-policy")},
        )
    prefix = context.key_prefix("evict-configured-")
    try:
        return _configured_run(
            context,
            check_id=check_id,
            head=head,
            source=source,
            prefix=prefix,
            configured_limit=configured_limit,
            problems=problems,
        )
    finally:
        # Leave the server as found: our keys gone, its own limit back.
        delete_prefix(client, prefix)
        client.config_set("maxmemory", configured_limit)


def _configured_run(
    context: CheckContext,
    *,
    check_id: str,
    head: str,
    source: str,
    prefix: str,
    configured_limit: int,
    problems: list[str],
) -> CheckResult:
    # Keys without a TTL are part of what it watches: no TTLs added (destructive, opt-in on attach).
    client = without_ttls(context.client)
    promised = context.settings.maxmemory_policy.value
    family = policy_family(promised)
    value = "v" * CONFIGURED_VALUE_BYTES
    write: Write = volatile(3600, value) if family == "volatile" else plain(value)
    markers = [f"{prefix}marker{index}" for index in range(MARKER_KEYS)] if family == "volatile" else []
    if markers:
        write_keys(client, markers, plain(value))
    before = evicted_keys(client)
    used = read_memory(client).counted
    headroom = configured_limit - used
    calibration_count = max(1, min(CALIBRATION_KEYS, headroom // (4 * CONFIGURED_VALUE_BYTES)))
    if headroom <= 4 * SLACK:
        return skipped(
            check_id,
            f"the server is already at its limit ({used} of {configured_limit} bytes in use), so there is "
            "no room to watch the policy act without deleting data that is not ours",
            source,
        )
    try:
        calibration, rate = measure_write_rate(
            client, lambda index: f"{prefix}{index}", write, calibration_count, CONFIGURED_VALUE_BYTES
        )
    except FillError as problem:
        return error(check_id, f"{head} Could not write below the limit: {problem}", source)
    now = read_memory(client).counted
    estimated = 2 * (configured_limit - now) / rate
    limit = configured_limit
    if estimated > CONFIGURED_FILL_SECONDS:
        limit = now + int(rate * CONFIGURED_FILL_SECONDS / 2)
        client.config_set("maxmemory", limit)
    scale = Scale(configured_limit, limit, headroom, rate, estimated)
    try:
        fill = fill_to_limit(
            client,
            limit,
            lambda index: f"{prefix}{index}",
            write,
            first_index=len(calibration),
            value_bytes=CONFIGURED_VALUE_BYTES,
        )
    except FillError as problem:
        return error(
            check_id, f"{head} {scale.describe()} Could not bring the server to its limit: {problem}", source
        )
    fill.keys[:0] = calibration
    count = len(fill.keys)
    names = [f"{prefix}{fill.next_index + offset}" for offset in range(count)]
    again = write_keys(
        client,
        names,
        write,
        first_index=fill.next_index,
        value_bytes=CONFIGURED_VALUE_BYTES,
        pipeline_bytes=CONFIGURED_PIPELINE_BYTES,
    )
    run = Run(limit, fill, again, count, read_memory(client), evicted_keys(client) - before)
    survivors = existing(client, fill.keys)
    gone = count - len(survivors)
    markers_kept = existing(client, markers)
    broken: list[str] = []
    if not run.within:
        broken.append(f"memory ended {run.over_limit - SLACK} bytes beyond limit + {SLACK}")
    if family == "noeviction":
        if run.refused == 0:
            broken.append("no write past the limit was refused")
        if gone or run.evicted:
            broken.append(f"{gone} of our keys are gone (evicted_keys +{run.evicted})")
    else:
        if run.refused:
            broken.append(f"{run.refused} writes were refused with OOM instead of evicting keys")
        if run.evicted == 0:
            broken.append("evicted_keys did not grow")
        if len(markers_kept) < len(markers):
            broken.append(
                f"{len(markers) - len(markers_kept)} of {len(markers)} keys without a TTL were evicted"
            )
    if problems:
        broken.append("the deployment does not run the promised limit and policy")
    seen = f"{gone} of the {count} first-fill keys gone" + (
        f"; {len(markers_kept)} of {len(markers)} keys without a TTL kept" if markers else ""
    )
    tail = f" Broken: {'; '.join(broken)}." if broken else " Kept."
    causes = f" Traced through the layers: {' '.join(problems)}" if problems else ""
    return verdict(
        check_id,
        not broken,
        f"{head} {scale.describe()} Seen: {run.seen()}; {seen}.{tail}{causes}",
        source,
        run.measured(
            promised,
            configured_limit=configured_limit,
            scale_factor=round(scale.factor, 4),
            scaled=scale.scaled,
            write_rate_mb_s=round(rate / 1e6, 1),
            first_fill_gone=gone,
        ),
    )
