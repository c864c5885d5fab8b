"""After a run is interrupted (Ctrl-C, SIGTERM) nothing it launched is left; after a
SIGKILL, `nself-redis cleanup` removes what remains."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pytest_nself_redis.targets.resources import OWNER_FILE, TEMP_PREFIX
from tests.harness import (
    COMPLETE,
    assert_nothing_left,
    base_env,
    leftover_docker,
    run_cli,
    signals_as_in_a_terminal,
)

SLOW_TEST = """
import pathlib
import time


def test_slow(nself_target, nself_redis):
    nself_redis.ping()
    pathlib.Path("started").write_text("yes")
    time.sleep(60)
"""


def start_slow_run(tmp_path: Path, kind: str, run_id: str) -> subprocess.Popen[str]:
    (tmp_path / "test_slow.py").write_text(SLOW_TEST)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "test_slow.py",
        "--nself-project",
        str(COMPLETE),
        "--nself-env",
        "staging",
        "--nself-target",
        kind,
        "--nself-reports",
        str(tmp_path / "reports"),
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=base_env(NSELF_RUN_ID=run_id),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=signals_as_in_a_terminal,  # noqa: PLW1509 - resets signal state only, takes no lock
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"slow run did not start: {process.communicate()[0][-2000:]}")
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_leaves_nothing(tmp_path: Path, target_kind: str, run_id: str, sig: int) -> None:
    process = start_slow_run(tmp_path, target_kind, run_id)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2, output[-2000:]  # pytest: interrupted
    assert "Traceback" not in output, output[-3000:]
    assert_nothing_left(run_id, docker=target_kind == "docker")
    assert (tmp_path / "reports" / "junit-staging.xml").is_file()


def test_killed_run_is_cleaned_up_by_the_cleanup_command(
    tmp_path: Path, target_kind: str, run_id: str
) -> None:
    process = start_slow_run(tmp_path, target_kind, run_id)
    process.kill()
    process.communicate(timeout=60)
    time.sleep(0.5)  # the server gets SIGKILL through PDEATHSIG as its parent dies
    if target_kind == "docker":
        assert leftover_docker(run_id), "a SIGKILLed run cannot clean up: expected a leftover"
    completed = run_cli(["cleanup"], tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert_nothing_left(run_id, docker=target_kind == "docker")


def test_cleanup_skips_run_dirs_that_are_not_ours(tmp_path: Path, run_id: str) -> None:
    """Another user's 0700 run dir in the shared temp dir: cleanup says it skipped it (it used to
    die on PermissionError) and still removes our own stale one. Run without the capabilities that
    let root read anything, as an ordinary user would be."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.fail("this test needs root (to chown a dir to another uid) and setpriv", pytrace=False)
    theirs = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{run_id}-process-"))
    ours = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{run_id}-process-"))
    try:
        for path in (theirs, ours):
            (path / OWNER_FILE).write_text("999999999")  # a pid that cannot be running
        os.chown(theirs / OWNER_FILE, 12345, 12345)
        os.chown(theirs, 12345, 12345)
        theirs.chmod(0o700)
        completed = subprocess.run(
            [
                "setpriv",
                "--bounding-set=-dac_override,-dac_read_search,-fowner",
                "--",
                sys.executable,
                "-m",
                "pytest_nself_redis.cli",
                "cleanup",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=base_env(DOCKER_HOST="unix:///nonexistent/docker.sock"),
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert "Traceback" not in completed.stderr, completed.stderr
        assert f"skipped {theirs}: owned by uid 12345, not by this user (uid 0)" in completed.stdout
        assert f"temp dir {ours}" in completed.stdout
        assert theirs.is_dir()
        assert not ours.exists()
    finally:
        shutil.rmtree(theirs, ignore_errors=True)
        shutil.rmtree(ours, ignore_errors=True)
