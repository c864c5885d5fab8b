"""What one launch costs: start to ready (PING answered), per target kind.

Measured with pytest-benchmark (stats in its table and JSON); stop is outside
the timed part. Aims: process <= 50 ms median, docker <= 1 s median.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.select import make_target
from tests.harness import COMPLETE

ROUNDS = {"process": 20, "docker": 8}


@pytest.fixture
def make(run_id: str) -> Iterator[Any]:
    context = load_env_context(NselfProject.open(COMPLETE), "staging")
    made: list[Target] = []

    def new(kind: str) -> tuple[tuple[Target], dict[str, Any]]:
        while made:
            made.pop().stop()
        target = make_target(kind, context, TargetOptions(run_id=run_id))
        made.append(target)
        return (target,), {}

    yield new
    while made:
        made.pop().stop()


def test_start_to_ready(benchmark: Any, make: Any, target_kind: str) -> None:
    benchmark.group = "launch: start to ready"
    benchmark.extra_info["target"] = target_kind
    benchmark.pedantic(
        lambda target: target.start(),
        setup=lambda: make(target_kind),
        rounds=ROUNDS[target_kind],
        iterations=1,
    )
    assert benchmark.stats.stats.median > 0
