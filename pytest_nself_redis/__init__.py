"""pytest-nself-redis: conformance and health harness for the Redis of an nself project.

The importable API beyond the pytest plugin is the reference rate limiters:
``from pytest_nself_redis import SlidingWindowLog, TokenBucket, ...`` (see
``pytest_nself_redis.ratelimit``).
"""

from pytest_nself_redis.ratelimit import (
    BUILTIN_LIMITERS,
    Decision,
    LimiterSpec,
    ManualClock,
    NselfFixedWindow,
    NselfSlidingWindow,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_LIMITERS",
    "Decision",
    "LimiterSpec",
    "ManualClock",
    "NselfFixedWindow",
    "NselfSlidingWindow",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "TokenBucket",
    "__version__",
]
