"""Sentinel topologies of the complete example, launched for a test and removed after it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pytest

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import TargetOptions
from pytest_nself_redis.targets.topology import Topology, make_topology
from pytest_nself_redis.targets.topology.base import SETTLE_TIMEOUT_S, Tamper
from tests.harness import COMPLETE

# Short enough for several failovers per test run, long enough to be well above a sentinel's
# ping period (1 s): the failover tests measure with it.
DOWN_AFTER_MS = "2000"
PROD_PASSWORD = "prod-redis-b81e4f0c9a7d2e63c5f14a"  # examples/complete/.env.secrets


class Launch(Protocol):
    def __call__(
        self, kind: str, tamper: Tamper | None = ..., settle_timeout: float = ..., **overrides: str
    ) -> Topology: ...


@pytest.fixture
def topology(run_id: str) -> Iterator[Launch]:
    """Start a topology of the complete example's prod env (overridden settings, an optional
    tampered plan); every one started is removed after the test."""
    started: list[Topology] = []

    def start(
        kind: str, tamper: Tamper | None = None, settle_timeout: float = SETTLE_TIMEOUT_S, **overrides: str
    ) -> Topology:
        values = {"REDIS_SENTINEL_DOWN_AFTER_MS": DOWN_AFTER_MS, **overrides}
        context = load_env_context(NselfProject.open(COMPLETE), "prod", overrides=values)
        launched = make_topology(kind, context, TargetOptions(run_id=run_id), tamper, settle_timeout)
        started.append(launched)
        launched.start()
        return launched

    yield start
    for launched in started:
        launched.stop()
