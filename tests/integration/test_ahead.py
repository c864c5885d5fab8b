"""Checks on servers of their own run ahead of their tests, several at a time
(``nself_variant_runs``): together, only those the selection will ask for, each test
reporting its own, each check's servers removed once it is done, nothing left when a run
stops early."""

from __future__ import annotations

from pathlib import Path

from pytest_nself_redis.plugin.ahead import WORKERS
from tests.harness import COMPLETE, assert_nothing_left, run_pytest

# A suite module of the user's: one launching check per parameter. With AHEAD_TOGETHER set,
# each waits at a barrier until every one of them runs: only checks running at once pass it.
SUITE = """
import os
import threading
import time
from pathlib import Path

import pytest

from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import verdict
from pytest_nself_redis.plugin.verdicts import family, run_check

COUNT = int(os.environ["AHEAD_COUNT"])
TOGETHER = threading.Barrier(COUNT, timeout=120) if os.environ.get("AHEAD_TOGETHER") else None
FAIL = os.environ.get("AHEAD_FAIL", "")
LOG = Path("ran.log")


@check("ahead.demo.{}", params=tuple(f"c{index}" for index in range(COUNT)))
def on_its_own_server(context, name, *, launch):
    \"\"\"runs on a server of its own\"\"\"
    server = launch(REDIS_MAXMEMORY_POLICY="allkeys-lru").client()
    pid = int(server.info("server")["process_id"])
    with LOG.open("a") as log:
        log.write(f"{name}\\n")
    if TOGETHER is not None:
        TOGETHER.wait()
    if name != FAIL:
        time.sleep(float(os.environ.get("AHEAD_SLEEP", "0")))
    policy = server.config_get("maxmemory-policy")["maxmemory-policy"]
    return verdict(name != FAIL, f"{name} ran on pid {pid} with {policy}", measured={"pid": pid})


@pytest.mark.parametrize("check_id", family("ahead.demo.{}"))
def test_demo(check_id, nself_checks, nself_variant_runs):
    result = run_check(check_id, nself_checks, ahead=nself_variant_runs)
    # Its server was removed as soon as the check was done.
    pid = result.measured["pid"]
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
"""


def run_demo(tmp_path: Path, run_id: str, *args: str, **env: str) -> tuple[int, str, list[str]]:
    (tmp_path / "test_ahead_demo.py").write_text(SUITE)
    result = run_pytest(
        [
            "test_ahead_demo.py",
            "--nself-project",
            str(COMPLETE),
            "--nself-env",
            "staging",
            "--nself-target",
            "process",
            *args,
        ],
        tmp_path,
        env={"NSELF_RUN_ID": run_id, **env},
    )
    ran = (tmp_path / "ran.log").read_text().split() if (tmp_path / "ran.log").exists() else []
    return result.status, result.output, ran


def test_launching_checks_run_together_and_each_test_reports_its_own(tmp_path: Path, run_id: str) -> None:
    status, output, ran = run_demo(
        tmp_path, run_id, "-v", AHEAD_COUNT=str(WORKERS), AHEAD_TOGETHER="1", AHEAD_FAIL="c2"
    )
    # Every check passed the barrier (all ran at once), its own test took its verdict, and the
    # passing ones found its server already removed.
    assert status == 1, output[-3000:]
    assert sorted(ran) == [f"c{index}" for index in range(WORKERS)]
    for index in range(WORKERS):
        expected = "FAILED" if index == 2 else "PASSED"
        assert f"test_demo[c{index}] {expected}" in output, output[-3000:]
    assert "c2 ran on pid" in output
    assert "allkeys-lru" in output
    assert_nothing_left(run_id, docker=False)


def test_only_the_selected_checks_run(tmp_path: Path, run_id: str) -> None:
    status, output, ran = run_demo(tmp_path, run_id, "-k", "c1 or c3", AHEAD_COUNT="5")
    assert status == 0, output[-3000:]
    assert sorted(ran) == ["c1", "c3"]
    assert_nothing_left(run_id, docker=False)


def test_a_run_stopped_early_runs_no_more_checks_and_leaves_nothing(tmp_path: Path, run_id: str) -> None:
    # c0 fails at once and -x ends the run while the others sleep: those queued behind them
    # never start, and the servers of those running are removed.
    count = 3 * WORKERS
    status, output, ran = run_demo(
        tmp_path, run_id, "-x", AHEAD_COUNT=str(count), AHEAD_FAIL="c0", AHEAD_SLEEP="5"
    )
    assert status == 1, output[-3000:]
    assert "c0" in ran
    assert len(ran) < count, ran
    assert_nothing_left(run_id, docker=False)
