"""Every eviction check fails on a server that breaks its promise, and names the cause.

The configured-policy check is proven through the suite, on projects whose compose file
breaks the promise. The policy checks run on servers launched for one policy, so their
broken server is one that runs another policy than the check holds it to: the check
must tell from behaviour alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_nself_redis.checks import Outcome, Status
from pytest_nself_redis.checks import eviction as checks
from pytest_nself_redis.targets.base import Target
from tests.durability.compose import compose
from tests.durability.conftest import Server
from tests.harness import STAGING_APPENDED, make_project, run_suites

CONFIGURED = "test_configured_policy_at_configured_maxmemory"
PROMISE = {".env.staging": "REDIS_MAXMEMORY_POLICY=allkeys-lru"}
BROKEN_PROJECTS = {
    "wrong policy (noeviction while allkeys-lru is promised)": (
        compose("--maxmemory-policy allkeys-lru", "--maxmemory-policy noeviction"),
        [
            f"REDIS_MAXMEMORY_POLICY=allkeys-lru (.env.staging:{STAGING_APPENDED})",
            "the compose command (docker-compose.yml:5) sets --maxmemory-policy noeviction",
            "writes were refused with OOM instead of evicting keys",
            "the server runs maxmemory-policy noeviction",
        ],
    ),
    "wrong policy of the same family (allkeys-random)": (
        compose("--maxmemory-policy allkeys-lru", "--maxmemory-policy allkeys-random"),
        [
            f"REDIS_MAXMEMORY_POLICY=allkeys-lru (.env.staging:{STAGING_APPENDED})",
            "sets --maxmemory-policy allkeys-random",
            "the deployment does not run the promised limit and policy",
        ],
    ),
    "maxmemory off while REDIS_MAXMEMORY is set": (
        compose("--maxmemory 128mb ", ""),
        [
            "REDIS_MAXMEMORY=128mb (.env.staging:3)",
            "the live server has no memory limit (maxmemory=0)",
            "the compose command (docker-compose.yml:5) sets no --maxmemory",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_PROJECTS))
def test_configured_policy_check_catches_the_deployment(tmp_path: Path, case: str) -> None:
    compose_text, fragments = BROKEN_PROJECTS[case]
    # staging of the complete example promises noeviction; these deployments break allkeys-lru
    project = make_project(tmp_path / "project", env_files=PROMISE, compose=compose_text)
    result = run_suites(
        project, tmp_path, "--nself-env", "staging", "--nself-target", "process", "-m", "eviction"
    )
    failed = sorted(name for name, outcome in result.outcomes().items() if outcome == "failed")
    assert failed == [CONFIGURED], result.output[-3000:]
    details = result.case(CONFIGURED).details
    for fragment in fragments:
        assert fragment in details, details


def test_the_good_compose_file_keeps_the_configured_policy(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", env_files=PROMISE, compose=compose())
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "eviction",
        "-k",
        CONFIGURED,
    )
    assert result.outcomes() == {CONFIGURED: "passed"}, result.output[-3000:]


# check, the policy it holds the server to, the policy the server really runs, the cause.
MISMATCHES = [
    (
        checks.memory_limit_is_honoured,
        "allkeys-lru",
        "noeviction",
        "writes were refused with OOM instead of evicting",
    ),
    (checks.memory_limit_is_honoured, "noeviction", "allkeys-lru", "no write past the limit was refused"),
    (checks.plain_keys_follow_the_policy, "volatile-lru", "allkeys-lru", "keys without a TTL are gone"),
    (checks.plain_keys_follow_the_policy, "allkeys-random", "volatile-random", "refused with OOM instead"),
    (checks.persistent_keys_are_spared, "volatile-lru", "allkeys-lru", "keys without a TTL were evicted"),
    (
        checks.policy_keeps_the_right_keys,
        "allkeys-lru",
        "allkeys-random",
        "the policy should keep were evicted",
    ),
    (
        checks.policy_keeps_the_right_keys,
        "allkeys-lfu",
        "allkeys-random",
        "the policy should keep were evicted",
    ),
    (
        checks.policy_keeps_the_right_keys,
        "volatile-ttl",
        "volatile-random",
        "the policy should keep were evicted",
    ),
]


@pytest.mark.parametrize(
    ("check", "promised", "running", "cause"),
    MISMATCHES,
    ids=[f"{check.__name__}-{promised}-on-{running}" for check, promised, running, _ in MISMATCHES],
)
def test_policy_checks_fail_on_a_server_running_another_policy(
    server: Server, check: Callable[..., Outcome], promised: str, running: str, cause: str
) -> None:
    target, context = server(REDIS_MAXMEMORY_POLICY=running, REDIS_PERSISTENCE="false")

    def launch(extra_args: tuple[str, ...] = (), **overrides: Any) -> Target:
        """A deployment that gets the policy wrong: whatever is asked for, it runs ``running``."""
        return target

    result = check(context, promised, launch=launch)
    assert result.status is Status.ERROR, result.message
    assert cause in result.message
    assert f"the server runs maxmemory-policy {running}" in result.message
