"""Limiters broken the ways real ones break; the ratelimit suite must catch each by name.

Pointed at with ``--nself-limiter tests.ratelimit.broken:BROKEN_LIMITERS`` (or one by name).
"""

from __future__ import annotations

import itertools
import time

import redis

from pytest_nself_redis.ratelimit import (
    Clock,
    Decision,
    LimiterSpec,
    LuaScript,
    NselfFixedWindow,
    SlidingWindowLog,
)
from pytest_nself_redis.ratelimit.base import MICROS, clock_micros, to_micros


def _now_us(clock: Clock | None) -> int:
    return clock_micros(clock) if clock is not None else round(time.time() * MICROS)


class NonAtomicWindow:
    """A fixed window done in the application: GET the count, decide, then SET it back.
    Concurrent callers read the same count and all pass."""

    def __init__(
        self, client: redis.Redis, *, namespace: str, limit: int, window: float, clock: Clock | None = None
    ) -> None:
        self.client, self.namespace, self.limit, self.window, self.clock = (
            client,
            namespace,
            limit,
            window,
            clock,
        )
        self.window_us = to_micros(window)

    def _key(self, key: str) -> str:
        start = _now_us(self.clock) // self.window_us
        return f"{self.namespace}nonatomic:{key}:{start}"

    def hit(self, key: str, cost: int = 1) -> Decision:
        name = self._key(key)
        count = int(self.client.get(name) or 0)
        if count + cost > self.limit:
            return Decision.from_micros(False, self.limit - count, self.window_us, self.window_us)
        self.client.set(name, count + cost, px=max(1, self.window_us // 1000))
        return Decision.from_micros(True, self.limit - count - cost, 0, self.window_us)

    def reset(self, key: str) -> None:
        self.client.delete(self._key(key))


FOREVER = LuaScript(
    r"""
-- INCRBY with no EXPIRE and no notion of time: the count only ever grows
local limit, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + cost > limit then return {0, limit - used, 1000000, 1000000} end
redis.call('INCRBY', KEYS[1], cost)
return {1, limit - used - cost, 0, 1000000}
"""
)


class MissingTtl:
    """Counts hits in a key that is never given a TTL: limits never reset, keys pile up."""

    def __init__(
        self, client: redis.Redis, *, namespace: str, limit: int, window: float, clock: Clock | None = None
    ) -> None:
        self.client, self.namespace, self.limit, self.window = client, namespace, limit, window

    def hit(self, key: str, cost: int = 1) -> Decision:
        return Decision.from_reply(
            FOREVER(self.client, [f"{self.namespace}forever:{key}"], [self.limit, cost])
        )

    def reset(self, key: str) -> None:
        self.client.delete(f"{self.namespace}forever:{key}")


OFF_BY_ONE = LuaScript(
    r"""
-- checks the count BEFORE adding the hit with <=, so N + 1 pass
local limit, window_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used <= limit then
  redis.call('INCR', KEYS[1])
  if used == 0 then redis.call('PEXPIRE', KEYS[1], window_ms) end
  return {1, limit - used - 1, 0, redis.call('PTTL', KEYS[1]) * 1000}
end
return {0, 0, redis.call('PTTL', KEYS[1]) * 1000, redis.call('PTTL', KEYS[1]) * 1000}
"""
)


class OffByOne:
    """A fixed window that compares before counting (``used <= limit``): N + 1 pass."""

    def __init__(
        self, client: redis.Redis, *, namespace: str, limit: int, window: float, clock: Clock | None = None
    ) -> None:
        self.client, self.namespace, self.limit, self.window = client, namespace, limit, window
        self.window_ms = max(1, to_micros(window) // 1000)

    def hit(self, key: str, cost: int = 1) -> Decision:
        reply = OFF_BY_ONE(self.client, [f"{self.namespace}obo:{key}"], [self.limit, self.window_ms])
        return Decision.from_reply(reply)

    def reset(self, key: str) -> None:
        self.client.delete(f"{self.namespace}obo:{key}")


_callers = itertools.count()
SKEW_SECONDS = 5.0


def skewed_clocks(
    client: redis.Redis, *, namespace: str, limit: int, window: float, clock: Clock | None = None
) -> SlidingWindowLog:
    """A sliding-window log fed by each caller's own clock (like a library that passes
    ``time.time()`` from the app), on two hosts whose clocks differ by 5 s. An injected
    clock is honoured, so only the one-clock check can see the fault."""
    if clock is None:
        skew = SKEW_SECONDS * (next(_callers) % 2)

        def clock() -> float:
            return time.time() + skew

    return SlidingWindowLog(client, limit=limit, window=window, namespace=namespace, clock=clock)


def fixed_posing_as_sliding(
    client: redis.Redis, *, namespace: str, limit: int, window: float, clock: Clock | None = None
) -> NselfFixedWindow:
    """Claims to be a sliding window, but is nself's fixed-window countdown underneath."""
    return NselfFixedWindow(client, limit=limit, window=window, namespace=namespace, clock=clock)


OVERFILL = LuaScript(
    r"""
-- refills without capping at the capacity: idle time banks unlimited tokens
local now, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local rate_per_us, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = tokens + (now - at) * rate_per_us
if tokens < cost then
  local wait = math.ceil((cost - tokens) / rate_per_us)
  return {0, math.floor(tokens), wait, wait}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
return {1, math.floor(tokens), 0, 1}
"""
)


class OverfillingBucket:
    """A token bucket that forgets the ``min(capacity, ...)``: after idle time it allows
    far more than B + r*t."""

    def __init__(
        self, client: redis.Redis, *, namespace: str, limit: int, window: float, clock: Clock | None = None
    ) -> None:
        self.client, self.namespace, self.limit, self.window, self.clock = (
            client,
            namespace,
            limit,
            window,
            clock,
        )
        self.window_us = to_micros(window)

    def hit(self, key: str, cost: int = 1) -> Decision:
        args: list[str | int] = [
            _now_us(self.clock),
            self.limit,
            repr(self.limit / self.window_us),
            cost,
            self.window_us // 1000,
        ]
        return Decision.from_reply(OVERFILL(self.client, [f"{self.namespace}overfill:{key}"], args))

    def reset(self, key: str) -> None:
        self.client.delete(f"{self.namespace}overfill:{key}")


UNNAMESPACED_SCRIPT = LuaScript(
    r"""
-- an atomic fixed window, but on a key of its own choosing
local cost, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = redis.call('INCRBY', KEYS[1], cost)
if used == cost then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local left = redis.call('PTTL', KEYS[1]) * 1000
if used > limit then
  redis.call('DECRBY', KEYS[1], cost)
  return {0, limit - used + cost, left, left}
end
return {1, limit - used, 0, left}
"""
)


class Unnamespaced(NonAtomicWindow):
    """Ignores the namespace it is given: its keys land in the server's top level."""

    def _key(self, key: str) -> str:
        return f"unnamespaced:{key}:{_now_us(self.clock) // self.window_us}"

    def hit(self, key: str, cost: int = 1) -> Decision:
        args: list[str | int] = [cost, self.limit, max(1, self.window_us // 1000)]
        return Decision.from_reply(UNNAMESPACED_SCRIPT(self.client, [self._key(key)], args))


NON_ATOMIC = LimiterSpec("non-atomic", "fixed", NonAtomicWindow, description="GET, decide, SET")
MISSING_TTL = LimiterSpec("missing-ttl", "fixed", MissingTtl, description="INCRBY, never EXPIRE")
OFF_BY_ONE_SPEC = LimiterSpec("off-by-one", "fixed", OffByOne, description="used <= limit")
SKEWED_CLOCKS = LimiterSpec("skewed-clocks", "sliding", skewed_clocks, description="client clocks 5 s apart")
FAKE_SLIDING = LimiterSpec(
    "fake-sliding", "sliding", fixed_posing_as_sliding, description="aligned fixed window"
)
OVERFILLING_BUCKET = LimiterSpec(
    "overfilling-bucket", "bucket", OverfillingBucket, description="no capacity cap"
)
UNNAMESPACED = LimiterSpec("unnamespaced", "fixed", Unnamespaced, description="ignores its namespace")

BROKEN_LIMITERS = [
    NON_ATOMIC,
    MISSING_TTL,
    OFF_BY_ONE_SPEC,
    SKEWED_CLOCKS,
    FAKE_SLIDING,
    OVERFILLING_BUCKET,
    UNNAMESPACED,
]
