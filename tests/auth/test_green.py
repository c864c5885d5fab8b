"""The green path: the complete example keeps every auth and tls promise on both launch
targets for dev, staging and prod (prod serves TLS only, dev and staging plain TCP), read as
either nself generation, and so does a TLS-enabled variant; no password is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.project.model import NselfProject
from tests.harness import COMPLETE, RunResult, assert_nothing_left, make_project, run_suites

ENVS = ("dev", "staging", "prod")
PASSWORDS = [NselfProject.open(COMPLETE).settings(env).password.value.reveal() for env in ENVS]
# Skipped by design on the complete example, with the reason.
SKIPPED_ON_COMPLETE = {
    "test_port_zero_publishes_none": "asks for a host port",
    "test_protected_mode_without_password": "protected mode only guards a server without one",
}
TLS_TESTS = ("test_accepts_tls", "test_refuses_plaintext")
TLS_ENVS = ("prod",)  # REDIS_TLS_ENABLED=true in examples/complete/.env.prod


def assert_clean(result: RunResult) -> None:
    for password in PASSWORDS:
        assert password not in result.output
        for path in result.reports.iterdir():
            assert password not in path.read_text(errors="replace"), path


@pytest.mark.parametrize("generation", ["0", "1"])
def test_complete_example_is_green_in_every_env(
    tmp_path: Path, target_kind: str, run_id: str, generation: str
) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        ",".join(ENVS),
        "--nself-target",
        target_kind,
        "-m",
        "auth or tls",
        "--nself-version",
        generation,
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.explain()
    for env in ENVS:
        outcomes = result.outcomes(env)
        assert len(outcomes) == 16, outcomes
        for name, outcome in outcomes.items():
            base = name.split("[")[0]
            if base in SKIPPED_ON_COMPLETE:
                assert outcome == "skipped"
                assert SKIPPED_ON_COMPLETE[base] in result.case(base, env).message
            elif base.startswith(TLS_TESTS) and env not in TLS_ENVS:
                assert outcome == "skipped"
                assert "TLS is not promised (REDIS_TLS_ENABLED=false" in result.case(base, env).message
            else:
                assert outcome == "passed", (env, name, result.case(base, env).details)
    assert "PromiseWarning" not in result.output
    assert_clean(result)
    assert_nothing_left(run_id, docker=target_kind == "docker")


def test_tls_variant_is_green_in_every_env(tmp_path: Path, target_kind: str, run_id: str) -> None:
    project = make_project(tmp_path / "project", env_files={".env": "REDIS_TLS_ENABLED=true"})
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        ",".join(ENVS),
        "--nself-target",
        target_kind,
        "-m",
        "auth or tls or config",
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.explain()
    for env in ENVS:
        outcomes = result.outcomes(env)
        for name in (
            "test_accepts_tls_clients",
            "test_refuses_plaintext",
            "test_tls_setting_reaches_the_server",
        ):
            assert outcomes[f"{name}[{env}]"] == "passed", (env, name, outcomes)
        for name in ("test_noauth_before_auth", "test_right_password_works", "test_url_form_works"):
            assert outcomes[f"{name}[{env}]"] == "passed", (env, name, outcomes)
        assert set(outcomes.values()) <= {"passed", "skipped"}, outcomes
    assert_clean(result)
    assert_nothing_left(run_id, docker=target_kind == "docker")
