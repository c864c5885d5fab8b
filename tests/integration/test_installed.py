"""The built wheel carries the suites, the node files and the doctor schema, and an installed
copy (not this checkout) runs them, from an nself project outside the checkout, in each of the
three ways users are told to: ``pytest --nself-env staging`` with nothing else,
``nself-redis check`` and ``pytest --pyargs pytest_nself_redis.suites``."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.harness import COMPLETE, REPO, base_env, read_junit

TIMEOUT = 300


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed into a folder of its own."""
    dist = tmp_path_factory.mktemp("dist")
    # One build at a time: builds of one checkout share its build/ folder, and two xdist
    # workers building at once break each other's.
    with (tmp_path_factory.getbasetemp().parent / "wheel-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )
    (wheel,) = dist.glob("pytest_nself_redis-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "pytest_nself_redis/suites/test_health.py",
        "pytest_nself_redis/suites/test_queue.py",
        "pytest_nself_redis/doctor/schema.json",
        "pytest_nself_redis/node/package-lock.json",
        "pytest_nself_redis/py.typed",
    ):
        assert required in names, required
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return target


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the complete example: an nself project with no tests of its own."""
    copy = tmp_path / "myproject"
    shutil.copytree(COMPLETE, copy)
    return copy


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH puts the installed copy ahead of this checkout's editable install.
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=base_env(PYTHONPATH=str(site)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _assert_suites_ran(completed: subprocess.CompletedProcess[str], site: Path, reports: Path) -> None:
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert str(REPO / "suites") not in completed.stdout, "the checkout's suites ran, not the installed ones"
    cases = read_junit(reports)["staging"]
    assert "test_answers_ping" in cases
    assert any(name.startswith("test_setting_reaches_the_server") for name in cases), cases
    # On the process target, checks that need a container skip and name the target; nothing else may skip.
    for name, case in cases.items():
        assert case.outcome == "passed" or (
            case.outcome == "skipped" and "container" in case.message and "target" in case.message
        ), (name, case)


HEADLINE: Sequence[str] = ("--nself-env", "staging", "--nself-target", "process")


def test_pytest_with_only_an_env_runs_the_bundled_suites(site: Path, project: Path) -> None:
    completed = _run(site, project, "pytest", *HEADLINE, "-m", "health or config", "-v")
    _assert_suites_ran(completed, site, project / "reports")
    assert "test_health.py::test_answers_ping PASSED" in completed.stdout
    assert f"rootdir: {project}" in completed.stdout
    assert "launch staging (process): ready in" in completed.stdout  # launch lines with -v
    # Each suite module's seconds, kept for the next run's order under -n.
    record = json.loads((project / ".pytest_cache" / "v" / "nself-redis" / "unit-seconds").read_text())
    assert set(record) == {"test_health.py::[staging]", "test_config.py::[staging]"}, record


def test_nself_redis_check_runs_them_and_honours_the_users_ini(site: Path, project: Path) -> None:
    # The user's own ini picks the env, the reports folder and a marker expression.
    (project / "pytest.ini").write_text(
        '[pytest]\nnself_env = staging\nnself_reports = out\naddopts = -m "health or config"\n'
    )
    completed = _run(site, project, "pytest_nself_redis.cli", "check", "--target", "process", "-v")
    _assert_suites_ran(completed, site, project / "out")
    assert f"rootdir: {project}" in completed.stdout
    assert "test_health.py::test_answers_ping PASSED" in completed.stdout


def test_pytest_pyargs_runs_them(site: Path, project: Path) -> None:
    completed = _run(
        site, project, "pytest", "--pyargs", "pytest_nself_redis.suites", *HEADLINE, "-m", "health or config"
    )
    _assert_suites_ran(completed, site, project / "reports")
    assert "ready in" not in completed.stdout  # one line per launch only with -v


def test_named_paths_run_with_the_fixtures_and_nself_suites_adds_bundled_ones(
    site: Path, project: Path
) -> None:
    tests = project / "mytests"
    tests.mkdir()
    (tests / "test_mine.py").write_text("def test_mine(nself_redis):\n    assert nself_redis.ping()\n")
    own = _run(site, project, "pytest", "mytests", *HEADLINE)
    assert own.returncode == 0, own.stdout[-3000:] + own.stderr[-2000:]
    assert set(read_junit(project / "reports")["staging"]) == {"test_mine"}
    both = _run(site, project, "pytest", "mytests", *HEADLINE, "--nself-suites", "health")
    assert both.returncode == 0, both.stdout[-3000:] + both.stderr[-2000:]
    names = set(read_junit(project / "reports")["staging"])
    assert "test_mine" in names
    assert "test_answers_ping" in names
    assert not any(name.startswith("test_setting_reaches") for name in names), names


def test_a_suite_is_chosen_by_its_marker_so_its_every_module_runs(site: Path, project: Path) -> None:
    # The datastructures suite spans two modules (test_datastructures.py, test_sessions.py).
    listed = _run(site, project, "pytest", "--co", "-q", "--nself-suites", "datastructures")
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-2000:]
    modules = {line.split("::", 1)[0] for line in listed.stdout.splitlines() if "::" in line}
    assert modules == {"test_datastructures.py", "test_sessions.py"}, listed.stdout[-2000:]


def test_under_n_each_installed_suite_module_runs_whole_on_one_worker(site: Path, project: Path) -> None:
    """Run from a project, the installed suites' tests are named ``test_latency.py::...``: the
    scheduler still knows them as bundled modules (it spread them test by test before)."""
    completed = _run(site, project, "pytest", *HEADLINE, "-m", "latency or config", "-n", "2", "-v")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    workers: dict[str, set[str]] = {}
    for worker, module in re.findall(r"^\[(gw\d+)\].*? (test_\w+\.py)::", completed.stdout, re.MULTILINE):
        workers.setdefault(module, set()).add(worker)
    assert set(workers) == {"test_latency.py", "test_config.py"}, completed.stdout[-3000:]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
