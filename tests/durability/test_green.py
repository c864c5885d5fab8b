"""The green path: the complete example keeps every eviction and persistence promise on both
launch targets in dev, staging and prod; the counts reach the reports; no password shows."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_nself_redis.project.model import NselfProject
from tests.harness import COMPLETE, RunResult, assert_nothing_left, run_suites

ENVS = ("dev", "staging", "prod")
PASSWORDS = [NselfProject.open(COMPLETE).settings(env).password.value.reveal() for env in ENVS]
# 8 memory-limit + 8 plain-key + 4 volatile-only + 5 preference + 1 configured
EVICTION_TESTS = 26
# 5 modes x (restart, crash, recreate) + the configured mode x 3
PERSISTENCE_TESTS = 18
RECREATE = (
    "test_recreated_container_keeps_what_the_mode_promises",
    "test_configured_mode_keeps_its_promise[",
)


def _is_recreate(name: str) -> bool:
    return name.startswith(RECREATE[0]) or (name.startswith(RECREATE[1]) and "recreate" in name)


def assert_green(result: RunResult, env: str, target_kind: str) -> None:
    outcomes = result.outcomes(env)
    assert len(outcomes) == EVICTION_TESTS + PERSISTENCE_TESTS, outcomes
    for name, outcome in outcomes.items():
        if target_kind == "process" and _is_recreate(name):
            assert outcome == "skipped", name
        else:
            assert outcome == "passed", (env, name, result.case(name, env).details)
    html = (result.reports / f"report-{env}.html").read_text()
    assert "eviction: what each policy did at maxmemory" in html
    assert "persistence: acknowledged writes across restarts and crashes" in html
    junit = (result.reports / f"junit-{env}.xml").read_text()
    for name in ("acknowledged", "survived", "lost", "loss_window_ms", "evicted", "scale_factor"):
        assert f'name="{name}"' in junit, name


def test_complete_example_is_green_in_every_env(tmp_path: Path, target_kind: str, run_id: str) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        ",".join(ENVS),
        "--nself-target",
        target_kind,
        "-m",
        "eviction or persistence",
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.output[-3000:]
    for env in ENVS:
        assert_green(result, env, target_kind)
    for password in PASSWORDS:
        assert password not in result.output
        for path in result.reports.iterdir():
            assert password not in path.read_text(errors="replace"), path
    assert_nothing_left(run_id, docker=target_kind == "docker")


def test_one_env_on_process_runs_in_under_a_minute(tmp_path: Path, run_id: str) -> None:
    """The time the issue aims at (under 60 s on 2 cores); asserted with a margin for a busy
    machine, and printed so it can be reported."""
    started = time.monotonic()
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "eviction or persistence",
        env={"NSELF_RUN_ID": run_id},
    )
    seconds = time.monotonic() - started
    print(f"eviction + persistence, staging, process target: {seconds:.1f} s")
    assert result.status == 0, result.output[-3000:]
    assert_green(result, "staging", "process")
    assert seconds < 120, f"took {seconds:.1f} s (aim: under 60 s)"
