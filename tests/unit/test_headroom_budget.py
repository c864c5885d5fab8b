"""The headroom arithmetic, and the variant container it is proven on (same service, smaller limit)."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks.headroom.budget import Budget, limit_size, redis_size
from pytest_nself_redis.checks.headroom.proof import proof_limit
from pytest_nself_redis.compose.runtime import ComposeValue, RuntimeLimits
from pytest_nself_redis.context import load_env_context, open_project
from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.provenance import Source
from tests.harness import COMPLETE, NSELF_14

MIB = 1024**2


def budget(
    maxmemory: int, maxclients: int = 50, forks: str = "appendonly yes", cow: int = 0, limit: int = 512 * MIB
) -> Budget:
    return Budget(
        ComposeValue(limit, "limit", Source.default("test")),
        maxmemory,
        "test",
        maxclients,
        "test",
        forks,
        cow,
    )


@pytest.mark.parametrize(
    ("figures", "verdict"),
    [
        (budget(0), "unbounded"),
        # 256 + 256 (the dataset again) + 1.6 > 512, but 256 + 64 (25%) + 1.6 fits
        (budget(256 * MIB), "tight"),
        (budget(255 * MIB), "fits"),
        # 10000 clients x 32 KiB = 312.5 MiB of buffers: not even the 25% reserve fits
        (budget(256 * MIB, maxclients=10000), "over"),
        # a fork that really copied 320 MiB counts for more than the 25% reserve (50 MiB)
        (budget(200 * MIB), "fits"),
        (budget(200 * MIB, cow=320 * MIB), "over"),
        # a server that never forks needs no copy-on-write room
        (budget(500 * MIB, forks=""), "fits"),
    ],
)
def test_verdicts(figures: Budget, verdict: str) -> None:
    assert figures.verdict == verdict


def test_the_largest_safe_maxmemory_leaves_room_for_the_worst_fork_and_the_clients() -> None:
    figures = budget(0)
    assert figures.clients == 50 * 32 * 1024
    assert figures.safe_maxmemory == (512 * MIB - 50 * 32 * 1024) // 2
    assert redis_size(figures.safe_maxmemory) == "255mb"
    assert budget(figures.safe_maxmemory).verdict == "fits"
    assert budget(figures.safe_maxmemory + 1).verdict == "tight"
    assert budget(0, maxclients=20000).safe_maxmemory == 0  # the buffers alone fill 512M
    assert budget(0, forks="").safe_maxmemory == 512 * MIB - 50 * 32 * 1024


def test_sizes_are_written_as_redis_and_compose_read_them() -> None:
    assert redis_size(255 * MIB + 5) == "255mb"  # down: at most this much
    assert limit_size(824 * MIB + 1) == "825M"  # up: at least this much
    assert budget(256 * MIB).sum(64 * MIB) == "256.0 MiB + 64.0 MiB + 1.6 MiB = 321.6 MiB"


def test_a_variant_sized_alone_keeps_the_deployments_service() -> None:
    """REDIS_MEMORY alone: the compose file's own command, in a container of that size (the proof's
    variant); any other override renders the service from the settings."""
    project = open_project(NSELF_14)
    deployed = load_env_context(project, "dev").service
    sized = load_env_context(project, "dev", overrides={"REDIS_MEMORY": "64M"}).service
    assert sized.origin == "compose"
    assert sized.command == deployed.command
    assert "--maxclients" in sized.command
    assert sized.runtime.memory is not None
    assert sized.runtime.memory.cite() == "64M (variant override)"
    assert sized.runtime.memory.value == 64 * MIB
    assert sized.runtime.cpu == deployed.runtime.cpu
    assert sized.runtime.cap_drop == deployed.runtime.cap_drop
    rendered = load_env_context(project, "dev", overrides={"REDIS_MEMORY": "64M", "REDIS_MAXMEMORY": "1mb"})
    assert rendered.service.origin == "rendered"


def test_with_memory_replaces_whichever_spelling_was_in_effect() -> None:
    old = ComposeValue(1 * MIB, "1M", Source.default("mem_limit"))
    new = ComposeValue(64 * MIB, "64M", Source.default("variant override"))
    limits = RuntimeLimits(mem_limit=old).with_memory(new)
    assert limits.memory == new
    assert limits.mem_limit is None


def test_a_variant_size_that_is_no_size_is_named() -> None:
    with pytest.raises(ProjectError, match=r"REDIS_MEMORY=lots \(variant override\)"):
        load_env_context(open_project(COMPLETE), "staging", overrides={"REDIS_MEMORY": "lots"})


@pytest.mark.parametrize(
    ("limit", "model"),
    [
        (512 * MIB, 85 * MIB),  # 64 MiB for the dataset's share, 7/8 of the 24 MiB that does not scale
        (2048 * MIB, 87 * MIB),
        (64 * MIB, 64 * MIB),  # already that small: the container itself
        (48 * MIB, 48 * MIB),
    ],
)
def test_the_proof_runs_in_a_scale_model_that_keeps_the_overhead(limit: int, model: int) -> None:
    assert proof_limit(budget(0, limit=limit)) == model
