"""Helpers for the operations checks' own tests: run a check as the suites and doctor do."""

from __future__ import annotations

import redis

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult
from pytest_nself_redis.targets.base import Target


def run(target: Target, check_id: str, client: redis.Redis | None = None) -> CheckResult:
    """One registered check on the target's server (``client``: another user's)."""
    return REGISTRY.run(check_id, CheckContext.of(target, client, run_id="ops-checks"))


def operations_ids() -> list[str]:
    return [check_id for check_id, entry in REGISTRY.items() if entry.suite == "operations"]
