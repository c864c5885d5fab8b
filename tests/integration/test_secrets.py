"""Secrets never appear in reports, logs or terminal output (SPEC §7)."""

from __future__ import annotations

from pathlib import Path

from pytest_nself_redis.project.model import NselfProject
from tests.conftest import Launcher
from tests.harness import COMPLETE, make_project, run_pytest

LEAKY_TESTS = """
import logging

import pytest


def test_assertion_shows_the_password(nself_settings):
    password = nself_settings.password.value.reveal()
    assert password == "something else"


def test_log_and_print_the_password(nself_settings, nself_target):
    password = nself_settings.password.value.reveal()
    logging.getLogger("app").warning("connecting with %s", password)
    print("password is", password, "url", f"redis://:{password}@127.0.0.1:6379/0")
    raise RuntimeError(f"boom {password}")


def test_other_secret_keys(nself_context):
    value = nself_context.resolved.get("API_TOKEN")
    pytest.fail(f"token was {value}")


@pytest.mark.destructive
def test_skip_reason_mentions(nself_settings):
    pytest.skip("skipping because " + nself_settings.password.value.reveal())
"""


def leaked(secret: str, result_output: str, reports: Path) -> list[str]:
    places = ["terminal"] if secret in result_output else []
    places += [
        str(path)
        for path in reports.rglob("*")
        if path.is_file() and secret in path.read_text(errors="replace")
    ]
    return places


def test_no_secret_in_any_output(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", env_files={".env.staging": "API_TOKEN=tok-9d8e7f6a5b4c"})
    password = NselfProject.open(project).settings("staging").password.value.reveal()
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    result = run_pytest(
        [
            "test_leaky.py",
            "--nself-project",
            str(project),
            "--nself-env",
            "staging",
            "--nself-target",
            "process",
            "-rA",
            "-v",
            "--log-level",
            "DEBUG",
            "--tb",
            "long",
            "--showlocals",
        ],
        tmp_path,
    )
    assert result.status == 1, result.output[-2000:]
    outcomes = result.outcomes("staging")
    assert outcomes["test_assertion_shows_the_password"] == "failed"
    assert outcomes["test_skip_reason_mentions"] == "skipped"
    assert "********" in result.output  # the places where it would have been
    assert leaked(password, result.output, result.reports) == []
    assert leaked("tok-9d8e7f6a5b4c", result.output, result.reports) == []


def test_attach_url_password_is_never_shown(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    password = target.endpoint.password.reveal()
    result = run_pytest(
        [
            "--pyargs",
            "pytest_nself_redis.suites",
            "--nself-project",
            str(COMPLETE),
            "--nself-env",
            "staging",
            "--nself-target",
            "attach",
            "-m",
            "health or config",
            "--nself-redis-url",
            f"redis://:{password}@127.0.0.1:{target.endpoint.port}",
            "-v",
            "-rA",
        ],
        tmp_path,
    )
    assert result.status == 0, result.output[-2000:]
    assert "attach redis://:********@127.0.0.1" in result.output
    assert leaked(password, result.output, result.reports) == []
