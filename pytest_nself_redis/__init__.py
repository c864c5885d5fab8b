"""pytest-nself-redis: conformance and health harness for the Redis of an nself project.

The importable API beyond the pytest plugin is the reference rate limiters:
``from pytest_nself_redis import SlidingWindowLog, TokenBucket, ...`` (see
``pytest_nself_redis.ratelimit``). They load when first named, so ``nself-redis
--version`` and every subpackage import stay light.
"""

from typing import TYPE_CHECKING

from pytest_nself_redis.lazy import lazy_exports

if TYPE_CHECKING:
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

# The one place the version is written: pyproject.toml reads it from here.
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

__getattr__, __dir__ = lazy_exports(
    __name__, {name: "ratelimit" for name in __all__ if name != "__version__"}
)
