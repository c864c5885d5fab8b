"""Redis's own maxmemory technique and the vocabulary of eviction: the policies, their
families, one run of the technique and how it is judged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from pytest_nself_redis.checks.results import Outcome, error, verdict
from pytest_nself_redis.durability.fill import (
    HEADROOM,
    REDIS_MIN_KEYS,
    SLACK,
    Fill,
    FillError,
    Memory,
    Write,
    WriteTally,
    evicted_keys,
    fill_to_limit,
    read_memory,
    warm_up,
    write_keys,
)
from pytest_nself_redis.project.settings import EVICTION_POLICIES

POLICIES = EVICTION_POLICIES
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

    def beyond_limit(self) -> list[str]:
        """The broken promise when memory ended past the limit and Redis's slack (else none)."""
        if self.within:
            return []
        return [f"memory ended {self.over_limit - SLACK} bytes beyond limit + {SLACK}"]

    def broken_promises(self, refusing: bool, lost: str | None) -> list[str]:
        """What the run broke of its policy's promise beside the limit: a refusing policy
        (noeviction) refuses writes past it and loses nothing (``lost`` says what was lost, if
        anything); an evicting one evicts instead of refusing."""
        broken = self.beyond_limit()
        if refusing:
            if self.refused == 0:
                broken.append("no write past the limit was refused")
            if lost:
                broken.append(lost)
            return broken
        if self.refused:
            broken.append(f"{self.refused} writes were refused with OOM instead of evicting keys")
        if self.evicted == 0:
            broken.append("evicted_keys did not grow")
        return broken

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


def technique(server: redis.Redis, prefix: str, write: Write, again_write: Write | None = None) -> Run:
    """Fill to the limit, then write as many keys again (with ``again_write`` if given)."""
    before = evicted_keys(server)
    limit = set_limit_just_above_use(server, prefix)
    fill = fill_to_limit(server, limit, lambda index: f"{prefix}{index}", write)
    count = len(fill.keys)
    start = fill.next_index
    names = [f"{prefix}{start + offset}" for offset in range(count)]
    again = write_keys(server, names, again_write or write, first_index=start)
    after = read_memory(server)
    return Run(limit, fill, again, count, after, evicted_keys(server) - before)


def judge(head: str, run: Run, broken: list[str], seen: str = "", **measured: Any) -> Outcome:
    """Kept unless something broke (or the fill was too small for Redis's test to mean anything)."""
    if len(run.fill.keys) <= REDIS_MIN_KEYS:
        broken.append(f"the fill took only {len(run.fill.keys)} keys (Redis's test needs more than 10)")
    tail = f" Broken: {'; '.join(broken)}." if broken else " Kept."
    return verdict(
        not broken,
        f"{head} Seen: {run.seen()}{'; ' + seen if seen else ''}.{tail}",
        measured=run.measured(measured.pop("policy"), **measured),
    )


def fill_failed(head: str, problem: FillError) -> Outcome:
    return error(f"{head} Could not bring the server to its limit: {problem}")
