"""Fixtures for the harness's own tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.select import docker_ready_for, make_target
from tests.harness import COMPLETE

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
IMAGE = "redis:7-alpine"


def _require_docker() -> bool:
    return os.environ.get("NSELF_REQUIRE_DOCKER", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip (with the reason) when Docker or the image is missing; in CI that is a failure."""
    usable, why_not = docker_ready_for(IMAGE)
    if usable:
        return
    reason = f"docker tests need an engine and {IMAGE} ({why_not})"
    if _require_docker():
        pytest.fail(f"NSELF_REQUIRE_DOCKER is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def target_kind(request: pytest.FixtureRequest) -> str:
    """Both launch targets; docker ones need the engine."""
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    return str(request.param)


@pytest.fixture
def run_id() -> str:
    return "t" + secrets.token_hex(3)


class Launcher(Protocol):
    def __call__(
        self,
        project: Path = ...,
        env: str = ...,
        kind: str = ...,
        extra_args: tuple[str, ...] = (),
        **overrides: str,
    ) -> Target: ...


@pytest.fixture
def launch(run_id: str) -> Iterator[Launcher]:
    """Launch a server from a project with the library API (to break it, then attach)."""
    started: list[Target] = []

    def start(
        project: Path = COMPLETE,
        env: str = "staging",
        kind: str = "process",
        extra_args: tuple[str, ...] = (),
        **overrides: str,
    ) -> Target:
        context = load_env_context(NselfProject.open(project), env, overrides=overrides or None)
        target = make_target(kind, context, TargetOptions(run_id=run_id, extra_args=extra_args))
        started.append(target)
        target.start()
        return target

    yield start
    for target in started:
        target.stop()
