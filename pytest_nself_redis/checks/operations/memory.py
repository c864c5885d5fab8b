"""Memory as MEMORY DOCTOR judges it (its thresholds: ``live.memory_doctor``), and evictions
where the policy promises none. Used memory against maxmemory is ``health.memory``'s.
"""

from __future__ import annotations

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import Unknown, info_section, number, operations_check, size
from pytest_nself_redis.checks.results import Outcome, error, ok, warning
from pytest_nself_redis.live.memory_doctor import (
    EMPTY_BYTES,
    FRAGMENTATION_BYTES,
    FRAGMENTATION_RATIO,
    PEAK_RATIO,
)


def _too_small(used: int) -> str | None:
    if used < EMPTY_BYTES:
        return (
            f"used_memory={size(used)} is under {size(EMPTY_BYTES)}, where MEMORY DOCTOR draws no "
            "conclusion (a nearly empty instance's ratios mean nothing)"
        )
    return None


@operations_check("operations.fragmentation")
def fragmentation_is_low(context: CheckContext) -> Outcome:
    """memory fragmentation stays within MEMORY DOCTOR's threshold"""
    promise = (
        f"Promise: memory is not wasted by fragmentation: MEMORY DOCTOR flags mem_fragmentation_ratio "
        f"(RSS / used_memory) over {FRAGMENTATION_RATIO} with over {size(FRAGMENTATION_BYTES)} wasted."
    )
    fields = info_section(context, "memory")
    used, rss = number(fields, "used_memory", "memory"), number(fields, "used_memory_rss", "memory")
    ratio = float(fields.get("mem_fragmentation_ratio") or (rss / used if used else 0.0))
    wasted = int(fields.get("mem_fragmentation_bytes", rss - used))
    measured = {"used_memory": used, "used_memory_rss": rss, "ratio": ratio, "wasted_bytes": wasted}
    seen = f"mem_fragmentation_ratio={ratio:.2f}, {size(wasted)} wasted (RSS {size(rss)}, used {size(used)})"
    small = _too_small(used)
    if small is not None:
        return ok(f"{promise} Seen: {seen}; {small}", measured=measured)
    if ratio > FRAGMENTATION_RATIO and wasted > FRAGMENTATION_BYTES:
        return warning(
            f"{promise} Seen: {seen}. RSS is what the kernel and a container's memory limit count, so "
            "this memory is lost to the dataset: turn on activedefrag yes (jemalloc builds), or restart "
            "the server from its persistence files at a quiet time",
            measured=measured,
        )
    return ok(f"{promise} Kept: {seen}", measured=measured)


@operations_check("operations.memory_peak")
def peak_is_near_usage(context: CheckContext) -> Outcome:
    """the memory peak is within MEMORY DOCTOR's 150% of what is used now"""
    promise = (
        f"Promise: memory use is steady: MEMORY DOCTOR flags a peak (used_memory_peak) over {PEAK_RATIO} "
        "times today's used_memory, which the allocator seldom gives back."
    )
    fields = info_section(context, "memory")
    used, peak = number(fields, "used_memory", "memory"), number(fields, "used_memory_peak", "memory")
    ratio = peak / used if used else 0.0
    measured = {"used_memory": used, "used_memory_peak": peak, "ratio": round(ratio, 3)}
    seen = f"used_memory_peak={size(peak)}, {ratio:.2f} times used_memory={size(used)}"
    small = _too_small(used)
    if small is not None:
        return ok(f"{promise} Seen: {seen}; {small}", measured=measured)
    if ratio > PEAK_RATIO:
        return warning(
            f"{promise} Seen: {seen}. The memory of the peak is likely still held (expect a high "
            "fragmentation ratio), and the peak is what maxmemory and the container limit must allow for: "
            "find what filled it (a bulk load, a big MULTI or client output buffers) before it comes back",
            measured=measured,
        )
    return ok(f"{promise} Kept: {seen}", measured=measured)


def _eviction_verdict(context: CheckContext, policy: str, evicted: int, uptime: int) -> Outcome:
    """The rule for ``policy``, stated in the message."""
    setting, queues = context.settings.maxmemory_policy, context.settings.queues
    head = (
        f"Promise: no key is evicted where the policy promises none ({setting.cite()}; live "
        f"maxmemory-policy {policy})."
    )
    seen = f"evicted_keys={evicted} since the server started {uptime} s ago (or since CONFIG RESETSTAT)"
    measured = {"policy": policy, "evicted_keys": evicted, "uptime_in_seconds": uptime}
    source = str(setting.source)
    if evicted == 0:
        return ok(f"{head} Kept: {seen}", source, measured)
    if policy == "noeviction":
        return error(
            f"{head} Broken: {seen}. Rule: noeviction never evicts, so these keys were lost while another "
            "policy was in force (CONFIG SET maxmemory-policy while the server ran); find who changed it",
            source,
            measured,
        )
    if policy.startswith("volatile-"):
        return warning(
            f"{head} Seen: {seen}. Rule: volatile-* evicts keys that carry a TTL before they expire: caches "
            "expect it, but a TTL'd lock, session or rate-limit window lost early is a bug "
            "(BullMQ's job locks "
            "carry TTLs); raise maxmemory or give those keys no TTL",
            source,
            measured,
        )
    if queues.value:
        return warning(
            f"{head} Seen: {seen}. Rule: {policy} evicts any key, which a cache expects, but this env runs "
            f"queues ({queues.cite()}): job keys may be among the evicted (queue.eviction_policy says what "
            "BullMQ needs)",
            str(queues.source),
            measured,
        )
    return ok(
        f"{head} Seen: {seen}. Rule: {policy} evicts any key by design, and this env runs no queue "
        f"({queues.cite()}), so the server is a cache doing its job",
        source,
        measured,
    )


@operations_check("operations.evictions")
def no_eviction_the_policy_rules_out(context: CheckContext) -> Outcome:
    """no key was evicted where the policy promises none"""
    memory, stats = info_section(context, "memory"), info_section(context, "stats")
    evicted = number(stats, "evicted_keys", "stats")
    uptime = int(info_section(context, "server").get("uptime_in_seconds", 0))
    policy = str(memory.get("maxmemory_policy", ""))
    if not policy:
        raise Unknown("INFO memory has no maxmemory_policy")
    return _eviction_verdict(context, policy, evicted, uptime)
