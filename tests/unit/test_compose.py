"""Reading, interpolating and rendering the compose redis service."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.compose.interpolate import InterpolationError, interpolate
from pytest_nself_redis.compose.redis_args import parse_redis_args
from pytest_nself_redis.compose.render import render_service
from pytest_nself_redis.compose.service import load_compose_service
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.project.settings import settings_from_env
from tests.harness import COMPLETE, NSELF_099

VARIABLES = {"A": "1", "EMPTY": "", "PW": "p$w"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "1"),
        ("${A}", "1"),
        ("x${A}y", "x1y"),
        ("${NOPE}", ""),
        ("${NOPE:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${NOPE-d}", "d"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("$$A", "$A"),
        ("${NOPE:-${A}}", "1"),
        ("${PW}", "p$w"),
        ("no vars", "no vars"),
    ],
)
def test_interpolation_follows_compose(text: str, expected: str) -> None:
    assert interpolate(text, VARIABLES, "f:1") == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${", "must be followed by a variable name"),
        ("${A", "never closed"),
        ("$", "lone '$'"),
        ("${NOPE:?set it}", "required variable NOPE is not set (set it)"),
        ("${A!}", "unexpected '!'"),
    ],
)
def test_interpolation_errors_name_the_place(text: str, fragment: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(text, VARIABLES, "docker-compose.yml:7")
    assert str(caught.value).startswith("docker-compose.yml:7: ")
    assert fragment in str(caught.value)


def test_the_nself_099_service_is_read_with_lines() -> None:
    variables = NselfProject.open(NSELF_099).resolve("staging").compose_variables()
    service = load_compose_service(NSELF_099 / "docker-compose.yml", variables)
    assert service.image == "redis:7-alpine"
    assert service.user == "999:999"
    assert service.command[:5] == ("redis-server", "--appendonly", "yes", "--protected-mode", "yes")
    assert service.command[-1] == "stg-shop-redis-0b9f6a3e71c2d485"
    assert "${REDIS_PASSWORD}" in service.raw_command
    assert str(service.command_source) == "docker-compose.yml:19"
    (port,) = service.ports
    assert (port.host_ip, port.host_port, port.container_port) == ("127.0.0.1", 6379, 6379)
    assert port.loopback_only
    assert service.healthcheck == ("CMD", "redis-cli", "-a", "stg-shop-redis-0b9f6a3e71c2d485", "ping")
    assert service.volumes == ("redis_data:/data",)


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ('"6379:6379"', (None, 6379, 6379)),
        ('"6379"', (None, None, 6379)),
        ('"0.0.0.0:6380:6379"', ("0.0.0.0", 6380, 6379)),
        ('"[::1]:6379:6379/tcp"', ("::1", 6379, 6379)),
        ('"127.0.0.1::6379"', ("127.0.0.1", None, 6379)),
        ("{target: 6379, published: 7000, host_ip: 127.0.0.1}", ("127.0.0.1", 7000, 6379)),
    ],
)
def test_port_forms(tmp_path: Path, ports: str, expected: tuple[object, ...]) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  redis:\n    image: redis:7-alpine\n    ports:\n      - {ports}\n"
    )
    (port,) = load_compose_service(tmp_path / "docker-compose.yml", {}).ports
    assert (port.host_ip, port.host_port, port.container_port) == expected


def test_a_compose_file_without_redis(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services:\n  postgres:\n    image: postgres\n")
    with pytest.raises(ComposeError, match=r"has no `redis` service \(it has: postgres\)"):
        load_compose_service(tmp_path / "docker-compose.yml", {})


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services:\n  redis:\n    image: [\n")
    with pytest.raises(ComposeError, match=r"^docker-compose.yml:\d+: not valid YAML"):
        load_compose_service(tmp_path / "docker-compose.yml", {})


def test_the_rendered_service_honours_every_setting() -> None:
    context = load_env_context(NselfProject.open(COMPLETE), "prod")
    service = context.service
    args = service.args
    settings = context.settings
    assert service.origin == "rendered"
    assert args.value("maxmemory") == str(settings.maxmemory.value)
    assert args.value("maxmemory-policy") == "noeviction"
    assert args.value("appendonly") == "yes"
    assert args.value("appendfsync") == "everysec"
    assert args.value("save") == "300 1"
    assert args.value("maxclients") == "10000"
    assert args.value("timeout") == "300"
    assert args.value("tcp-keepalive") == "60"
    assert args.value("loglevel") == "warning"
    assert "${REDIS_PASSWORD}" in service.raw_command
    assert args.value("requirepass") == settings.password.value.reveal()
    assert [p.text for p in service.ports] == ["127.0.0.1:6379:6379"]
    assert "-a" not in (service.healthcheck or ())


def test_rendering_without_persistence_and_without_a_host_port() -> None:
    settings = settings_from_env("dev", {}, {"REDIS_PERSISTENCE": "false", "REDIS_PORT": "0"})
    service = render_service(settings, {"REDIS_PASSWORD": ""})
    assert service.args.value("appendonly") == "no"
    assert service.args.value("save") == ""
    assert service.ports == ()


def test_redis_args_parse_save_points_and_config_files() -> None:
    args = parse_redis_args(
        ["redis-server", "/etc/redis.conf", "--save", "900 1", "--save", "60", "100", "--maxmemory", "1gb"]
    )
    assert args.config_file == "/etc/redis.conf"
    assert args.value("save") == "900 1 60 100"
    assert args.value("maxmemory") == str(1024**3)
    assert parse_redis_args(["--save", ""]).value("save") == ""
    assert parse_redis_args(["redis-server"]).value("save") is None
