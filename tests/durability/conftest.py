"""Fixtures for the eviction and persistence self-tests: servers launched to break, with the
CheckContext a check needs, so checks run in this process and their messages are read whole."""

from __future__ import annotations

from typing import Protocol

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE


class Server(Protocol):
    def __call__(self, kind: str = ..., env: str = ..., **overrides: str) -> tuple[Target, CheckContext]: ...


@pytest.fixture
def server(launch: Launcher, run_id: str) -> Server:
    """Launch a server of the complete example with overridden settings (removed after the test)."""

    def make(kind: str = "process", env: str = "staging", **overrides: str) -> tuple[Target, CheckContext]:
        target = launch(COMPLETE, env, kind, (), **overrides)
        context = CheckContext.of(target, run_id=run_id)
        return target, context

    return make
