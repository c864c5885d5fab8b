"""Latency measurement: a raw-socket RESP sampler, percentiles, budgets and benchmark JSON.

Used by the ``latency`` checks (``pytest_nself_redis.checks.latency``), the suite and
``nself-redis doctor``. None of it knows pytest: the suite's per-env state (budgets
from the options, charts, benchmark JSON) is ``pytest_nself_redis.plugin.latency_session``.
"""

from pytest_nself_redis.durations import format_ms
from pytest_nself_redis.latency.budgets import COMMANDS, Budget, BudgetBook, BudgetError
from pytest_nself_redis.latency.measure import CommandLatency, measure
from pytest_nself_redis.latency.sampler import SamplerError, clock_overhead
from pytest_nself_redis.latency.stats import LABEL, PERCENTILES, Percentiles

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
