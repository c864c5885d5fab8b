"""Every persistence check fails on a deployment that breaks its promise, and names the cause.

The configured-mode checks are proven through the suite on projects whose compose file
breaks the promise. The matrix runs the same check (``writes_survive``) on variants;
its broken servers are ones that run another mode than the check holds them to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.checks import Status
from pytest_nself_redis.checks import persistence as checks
from pytest_nself_redis.durability.modes import BY_ID, CRASH, GRACEFUL, RECREATE
from tests.durability.compose import compose
from tests.durability.conftest import Server
from tests.harness import STAGING_APPENDED, make_project, run_suites

RESTART = "test_configured_mode_keeps_its_promise[restart]"
CRASHED = "test_configured_mode_keeps_its_promise[crash]"
LOST = "acknowledged writes were lost"
# compose change, env lines appended, the tests that must fail, fragments of each message
BROKEN_PROJECTS = {
    "AOF off while promised": (
        compose("--appendonly yes --appendfsync everysec", "--appendonly no"),
        {},
        {
            CRASHED: [
                "REDIS_AOF_ENABLED=true (.env.dev:7)",
                "the compose command (docker-compose.yml:5) sets --appendonly no",
                LOST,
                "before the kill (the bound is 2000 ms)",
            ]
        },
    ),
    "appendfsync no while always is promised": (
        compose("--appendfsync everysec", "--appendfsync no"),
        {".env.staging": "REDIS_AOF_FSYNC=always"},
        {
            CRASHED: [
                f"REDIS_AOF_FSYNC=always (.env.staging:{STAGING_APPENDED})",
                "the compose command (docker-compose.yml:5) sets --appendfsync no",
                "the server does not run the promised persistence",
            ]
        },
    ),
    "snapshots off while RDB is promised": (
        compose("--appendonly yes --appendfsync everysec --save '900 1'", "--appendonly no --save ''"),
        {".env.staging": "REDIS_AOF_ENABLED=false"},
        {
            RESTART: [
                "REDIS_RDB_FREQUENCY=900 (.env.dev:9)",
                LOST,
                "the compose command (docker-compose.yml:5) sets --save ''",
            ],
            CRASHED: ["sets --save ''", "the server does not run the promised persistence"],
        },
    ),
    "data kept while persistence is promised off": (
        compose(),
        {".env.staging": "REDIS_PERSISTENCE=false"},
        {
            RESTART: [
                f"REDIS_PERSISTENCE=false (.env.staging:{STAGING_APPENDED})",
                "survived although nothing should",
                "the compose command (docker-compose.yml:5) sets --appendonly yes",
            ],
            CRASHED: [
                f"REDIS_PERSISTENCE=false (.env.staging:{STAGING_APPENDED})",
                "survived although nothing should",
            ],
        },
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_PROJECTS))
def test_configured_mode_checks_catch_the_deployment(tmp_path: Path, case: str) -> None:
    compose_text, env_files, expected = BROKEN_PROJECTS[case]
    project = make_project(tmp_path / "project", env_files=env_files, compose=compose_text)
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "persistence",
        "-k",
        "configured",
    )
    failed = sorted(name for name, outcome in result.outcomes().items() if outcome == "failed")
    assert failed == sorted(expected), result.output[-3000:]
    for name, fragments in expected.items():
        details = result.case(name).details
        for fragment in fragments:
            assert fragment in details, details


def test_the_good_compose_file_keeps_the_configured_mode(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", compose=compose())
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "persistence",
        "-k",
        "configured",
    )
    assert result.outcomes() == {
        RESTART: "passed",
        CRASHED: "passed",
        "test_configured_mode_keeps_its_promise[recreate]": "skipped",
    }, result.output[-3000:]


# the mode the check holds the server to, the settings the server really runs, scenario, cause
MISMATCHES = [
    ("aof-always", {"REDIS_PERSISTENCE": "false"}, CRASH, LOST),
    ("rdb", {"REDIS_PERSISTENCE": "false"}, GRACEFUL, LOST),
    ("none", BY_ID["aof-everysec"].overrides, GRACEFUL, "survived although nothing should"),
    ("none", BY_ID["aof-always"].overrides, CRASH, "survived although nothing should"),
]


@pytest.mark.parametrize(
    ("promised", "running", "scenario", "cause"),
    MISMATCHES,
    ids=[f"{promised}-{scenario.split()[0]}" for promised, _, scenario, _ in MISMATCHES],
)
def test_matrix_check_fails_on_a_server_running_another_mode(
    server: Server, promised: str, running: dict[str, str], scenario: str, cause: str
) -> None:
    target, context = server(**running)
    result = checks.writes_survive(context, target, BY_ID[promised], scenario)
    assert result.status is Status.ERROR, result.message
    assert cause in result.message
    assert isinstance(result.measured, dict)
    assert result.measured["acknowledged"] > 0


def test_recreate_check_fails_when_the_volume_keeps_nothing(server: Server, docker_engine: None) -> None:
    """On docker, a new container on the same volume must find the data; without persistence
    it finds none, and the check holding it to AOF + RDB says so."""
    target, context = server(kind="docker", REDIS_PERSISTENCE="false")
    result = checks.writes_survive(context, target, BY_ID["both"], RECREATE)
    assert result.status is Status.ERROR, result.message
    assert LOST in result.message
    assert "survived the recreate container" in result.message
