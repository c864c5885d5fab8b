"""Rate limiters on Redis, and what the ratelimit suite needs to check any limiter.

Reference limiters (atomic Lua, EVALSHA, reloaded on NOSCRIPT; time from Redis ``TIME``
unless a clock is injected; namespaced keys with TTLs):

- ``TokenBucket`` (capacity, continuous refill), ``SlidingWindowLog``, ``SlidingWindowCounter``;
- nself's own, as nself 0.9 implements them (docs/nself.md): ``NselfFixedWindow`` (the countdown on
  ``ratelimit:<key>``) and ``NselfSlidingWindow`` (the sorted set ``ratelimit:sliding:<key>``).

Every limiter answers ``hit(key, cost=1) -> Decision`` and ``reset(key)``. A ``LimiterSpec``
tells the suite how to build one for (N, W) and what kind it is; ``BUILTIN_LIMITERS`` are
the ones it always checks. Pure-Python models for model checking are in ``.model``.
"""

from pytest_nself_redis.ratelimit.base import (
    KINDS,
    Clock,
    Decision,
    Limiter,
    LimiterBuilder,
    LimiterKind,
    LimiterSpec,
    ManualClock,
)
from pytest_nself_redis.ratelimit.limiters import (
    BUILTIN_LIMITERS,
    NSELF_FIXED_SPEC,
    NSELF_SLIDING_SPEC,
    SLIDING_COUNTER_SPEC,
    SLIDING_LOG_SPEC,
    TOKEN_BUCKET_SPEC,
    NselfFixedWindow,
    NselfSlidingWindow,
    ScriptLimiter,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)
from pytest_nself_redis.ratelimit.scripts import LuaScript
from pytest_nself_redis.ratelimit.select import LimiterLoadError, as_specs, default_limiters, load_limiters

__all__ = [
    "BUILTIN_LIMITERS",
    "KINDS",
    "NSELF_FIXED_SPEC",
    "NSELF_SLIDING_SPEC",
    "SLIDING_COUNTER_SPEC",
    "SLIDING_LOG_SPEC",
    "TOKEN_BUCKET_SPEC",
    "Clock",
    "Decision",
    "Limiter",
    "LimiterBuilder",
    "LimiterKind",
    "LimiterLoadError",
    "LimiterSpec",
    "LuaScript",
    "ManualClock",
    "NselfFixedWindow",
    "NselfSlidingWindow",
    "ScriptLimiter",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "TokenBucket",
    "as_specs",
    "default_limiters",
    "load_limiters",
]
