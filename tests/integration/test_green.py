"""The complete example keeps every promise; reports land; secrets stay out."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.project.model import NselfProject
from tests.harness import COMPLETE, assert_nothing_left, run_suites

STAGING_PASSWORD = NselfProject.open(COMPLETE).settings("staging").password.value.reveal()


def test_complete_example_is_green_for_staging(tmp_path: Path, target_kind: str, run_id: str) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        target_kind,
        "-m",
        "health or config",
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.explain()
    outcomes = result.outcomes("staging")
    assert outcomes
    assert set(outcomes.values()) <= {"passed", "skipped"}, outcomes
    assert (result.reports / "junit-staging.xml").is_file()
    assert (result.reports / "report-staging.html").is_file()
    for path in result.reports.iterdir():
        assert STAGING_PASSWORD not in path.read_text(), path
    assert STAGING_PASSWORD not in result.output
    assert f"staging: {target_kind}" in result.stdout
    assert_nothing_left(run_id, docker=target_kind == "docker")


def test_every_test_runs_once_per_env(tmp_path: Path, run_id: str) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "dev,staging,prod",
        "--nself-target",
        "process",
        "-m",
        "health or config",
        "-v",
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.explain()
    per_env = {
        env: sorted(
            name.replace(f"[{env}-", "[").replace(f"-{env}]", "]").replace(f"[{env}]", "")
            for name in result.outcomes(env)
        )
        for env in ("dev", "staging", "prod")
    }
    assert per_env["dev"] == per_env["staging"] == per_env["prod"]
    assert len(per_env["dev"]) >= 20
    for env in ("dev", "staging", "prod"):
        assert f"test_answers_ping[{env}] PASSED" in result.stdout
        assert (result.reports / f"report-{env}.html").is_file()
    # one server per env, one at a time
    assert result.stdout.count("launch ") == 3
    assert_nothing_left(run_id, docker=False)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_other_envs_are_green_on_process(tmp_path: Path, env: str) -> None:
    result = run_suites(
        COMPLETE, tmp_path, "--nself-env", env, "--nself-target", "process", "-m", "health or config"
    )
    assert result.status == 0, result.explain()
