"""A Redis for the ratelimit self-tests: launched once per module with the library API."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.select import make_target
from tests.harness import COMPLETE


@pytest.fixture(scope="module")
def limiter_server() -> Iterator[Target]:
    """A process target from the complete example (staging), removed after the module."""
    context = load_env_context(NselfProject.open(COMPLETE), "staging")
    target = make_target("process", context, TargetOptions(run_id="rl" + secrets.token_hex(3)))
    try:
        target.start()
        yield target
    finally:
        target.stop()


@pytest.fixture
def limiter_redis(limiter_server: Target) -> Iterator[redis.Redis]:
    """An authenticated client; the test's keys are flushed after it (a server we launched)."""
    client = limiter_server.client()
    yield client
    client.flushall()
