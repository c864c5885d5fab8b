"""Env names, the cascade and which env a run picks, exactly as SPEC §2 says."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.envs import cascade_files, normalise_env_name
from pytest_nself_redis.project.model import NselfProject


@pytest.mark.parametrize(
    ("raw", "env"),
    [
        ("development", "dev"),
        ("Develop", "dev"),
        ("devel", "dev"),
        ("production", "prod"),
        ("stage", "staging"),
        ("STAGING", "staging"),
        ("prod", "prod"),
    ],
)
def test_names_normalise(raw: str, env: str) -> None:
    assert normalise_env_name(raw) == env


def test_the_cascades() -> None:
    assert cascade_files("dev") == (".env.dev", ".env.local", ".env")
    assert cascade_files("staging") == (".env.dev", ".env.staging", ".env")
    assert cascade_files("prod") == (".env.dev", ".env.staging", ".env.prod", ".env.secrets", ".env")
    assert cascade_files("qa") == (".env.dev", ".env")


def project(tmp_path: Path, files: dict[str, str]) -> NselfProject:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return NselfProject.open(tmp_path)


def test_later_files_win_in_the_prod_cascade(tmp_path: Path) -> None:
    nself = project(
        tmp_path,
        {
            ".env.dev": "A=dev\nB=dev\nC=dev\nD=dev\nE=dev\n",
            ".env.staging": "B=staging\nC=staging\nD=staging\nE=staging\n",
            ".env.prod": "C=prod\nD=prod\nE=prod\n",
            ".env.secrets": "D=secret\nE=secret\n",
            ".env": "E=dotenv\n",
            ".env.local": "A=local\n",
        },
    )
    values = {key: entry.value for key, entry in nself.resolve("prod").values.items()}
    assert values == {"A": "dev", "B": "staging", "C": "prod", "D": "secret", "E": "dotenv"}
    assert str(nself.resolve("prod").values["C"].source) == ".env.prod:1"
    # .env.local takes part in dev only
    assert nself.resolve("dev").values["A"].value == "local"
    assert nself.resolve("staging").values["A"].value == "dev"


def test_env_choice_precedence(tmp_path: Path) -> None:
    nself = project(tmp_path, {".env": "ENV=staging\n"})
    assert nself.choose_envs("prod", {"NSELF_ENV": "dev", "ENV": "dev"}).names == ("prod",)
    assert nself.choose_envs(None, {"NSELF_ENV": "production", "ENV": "dev"}).names == ("prod",)
    assert nself.choose_envs(None, {"ENV": "prod"}).names == ("staging",)


def test_env_from_dollar_env_then_dev(tmp_path: Path) -> None:
    nself = project(tmp_path, {".env": "A=1\n"})
    assert nself.choose_envs(None, {"ENV": "stage"}).names == ("staging",)
    assert nself.choose_envs(None, {}).names == ("dev",)
    assert nself.choose_envs(None, {}).chosen_by == "default"


def test_a_list_of_envs(tmp_path: Path) -> None:
    nself = project(tmp_path, {".env": "A=1\n"})
    assert nself.choose_envs("dev, staging,prod,dev", {}).names == ("dev", "staging", "prod")


def test_an_unknown_env_lists_the_known_ones(tmp_path: Path) -> None:
    nself = project(tmp_path, {".env": "A=1\n", ".env.qa": "A=2\n"})
    assert nself.choose_envs("qa", {}).names == ("qa",)
    with pytest.raises(
        ProjectError, match=r"unknown env 'stagin': this project knows dev, staging, prod, qa"
    ):
        nself.choose_envs("stagin", {})


def test_no_project_and_no_env_files(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        NselfProject.open(tmp_path / "missing")
    with pytest.raises(ProjectError, match=r"holds no \.env files"):
        NselfProject.open(tmp_path)


def test_runtime_disagreements_are_named_without_secrets(tmp_path: Path) -> None:
    nself = project(
        tmp_path,
        {
            ".env.staging": "REDIS_MAXMEMORY=512mb\nREDIS_PASSWORD=new-secret-value\n",
            ".env.runtime": "REDIS_MAXMEMORY=256mb\nREDIS_PASSWORD=old-secret-value\nREDIS_PORT=6380\n",
        },
    )
    found = [item.describe() for item in nself.runtime_disagreements(nself.resolve("staging"))]
    assert found == [
        "REDIS_MAXMEMORY: .env.runtime has '256mb' (.env.runtime:1) but the env files give '512mb' "
        "(.env.staging:1); compose uses .env.runtime until `nself start` writes it again",
        "REDIS_PASSWORD: .env.runtime:2 and .env.staging:2 hold different values (not shown); "
        "compose uses .env.runtime until `nself start` writes it again",
        "REDIS_PORT: .env.runtime has '6380' (.env.runtime:3) but the env files give nothing "
        "(the cascade does not set it); compose uses .env.runtime until `nself start` writes it again",
    ]
    assert nself.runtime_disagreements(nself.resolve("dev")) != []
