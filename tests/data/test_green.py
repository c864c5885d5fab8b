"""The complete example keeps the pubsub, datastructures, monitoring and queue promises
in every env; the trade-off it documents stays visible: dev uses allkeys-lru, which the
queue suite reports (a warning, as dev runs no queue) unsafe for BullMQ."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.project.model import NselfProject
from tests.data.conftest import reports_text
from tests.harness import COMPLETE, RunResult, assert_nothing_left, make_project, run_suites

SUITES = "pubsub or queue or datastructures or monitoring"
ENVS = ("dev", "staging", "prod")
PASSWORDS = [NselfProject.open(COMPLETE).settings(env).password.value.reveal() for env in ENVS]
BULLMQ_WORDS = 'IMPORTANT! Eviction policy is allkeys-lru. It should be "noeviction"'


def exporter_skip(result: RunResult, env: str) -> set[str]:
    """prod serves TLS only, and no nself generation gives its redis_exporter TLS: the exporter
    test skips there, saying so (the only skip allowed)."""
    skipped = {name for name, outcome in result.outcomes(env).items() if outcome == "skipped"}
    if env != "prod" or not skipped:
        return set()
    (name,) = skipped
    assert "no nself generation gives its exporter TLS" in result.case(name, env).message, name
    return {"skipped"}


def test_complete_example_every_env(tmp_path: Path, run_id: str, node_env: dict[str, str]) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        ",".join(ENVS),
        "--nself-target",
        "process",
        "-m",
        SUITES,
        env={"NSELF_RUN_ID": run_id, **node_env},
    )
    assert result.status == 0, result.explain()
    failed = sorted(
        (env, name) for env in ENVS for name, outcome in result.outcomes(env).items() if outcome == "failed"
    )
    assert failed == [], result.output[-3000:]
    # dev's documented trade-off stays visible: a warning, since dev runs no queue.
    output = " ".join(result.output.split())
    assert f"{BULLMQ_WORDS} (BullMQ's words)" in output
    assert "REDIS_MAXMEMORY_POLICY=allkeys-lru (.env.dev:5)" in output
    assert "no queue here: REDIS_QUEUES=false (harness default)" in output
    for env in ENVS:
        outcomes = result.outcomes(env)
        assert len(outcomes) == 36, outcomes
        # The real BullMQ round trip ran (not skipped) everywhere; it warns where BullMQ warned.
        assert result.case("test_bullmq_round_trip", env).outcome == "passed"
        assert set(outcomes.values()) - {"passed", "failed"} <= exporter_skip(result, env), outcomes
    assert f"BullMQ said: {BULLMQ_WORDS}" in result.output
    assert "the failing job succeeded on attempt 2" in result.output
    assert "redis_used_memory_bytes, which redis_exporter does not export" in result.output
    everything = result.output + reports_text(result.reports)
    for password in PASSWORDS:
        assert password not in everything
    assert_nothing_left(run_id, docker=False)


@pytest.mark.docker
def test_prod_on_docker_runs_bullmq_through_the_published_port(
    tmp_path: Path, run_id: str, node_env: dict[str, str], docker_engine: None
) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "prod",
        "--nself-target",
        "docker",
        "-m",
        SUITES,
        env={"NSELF_RUN_ID": run_id, **node_env},
    )
    assert result.status == 0, result.explain()
    outcomes = result.outcomes("prod")
    assert set(outcomes.values()) - {"passed"} <= exporter_skip(result, "prod"), outcomes
    assert "prod: docker" in result.stdout
    assert_nothing_left(run_id, docker=True)


def test_bullmq_and_pubsub_over_tls(tmp_path: Path, node_env: dict[str, str]) -> None:
    """With REDIS_TLS_ENABLED the checks' own clients and Node's ioredis verify the run's CA."""
    project = make_project(tmp_path / "project", env_files={".env.prod": "REDIS_TLS_ENABLED=true"})
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "prod",
        "--nself-target",
        "process",
        "-m",
        "queue or pubsub",
        env=node_env,
    )
    assert result.status == 0, result.explain()
    assert set(result.outcomes("prod").values()) == {"passed"}
    assert len(result.outcomes("prod")) == 15
