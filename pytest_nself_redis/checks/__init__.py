"""The checks behind the suites and `doctor`: each declared once in ``registry.REGISTRY``
(see ``registry`` for how, ``base`` for what a check may look at, ``results`` for what it returns)."""

from pytest_nself_redis.checks import (
    auth,
    backup,
    config,
    datastructures,
    eviction,
    health,
    latency,
    monitoring,
    monitoring_exporter,
    operations,
    persistence,
    pubsub,
    queue,
    ratelimit,
    sentinel,
    sessions,
    tls,
)
from pytest_nself_redis.checks.base import CheckContext, VariantFactory
from pytest_nself_redis.checks.registry import REGISTRY, RegisteredCheck, check
from pytest_nself_redis.checks.results import CheckResult, Outcome, Status

__all__ = [
    "REGISTRY",
    "CheckContext",
    "CheckResult",
    "Outcome",
    "RegisteredCheck",
    "Status",
    "VariantFactory",
    "auth",
    "backup",
    "check",
    "config",
    "datastructures",
    "eviction",
    "health",
    "latency",
    "monitoring",
    "monitoring_exporter",
    "operations",
    "persistence",
    "pubsub",
    "queue",
    "ratelimit",
    "sentinel",
    "sessions",
    "tls",
]
