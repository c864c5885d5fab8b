"""ratelimit: the rate-limit contract (docs/suites/ratelimit.md) for each limiter, and the deployment's risks.

Per limiter (a ``LimiterSpec``), for N = AUTH_RATE_LIMIT_MAX_REQUESTS and
W = AUTH_RATE_LIMIT_WINDOW: exactly N then denied; allowed again after the window;
no burst beyond the limiter's bound (sliding: N in any window-long span; fixed: the
boundary burst is measured and reported as its documented weakness; token bucket:
B + r*t in any interval t, long-run rate <= r); exact counts under 50 threads and 4
processes at once; every key namespaced with a TTL no longer than needed; one clock.
For the deployment: the eviction policy's risk to limiter keys, and the TTLs of the
``ratelimit:*`` keys nself writes.

Each point of the contract is one check (``contract.contract_point``) that runs for every
limiter under test (the built-ins unless the suite passes its own) and combines their
outcomes. Time-dependent checks use an injected ``ManualClock`` (no sleeping through
windows); the real-clock phases use a 0.2 s window. Every key is written under a namespace
(the caller's, else ``context.key_prefix``) and deleted afterwards.
"""

from pytest_nself_redis.checks.ratelimit import bursts, callers, deployment, hygiene, windows
from pytest_nself_redis.checks.ratelimit.contract import contract_of
from pytest_nself_redis.checks.ratelimit.deployment import deployment_keys, eviction_risk

__all__ = [
    "bursts",
    "callers",
    "contract_of",
    "deployment",
    "deployment_keys",
    "eviction_risk",
    "hygiene",
    "windows",
]
