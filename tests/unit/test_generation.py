"""Which nself wrote a project, and the evidence every report shows for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.context import load_env_context, open_project
from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.envs import ORDER_09, ORDER_1X
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.reporting.environment import EnvReport
from tests.harness import COMPLETE, NSELF_099, NSELF_14


@pytest.mark.parametrize(
    ("example", "reason"),
    [
        (COMPLETE, "0.9.x: default: no sign of nself 1.x"),
        (NSELF_099, "0.9.x: .env.runtime"),
        (NSELF_14, "1.x: .nself/ folder"),
    ],
    ids=["complete", "nself-0.9.9", "nself-1.4"],
)
def test_each_bundled_example_is_detected_with_its_reason(example: Path, reason: str) -> None:
    project = NselfProject.open(example, environ={})
    assert project.generation.reason == reason
    assert project.env_order == (ORDER_1X if reason.startswith("1.x") else ORDER_09)


def test_the_report_row_names_the_generation_and_why() -> None:
    context = load_env_context(NselfProject.open(NSELF_14, environ={}), "dev")
    assert str(context.generation) == "1.x (.nself/ folder)"
    assert EnvReport.from_context(context).rows()["nself generation"] == "1.x (.nself/ folder)"


@pytest.mark.parametrize(
    ("example", "version", "reason", "first_file"),
    [
        (COMPLETE, "1", "1.x: forced by --nself-version 1", ".env"),
        (NSELF_14, "0", "0.9.x: forced by --nself-version 0", ".env.dev"),
        (NSELF_14, "auto", "1.x: .nself/ folder", ".env"),
    ],
)
def test_the_version_option_overrides_detection(
    example: Path, version: str, reason: str, first_file: str
) -> None:
    project = NselfProject.open(example, version, environ={})
    assert project.generation.reason == reason
    assert project.resolve("staging").files[0].name == first_file


def test_the_override_names_where_it_was_given() -> None:
    project = NselfProject.open(COMPLETE, "1", environ={}, version_origin="NSELF_VERSION")
    assert str(project.generation) == "1.x (forced by NSELF_VERSION 1)"


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ProjectError, match=r"--nself-version='2': choose one of auto, 0, 1"):
        NselfProject.open(COMPLETE, "2", environ={})


def _project(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / ".env").write_text("REDIS_ENABLED=true\n")
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


LITERAL_1X = """services:
  redis:
    image: redis:7-alpine
    command: redis-server --requirepass Zq8vT3mLw7pR2nXy6cKb --maxclients 50
    deploy:
      resources:
        limits: {memory: 512M}
"""
DEFAULT = "0.9.x: default: no sign of nself 1.x"
INTERPOLATED_09 = """services:
  redis:
    image: redis:7-alpine
    command: redis-server --requirepass ${REDIS_PASSWORD}
    cap_drop: [ALL]
"""


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({".env.computed": "REDIS_PORT=6379\n"}, "1.x: .env.computed"),
        ({".nself/compose.env": "REDIS_PORT=6379\n"}, "1.x: .nself/ folder"),
        ({".nself/compose-files.txt": "docker-compose.yml\n"}, "1.x: .nself/ folder"),
        # A block mapping's line is its first line.
        ({"docker-compose.yml": LITERAL_1X}, "1.x: literal redis service with deploy (docker-compose.yml:6)"),
        (
            {"docker-compose.yml": LITERAL_1X.replace("deploy:", "cap_drop: [ALL]\n    deploy:")},
            "1.x: literal redis service with deploy (docker-compose.yml:7)",
        ),
        (
            {"docker-compose.yml": "services:\n  redis:\n    image: redis\n    read_only: true\n"},
            "1.x: literal redis service with read_only (docker-compose.yml:4)",
        ),
        (
            {"docker-compose.yml": INTERPOLATED_09},
            "0.9.x: ${REDIS_PASSWORD} interpolated in docker-compose.yml:4",
        ),
        # A literal service without 1.x's limits and hardening says nothing either way.
        ({"docker-compose.yml": "services:\n  redis:\n    image: redis\n"}, DEFAULT),
        # A broken compose file is reported when it is read, not here.
        ({"docker-compose.yml": "services: [\n"}, DEFAULT),
        # 1.x's own files outrank a stale .env.runtime left from 0.9.x.
        ({".env.runtime": "A=1\n", ".env.computed": "A=1\n"}, "1.x: .env.computed"),
        ({".env.runtime": "A=1\n", "docker-compose.yml": LITERAL_1X}, "0.9.x: .env.runtime"),
    ],
)
def test_detection_evidence(tmp_path: Path, files: dict[str, str], reason: str) -> None:
    project = open_project(_project(tmp_path / "p", files), environ={})
    assert project.generation.reason == reason


def test_the_project_layer_alone_reads_no_compose_file(tmp_path: Path) -> None:
    """NselfProject.open sits below the compose layer: only open_project adds its evidence."""
    directory = _project(tmp_path / "p", {"docker-compose.yml": LITERAL_1X})
    assert NselfProject.open(directory, environ={}).generation.reason == DEFAULT
    assert open_project(directory, environ={}).generation.is_1x
