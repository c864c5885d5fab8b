"""The built wheel carries the suites, the node files and the doctor schema, and an installed
copy (not this checkout) runs them through `pytest --pyargs` and `nself-redis check`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.harness import COMPLETE, REPO, base_env


def test_an_installed_wheel_runs_the_bundled_suites(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("pytest_nself_redis-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "pytest_nself_redis/suites/test_health.py",
        "pytest_nself_redis/suites/test_queue.py",
        "pytest_nself_redis/doctor/schema.json",
        "pytest_nself_redis/node/package-lock.json",
        "pytest_nself_redis/check.ini",
        "pytest_nself_redis/py.typed",
    ):
        assert required in names, required
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = base_env(PYTHONPATH=str(site))  # the installed copy wins over this checkout's
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_nself_redis.cli",
            "check",
            "--env",
            "staging",
            "--project",
            str(COMPLETE),
            "--target",
            "process",
            "-m",
            "health or config",
            "-v",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert f"rootdir: {site}/pytest_nself_redis" in completed.stdout  # the installed check.ini
    assert "test_answers_ping PASSED" in completed.stdout
    assert (elsewhere / "reports" / "junit-staging.xml").is_file()
    pyargs = subprocess.run(
        [sys.executable, "-c", "import pytest_nself_redis.suites as s; print(s.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert pyargs.stdout.startswith(str(site)), pyargs.stdout
