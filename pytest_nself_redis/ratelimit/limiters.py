"""The built-in limiters: three references (token bucket, sliding-window log, sliding-window
counter) and nself's own two (fixed-window countdown, sliding window), written from
nself 0.9 writes them (docs/nself.md), so a deployment's ``ratelimit:*`` keys can be compared with them.

Each is one atomic Lua script (see ``scripts``). Keys are ``<namespace><name>``: with the
empty namespace nself's limiters write exactly nself's keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import ClassVar

import redis

from pytest_nself_redis.ratelimit.base import (
    MICROS,
    Clock,
    Decision,
    LimiterKind,
    LimiterSpec,
    clock_micros,
    validate_contract,
    validate_cost,
)
from pytest_nself_redis.ratelimit.scripts import (
    NSELF_COUNTDOWN,
    SLIDING_COUNTER,
    SLIDING_LOG,
    TOKEN_BUCKET,
    LuaScript,
)


class ScriptLimiter:
    """Shared plumbing: validation, the clock argument, EVALSHA, reset."""

    kind: ClassVar[LimiterKind]
    script: ClassVar[LuaScript]

    def __init__(
        self,
        client: redis.Redis,
        *,
        limit: int,
        window: float,
        namespace: str = "",
        clock: Clock | None = None,
    ) -> None:
        self.window_us = validate_contract(limit, window)
        self.client = client
        self.limit = limit
        self.window = self.window_us / MICROS
        self.namespace = namespace
        self.clock = clock

    def keys(self, key: str) -> list[str]:
        """Every Redis key this limiter may write for ``key``."""
        raise NotImplementedError

    def _args(self, cost: int) -> Sequence[str | int]:
        raise NotImplementedError

    def _now_arg(self) -> str:
        return "" if self.clock is None else str(clock_micros(self.clock))

    def hit(self, key: str, cost: int = 1) -> Decision:
        validate_cost(cost)
        return Decision.from_reply(
            self.script(self.client, self.keys(key), [self._now_arg(), *self._args(cost)])
        )

    def reset(self, key: str) -> None:
        self.client.delete(*self.keys(key))

    def __repr__(self) -> str:
        clock = "redis TIME" if self.clock is None else "injected clock"
        name = type(self).__name__
        return f"{name}(limit={self.limit}, window={self.window}s, {clock}, namespace={self.namespace!r})"


class TokenBucket(ScriptLimiter):
    """Capacity ``capacity``, refilled continuously at ``rate`` tokens per second.

    Stored as one string key (GCRA's theoretical arrival time), so a hit is one GET and one
    SET inside the script. The refill interval is whole microseconds, rounded up (the rate
    never exceeds what was asked). ``limit`` is the capacity, ``window`` the time to refill
    from empty.
    """

    kind = "bucket"
    script = LuaScript(TOKEN_BUCKET)

    def __init__(
        self,
        client: redis.Redis,
        *,
        capacity: int,
        rate: float,
        namespace: str = "",
        clock: Clock | None = None,
        interval_us: int | None = None,
    ) -> None:
        if interval_us is None:
            if rate <= 0:
                raise ValueError(f"rate must be > 0 tokens per second, not {rate!r}")
            # rounded up (the rate never exceeds what was asked), float noise below 1 ns ignored
            interval_us = max(1, math.ceil(Fraction(MICROS) / Fraction(str(rate)) - Fraction(1, 1000)))
        self.interval_us = interval_us
        super().__init__(
            client, limit=capacity, window=capacity * interval_us / MICROS, namespace=namespace, clock=clock
        )
        self.window_us = capacity * interval_us
        self.window = self.window_us / MICROS
        self.capacity = capacity
        self.rate = MICROS / interval_us

    @classmethod
    def per_window(
        cls,
        client: redis.Redis,
        *,
        limit: int,
        window: float,
        namespace: str = "",
        clock: Clock | None = None,
    ) -> TokenBucket:
        """The contract's bucket: capacity N, refilled at N per W (one token per W/N)."""
        window_us = validate_contract(limit, window)
        interval_us = -(-window_us // limit)
        return cls(
            client,
            capacity=limit,
            rate=limit / window,
            namespace=namespace,
            clock=clock,
            interval_us=interval_us,
        )

    def keys(self, key: str) -> list[str]:
        return [f"{self.namespace}rl:bucket:{key}"]

    def _args(self, cost: int) -> Sequence[str | int]:
        return [self.capacity, self.interval_us, cost]


class SlidingWindowLog(ScriptLimiter):
    """At most ``limit`` hits in any ``window``: every allowed hit is a sorted-set member
    scored by its time (microseconds); members older than the window are dropped first."""

    kind = "sliding"
    script = LuaScript(SLIDING_LOG)
    unit_us: ClassVar[int] = 1

    def keys(self, key: str) -> list[str]:
        return [f"{self.namespace}rl:log:{key}"]

    def _args(self, cost: int) -> Sequence[str | int]:
        return [self.limit, self.window_us, cost, self.unit_us]


class SlidingWindowCounter(ScriptLimiter):
    """Counts per aligned window, the previous one weighted by its overlap with the sliding
    window (one hash key). Cheap and bounded in memory; an estimate: it blocks the 2N burst
    at a window boundary, yet can let through up to 2N-1 in one window-long span when the
    previous window's hits all came at its end (measured by the suite)."""

    kind = "approximate"
    script = LuaScript(SLIDING_COUNTER)

    def keys(self, key: str) -> list[str]:
        return [f"{self.namespace}rl:counter:{key}"]

    def _args(self, cost: int) -> Sequence[str | int]:
        return [self.limit, self.window_us, cost]


class NselfFixedWindow(ScriptLimiter):
    """nself's "token bucket", really a fixed-window countdown on ``ratelimit:<key>``: the
    first hit sets it to N-1 with expiry W, later hits DECR while > 0, 0 is limited until
    the key expires. The window starts at the first hit."""

    kind = "fixed"
    script = LuaScript(NSELF_COUNTDOWN)

    def keys(self, key: str) -> list[str]:
        counter = f"{self.namespace}ratelimit:{key}"
        return [counter, f"{counter}:until"]

    def _args(self, cost: int) -> Sequence[str | int]:
        return [self.limit, self.window_us, cost]


class NselfSlidingWindow(SlidingWindowLog):
    """nself's sliding window on the sorted set ``ratelimit:sliding:<key>``: drop members
    older than now - W, count; below N add a unique member scored now (milliseconds) and
    set expiry W; else limited."""

    unit_us = 1000

    def keys(self, key: str) -> list[str]:
        return [f"{self.namespace}ratelimit:sliding:{key}"]


# Each limiter's constructor (the bucket's per-window one) takes (client, namespace=, limit=,
# window=, clock=) as a LimiterBuilder does, so the specs build with it directly.
TOKEN_BUCKET_SPEC = LimiterSpec(
    "token-bucket",
    "bucket",
    TokenBucket.per_window,
    description="token bucket, capacity N, refill N per W (GCRA)",
)
SLIDING_LOG_SPEC = LimiterSpec("sliding-log", "sliding", SlidingWindowLog, description="sliding-window log")
SLIDING_COUNTER_SPEC = LimiterSpec(
    "sliding-counter",
    "approximate",
    SlidingWindowCounter,
    ttl_windows=2.0,
    description="sliding-window counter",
)
NSELF_FIXED_SPEC = LimiterSpec(
    "nself-fixed-window", "fixed", NselfFixedWindow, description="nself's countdown on ratelimit:<key>"
)
NSELF_SLIDING_SPEC = LimiterSpec(
    "nself-sliding-window",
    "sliding",
    NselfSlidingWindow,
    description="nself's sorted set ratelimit:sliding:<key>",
)
BUILTIN_LIMITERS: tuple[LimiterSpec, ...] = (
    TOKEN_BUCKET_SPEC,
    SLIDING_LOG_SPEC,
    SLIDING_COUNTER_SPEC,
    NSELF_FIXED_SPEC,
    NSELF_SLIDING_SPEC,
)
