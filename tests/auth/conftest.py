"""Fixtures for the auth and tls self-tests: check contexts on servers launched to break."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest

from pytest_nself_redis.checks import CheckContext
from tests.conftest import Launcher
from tests.harness import COMPLETE


class ContextMaker(Protocol):
    def __call__(
        self,
        project: Path = ...,
        env: str = ...,
        kind: str = ...,
        extra_args: tuple[str, ...] = (),
        **overrides: str,
    ) -> CheckContext: ...


@pytest.fixture
def check_context(launch: Launcher) -> ContextMaker:
    """Launch a server from a project (settings overridable) and hand its CheckContext, so a
    check can be called in this process and its message inspected unscrubbed."""

    def make(
        project: Path = COMPLETE,
        env: str = "staging",
        kind: str = "process",
        extra_args: tuple[str, ...] = (),
        **overrides: str,
    ) -> CheckContext:
        target = launch(project, env, kind, extra_args, **overrides)
        return CheckContext.of(target)

    return make
