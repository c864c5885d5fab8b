"""The checks behind the suites and `doctor` (see ``base`` for the contract)."""

from pytest_nself_redis.checks import (
    auth,
    config,
    datastructures,
    health,
    latency,
    monitoring,
    pubsub,
    queue,
    ratelimit,
    sessions,
    tls,
)
from pytest_nself_redis.checks.base import (
    REGISTRY,
    CheckContext,
    CheckResult,
    PromiseWarning,
    RegisteredCheck,
    Status,
    check,
    expect,
    expect_result,
)

__all__ = [
    "REGISTRY",
    "CheckContext",
    "CheckResult",
    "PromiseWarning",
    "RegisteredCheck",
    "Status",
    "auth",
    "check",
    "config",
    "datastructures",
    "expect",
    "expect_result",
    "health",
    "latency",
    "monitoring",
    "pubsub",
    "queue",
    "ratelimit",
    "sessions",
    "tls",
]
