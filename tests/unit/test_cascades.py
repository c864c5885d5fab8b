"""The three orders env files load in (0.9.x, 1.x, 1.x legacy), on a project whose files
disagree on purpose: every key's winner, and its file:line, is the one nself would pick."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.envs import ORDER_09, ORDER_1X, ORDER_1X_LEGACY
from pytest_nself_redis.project.model import NselfProject
from tests.harness import NSELF_14

FILES = (".env", ".env.dev", ".env.staging", ".env.prod", ".env.secrets", ".env.local", ".env.ai", ".env.qa")
# What each generation loads, first to last, as nself documents it (not computed from the code).
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    ORDER_09: {
        "dev": (".env.dev", ".env.local", ".env"),
        "staging": (".env.dev", ".env.staging", ".env"),
        "prod": (".env.dev", ".env.staging", ".env.prod", ".env.secrets", ".env"),
        "qa": (".env.dev", ".env"),
    },
    ORDER_1X: {
        "dev": (".env", ".env.dev", ".env.secrets", ".env.local"),
        "local": (".env", ".env.dev", ".env.secrets", ".env.local"),
        "staging": (".env", ".env.staging", ".env.secrets", ".env.local"),
        "prod": (".env", ".env.prod", ".env.secrets", ".env.local"),
        "qa": (".env", ".env.qa", ".env.secrets", ".env.local"),
    },
    ORDER_1X_LEGACY: {
        "dev": (".env.dev", ".env.secrets", ".env.local", ".env", ".env.ai"),
        "local": (".env.dev", ".env.secrets", ".env.local", ".env", ".env.ai"),
        "staging": (".env.dev", ".env.staging", ".env.secrets", ".env.local", ".env", ".env.ai"),
        "prod": (".env.dev", ".env.prod", ".env.secrets", ".env.local", ".env", ".env.ai"),
        "qa": (".env.dev", ".env.secrets", ".env.local", ".env", ".env.ai"),
    },
}
CASES = [(order, env, files) for order, envs in EXPECTED.items() for env, files in envs.items()]
IDS = [f"{order[:9]}-{env}" for order, env, _ in CASES]


def _key(name: str) -> str:
    return name.strip(".").replace(".", "_").upper()


def disagreeing_project(directory: Path, cascade: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """Every file sets keys to a value naming the file; returns each key's expected winner
    (file, line). UPTO_<f> is set by the cascade up to f and by every file outside it (so
    it tells each position apart and catches a file loaded that should not be), ONLY_<f> by
    f alone (present exactly when f loads), EVERY by all files."""
    directory.mkdir()
    keys: dict[str, list[str]] = {name: ["EVERY"] for name in FILES}
    for index, upto in enumerate(cascade):
        for name in FILES:
            if name not in cascade or cascade.index(name) <= index:
                keys[name].append(f"UPTO_{_key(upto)}")
    for name in FILES:
        keys[name].append(f"ONLY_{_key(name)}")
    lines: dict[tuple[str, str], int] = {}
    for name in FILES:
        text = [f"# {name}: every key names this file"]
        for key in keys[name]:
            text.append(f"{key}={name}")
            lines[name, key] = len(text)
        (directory / name).write_text("\n".join(text) + "\n")
    expected = {"EVERY": (cascade[-1], lines[cascade[-1], "EVERY"])}
    for upto in cascade:
        key = f"UPTO_{_key(upto)}"
        expected[key] = (upto, lines[upto, key])
    for name in cascade:
        key = f"ONLY_{_key(name)}"
        expected[key] = (name, lines[name, key])
    return expected


@pytest.mark.parametrize(("order", "env", "cascade"), CASES, ids=IDS)
def test_every_key_has_the_winner_nself_picks(
    tmp_path: Path, order: str, env: str, cascade: tuple[str, ...]
) -> None:
    expected = disagreeing_project(tmp_path / "project", cascade)
    version = "0" if order == ORDER_09 else "1"
    legacy = {"NSELF_LEGACY_ENV_ORDER": "1"} if order == ORDER_1X_LEGACY else {}
    project = NselfProject.open(tmp_path / "project", version, environ=legacy)
    assert project.env_order == order
    resolved = project.resolve(env)
    assert [path.name for path in resolved.files] == list(cascade)
    got = {key: (entry.value, str(entry.source)) for key, entry in resolved.values.items()}
    assert got == {key: (name, f"{name}:{line}") for key, (name, line) in expected.items()}


def test_local_loads_the_dev_file_and_only_it(tmp_path: Path) -> None:
    disagreeing_project(tmp_path / "project", EXPECTED[ORDER_1X]["local"])
    project = NselfProject.open(tmp_path / "project", "1", environ={})
    assert project.choose_envs("local", {}).names == ("local",)
    resolved = project.resolve("local")
    assert resolved.get("ONLY_ENV_DEV") == ".env.dev"
    assert resolved.get("ONLY_ENV_LOCAL") == ".env.local"
    assert resolved.get("ONLY_ENV_STAGING") is None


def test_a_custom_env_never_loads_the_dev_file(tmp_path: Path) -> None:
    disagreeing_project(tmp_path / "project", EXPECTED[ORDER_1X]["qa"])
    project = NselfProject.open(tmp_path / "project", "1", environ={})
    resolved = project.resolve(project.choose_envs("qa", {}).names[0])
    assert resolved.get("ONLY_ENV_QA") == ".env.qa"
    assert resolved.get("ONLY_ENV_DEV") is None


@pytest.mark.parametrize("name", ["qa", "q", "preview-2", "a_b", "0day", "x" * 63, "QA"])
def test_custom_env_names_of_the_right_shape_load_their_file(tmp_path: Path, name: str) -> None:
    (tmp_path / ".env").write_text("REDIS_ENABLED=true\n")
    (tmp_path / f".env.{name.lower()}").write_text(f"REDIS_PORT=7000\nWHO={name}\n")
    project = NselfProject.open(tmp_path, "1", environ={})
    (env,) = project.choose_envs(name, {}).names
    assert env == name.lower()
    assert project.resolve(env).get("REDIS_PORT") == "7000"


@pytest.mark.parametrize("name", ["-qa", "_qa", "qa.prod", "qa/../prod", "q a", "x" * 64, "qä"])
def test_custom_env_names_of_another_shape_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / ".env").write_text("REDIS_ENABLED=true\n")
    project = NselfProject.open(tmp_path, "1", environ={})
    message = (
        f"env {name!r} is not a name nself 1.x accepts: a custom env name is 1 to 63 characters of "
        "a-z, 0-9, _ and -, starting with a letter or digit (it names the file .env.<name>)"
    )
    with pytest.raises(ProjectError) as caught:
        project.choose_envs(name, {})
    assert str(caught.value) == message
    with pytest.raises(ProjectError, match=r"is not a name nself 1\.x accepts"):
        project.resolve(name)


def test_a_custom_env_without_its_file_is_a_likely_typo(tmp_path: Path) -> None:
    for name in (".env", ".env.qa", ".env.secrets", ".env.computed", ".env.ai"):
        (tmp_path / name).write_text("A=1\n")
    project = NselfProject.open(tmp_path, "1", environ={})
    with pytest.raises(ProjectError) as caught:
        project.choose_envs("stagin", {})
    known = "dev, staging, prod, local, qa"
    assert str(caught.value).startswith(f"unknown env 'stagin': this project knows {known} ")
    for not_an_env in ("secrets", "computed", "ai"):
        with pytest.raises(ProjectError, match=f"unknown env '{not_an_env}'"):
            project.choose_envs(not_an_env, {})


def test_1x_env_choice_puts_the_process_environment_before_the_env_line(tmp_path: Path) -> None:
    for name in (".env.dev", ".env.staging", ".env.prod"):
        (tmp_path / name).write_text("A=1\n")
    (tmp_path / ".env").write_text("ENV=staging\n")
    one_x = NselfProject.open(tmp_path, "1", environ={})
    zero_nine = NselfProject.open(tmp_path, "0", environ={})
    assert one_x.choose_envs(None, {"ENV": "prod"}).names == ("prod",)
    assert one_x.choose_envs(None, {"ENV": "prod"}).chosen_by == "$ENV"
    assert zero_nine.choose_envs(None, {"ENV": "prod"}).names == ("staging",)
    assert one_x.choose_envs(None, {}).names == ("staging",)
    assert one_x.choose_envs(None, {"NSELF_ENV": "dev", "ENV": "prod"}).names == ("dev",)
    assert one_x.choose_envs("local", {"NSELF_ENV": "dev", "ENV": "prod"}).names == ("local",)
    (tmp_path / ".env").write_text("A=1\n")
    assert one_x.choose_envs(None, {}).chosen_by == "default"


@pytest.mark.parametrize(
    ("value", "legacy"),
    [
        *[(value, True) for value in ("1", "true", "TRUE", "t", "yes", "on", " 1 ")],
        *[(value, False) for value in ("0", "false", "", "no", "off", "F")],
    ],
)
def test_the_legacy_order_variable_is_read_as_true_or_false(tmp_path: Path, value: str, legacy: bool) -> None:
    (tmp_path / ".env").write_text("A=1\n")
    project = NselfProject.open(tmp_path, "1", environ={"NSELF_LEGACY_ENV_ORDER": value})
    assert project.env_order == (ORDER_1X_LEGACY if legacy else ORDER_1X)


def test_a_legacy_order_value_that_is_neither_is_refused_on_1x_only(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\n")
    with pytest.raises(ProjectError) as caught:
        NselfProject.open(tmp_path, "1", environ={"NSELF_LEGACY_ENV_ORDER": "maybe"})
    assert str(caught.value) == (
        "NSELF_LEGACY_ENV_ORDER='maybe' (environment): expected true or false (1/0, t/f, true/false, "
        "yes/no, on/off); when true, nself 1.x loads the env files in its legacy order"
    )
    assert NselfProject.open(tmp_path, "0", environ={"NSELF_LEGACY_ENV_ORDER": "maybe"}).env_order == ORDER_09


SECRET_NOW, SECRET_BUILT = "Hq4nW8tZc2Lm9Rx5Vb7K", "Pd3sF6yJa1Ge8Tu4Nk2W"


def test_generated_1x_files_that_disagree_are_named_without_secrets(tmp_path: Path) -> None:
    (tmp_path / ".nself").mkdir()
    (tmp_path / ".env").write_text("REDIS_ENABLED=true\nREDIS_PORT=6380\n")
    (tmp_path / ".env.secrets").write_text(f"REDIS_PASSWORD={SECRET_NOW}\n")
    (tmp_path / ".env.computed").write_text(
        "\n".join(
            [
                "# by nself build",
                "REDIS_PORT=6379",  # the env files moved on: 6380
                "REDIS_MEMORY=512M",  # not set by the env files, the default: no warning
                "REDIS_CPU=1",  # not set by the env files, not the default
                "REDIS_URL=redis://:x@redis:6379",  # derived, not a setting: not compared
                "REDIS_ENABLED=true",  # agrees
                f"REDIS_PASSWORD={SECRET_NOW}",  # agrees
                "",
            ]
        )
    )
    (tmp_path / ".nself" / "compose.env").write_text(f"REDIS_PORT=6380\nREDIS_PASSWORD={SECRET_BUILT}\n")
    project = NselfProject.open(tmp_path, environ={})
    found = [item.describe() for item in project.runtime_disagreements(project.resolve("dev"))]
    assert found == [
        "REDIS_CPU: .env.computed has '1' (.env.computed:4) but the env files give nothing (the cascade "
        "does not set it); .env.computed holds what `nself build` computed last: build again to deploy "
        "the env files",
        "REDIS_PORT: .env.computed has '6379' (.env.computed:2) but the env files give '6380' (.env:2); "
        ".env.computed holds what `nself build` computed last: build again to deploy the env files",
        "REDIS_PASSWORD: .nself/compose.env:2 and .env.secrets:1 hold different values (not shown); "
        "compose reads .nself/compose.env until `nself build` writes it again",
    ]
    assert not any(secret in text for text in found for secret in (SECRET_NOW, SECRET_BUILT))


def test_a_0_9_project_compares_only_env_runtime(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REDIS_ENABLED=true\n")
    (tmp_path / ".env.computed").write_text("REDIS_PORT=1\n")
    assert (
        NselfProject.open(tmp_path, "0", environ={}).runtime_disagreements(
            NselfProject.open(tmp_path, "0", environ={}).resolve("dev")
        )
        == []
    )


def test_the_1_4_example_resolves_as_1x_with_env_local_winning() -> None:
    project = NselfProject.open(NSELF_14, environ={})
    context = load_env_context(project, project.choose_envs(None, {}).names[0])
    settings = context.settings
    assert context.name == "dev"
    files = [path.name for path in context.resolved.files]
    assert files == [".env", ".env.dev", ".env.secrets", ".env.local"]
    assert settings.memory.cite() == "REDIS_MEMORY=512M (.env.local:3)"
    assert settings.cpu.cite() == "REDIS_CPU=0.5 (.env.dev:5)"
    assert settings.password.cite() == "REDIS_PASSWORD=******** (.env.secrets:3)"
    assert settings.maxmemory.cite() == "REDIS_MAXMEMORY=256mb (.env.dev:6)"
    assert settings.max_clients.cite() == "REDIS_MAX_CLIENTS=10000 (.env.dev:9)"
    assert settings.port.cite() == "REDIS_PORT=6379 (.env:8)"
    assert context.runtime_disagreements == ()
    staging = load_env_context(project, "staging")
    assert staging.settings.memory.cite() == "REDIS_MEMORY=512M (.env.local:3)"
    assert [item.key for item in staging.runtime_disagreements] == ["REDIS_CPU"]
