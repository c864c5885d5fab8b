"""Latency measurement: a raw-socket RESP sampler, percentiles, budgets and benchmark JSON.

Used by the ``latency`` checks (``pytest_nself_redis.checks.latency``), the suite and
``nself-redis doctor``. Only ``session`` (the suite's per-env state) knows pytest.
"""

from pytest_nself_redis.latency.budgets import COMMANDS, Budget, BudgetBook, BudgetError
from pytest_nself_redis.latency.measure import CommandLatency, measure
from pytest_nself_redis.latency.sampler import SamplerError, clock_overhead
from pytest_nself_redis.latency.stats import LABEL, PERCENTILES, Percentiles, format_ms

__all__ = [
    "COMMANDS",
    "LABEL",
    "PERCENTILES",
    "Budget",
    "BudgetBook",
    "BudgetError",
    "CommandLatency",
    "Percentiles",
    "SamplerError",
    "clock_overhead",
    "format_ms",
    "measure",
]
