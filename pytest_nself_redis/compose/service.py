"""The Redis service a project deploys: read from ``docker-compose.yml`` or rendered.

The deployment layer of every check. Values are interpolated the way compose
does at ``up`` time; the raw (uninterpolated) text is kept too, because some
promises are about the file itself (the password must not be written in it).
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.redis_args import RedisArgs, parse_redis_args
from pytest_nself_redis.compose.yaml_lines import LineDict, LineList, load_yaml_with_lines, shape_of
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.secrets import is_secret_name

COMPOSE_FILE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
SERVICE_NAME = "redis"
_PORT = re.compile(
    r"(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):)?"
    r"(?:(?P<host>[0-9]*):)?(?P<container>[0-9]+)(?:/(?P<proto>tcp|udp))?\Z"
)


@dataclass(frozen=True)
class PortBinding:
    """One published port: ``host_ip`` None means every interface."""

    host_ip: str | None
    host_port: int | None
    container_port: int
    text: str
    source: Source

    @property
    def loopback_only(self) -> bool:
        return self.host_ip in ("127.0.0.1", "::1", "[::1]", "localhost")


@dataclass(frozen=True)
class RedisService:
    origin: str  # "compose" or "rendered"
    image: str
    command: tuple[str, ...]
    raw_command: str
    command_source: Source
    source: Source
    user: str | None = None
    volumes: tuple[str, ...] = ()
    ports: tuple[PortBinding, ...] = ()
    healthcheck: tuple[str, ...] | None = None
    raw_healthcheck: str | None = None
    healthcheck_source: Source | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    compose_file: Path | None = None

    @property
    def args(self) -> RedisArgs:
        return parse_redis_args(self.command)

    @property
    def container_port(self) -> int:
        if self.ports:
            return self.ports[0].container_port
        port = self.args.value("port")
        return int(port) if port and port.isdigit() else 6379

    def secret_values(self) -> list[str]:
        """Passwords the deployment writes itself (a literal --requirepass, a secret environment
        value, redis-cli -a in the healthcheck), which may differ from REDIS_PASSWORD: the
        redactor must know them too."""
        found = self.args.secret_values()
        found += [
            value for key, value in self.environment.items() if is_secret_name(key) or key == "REDISCLI_AUTH"
        ]
        words = [word for item in self.healthcheck or () for word in _words(item)]
        found += [after for flag, after in itertools.pairwise(words) if flag in ("-a", "--pass")]
        return found

    def describe(self) -> str:
        if self.origin == "compose" and self.compose_file is not None:
            return f"service `redis` of {self.source}"
        return "service rendered from the settings"


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def find_compose_file(project_dir: Path) -> Path | None:
    """The first compose file there is; one that cannot be read (a directory, no permission)
    is still found, so reading it says so instead of silently rendering the service."""
    for name in COMPOSE_FILE_NAMES:
        candidate = project_dir / name
        if candidate.exists():
            return candidate
    return None


def _as_text(value: Any, where: str, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ComposeError(f"{where}: {what} should be a string, found {shape_of(value)}")


def _item_lines(value: list[Any], line: int) -> list[int]:
    return value.lines if isinstance(value, LineList) else [line] * len(value)


def _command(value: Any, line: int, path: Path, variables: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    where = f"{path.name}:{line}"
    if isinstance(value, list):
        lines = _item_lines(value, line)
        items = [
            interpolate(_as_text(item, f"{path.name}:{n}", "command item"), variables, f"{path.name}:{n}")
            for item, n in zip(value, lines, strict=True)
        ]
        return tuple(items), " ".join(_as_text(item, where, "command") for item in value)
    if not isinstance(value, str):
        # Compose itself takes a string or a list of strings; a number is no program.
        raise ComposeError(f"{where}: command should be a string or a list, found {shape_of(value)}")
    text = interpolate(value, variables, where)
    try:
        return tuple(shlex.split(text)), value
    except ValueError as error:
        raise ComposeError(f"{where}: command cannot be split into words ({error})") from None


def _ports(value: Any, line: int, path: Path, variables: Mapping[str, str]) -> tuple[PortBinding, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ComposeError(f"{path.name}:{line}: ports should be a list, found {shape_of(value)}")
    lines = _item_lines(value, line)
    bindings = []
    for item, item_line in zip(value, lines, strict=True):
        where = f"{path.name}:{item_line}"
        source = Source(path, item_line)
        if isinstance(item, dict):
            target = interpolate(_as_text(item.get("target", ""), where, "target"), variables, where)
            published = interpolate(_as_text(item.get("published", ""), where, "published"), variables, where)
            host_ip = item.get("host_ip")
            if not target.isdigit():
                raise ComposeError(f"{where}: port target {target!r} is not a number")
            bindings.append(
                PortBinding(
                    interpolate(_as_text(host_ip, where, "host_ip"), variables, where) if host_ip else None,
                    int(published) if published.isdigit() else None,
                    int(target),
                    f"{host_ip or ''}:{published}:{target}",
                    source,
                )
            )
            continue
        text = interpolate(_as_text(item, where, "port"), variables, where)
        match = _PORT.match(text)
        if match is None:
            raise ComposeError(f"{where}: cannot read port mapping {text!r}")
        ip, host = match["ip"], match["host"]
        if ip is not None and host is None and ip.isdigit():
            ip, host = None, ip  # "6379:6379" is HOST:CONTAINER, not IP:CONTAINER
        bindings.append(
            PortBinding(
                ip.strip("[]") if ip else None,
                int(host) if host else None,
                int(match["container"]),
                text,
                source,
            )
        )
    return tuple(bindings)


def _healthcheck(
    value: Any, line: int, path: Path, variables: Mapping[str, str]
) -> tuple[tuple[str, ...] | None, str | None, Source | None]:
    if value is None:
        return None, None, None
    if not isinstance(value, dict):
        raise ComposeError(f"{path.name}:{line}: healthcheck should be a mapping, found {shape_of(value)}")
    if value.get("test") is None:
        return None, None, None
    test = value["test"]
    test_line = value.line_of("test") if isinstance(value, LineDict) else line
    where = f"{path.name}:{test_line}"
    if isinstance(test, list):
        raw = " ".join(_as_text(item, where, "healthcheck test item") for item in test)
        items = tuple(
            interpolate(_as_text(item, where, "healthcheck test item"), variables, where) for item in test
        )
    elif isinstance(test, str):
        raw = test
        items = ("CMD-SHELL", interpolate(raw, variables, where))
    else:
        raise ComposeError(f"{where}: healthcheck test should be a string or a list, found {shape_of(test)}")
    return items, raw, Source(path, test_line)


def _volumes(value: Any, line: int, path: Path, variables: Mapping[str, str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ComposeError(f"{path.name}:{line}: volumes should be a list, found {shape_of(value)}")
    volumes = []
    for item, item_line in zip(value, _item_lines(value, line), strict=True):
        where = f"{path.name}:{item_line}"
        if isinstance(item, str):
            volumes.append(interpolate(item, variables, where))
        elif isinstance(item, dict):
            source = _as_text(item.get("source", ""), where, "volume source")
            target = _as_text(item.get("target", ""), where, "volume target")
            volumes.append(f"{source}:{target}")
        else:
            raise ComposeError(f"{where}: a volume should be a string or a mapping, found {shape_of(item)}")
    return tuple(volumes)


def _environment(value: Any, line: int, path: Path, variables: Mapping[str, str]) -> dict[str, str]:
    """``KEY: value`` pairs or ``KEY=value`` items, as compose takes them."""
    environment: dict[str, str] = {}
    if value is None:
        return environment
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path.name}:{value.line_of(key) if isinstance(value, LineDict) else line}"
            text = "" if item is None else _as_text(item, where, f"environment {key}")
            environment[str(key)] = interpolate(text, variables, where)
        return environment
    if not isinstance(value, list):
        raise ComposeError(
            f"{path.name}:{line}: environment should be a mapping or a list, found {shape_of(value)}"
        )
    for item, item_line in zip(value, _item_lines(value, line), strict=True):
        where = f"{path.name}:{item_line}"
        key, _, text = _as_text(item, where, "environment item").partition("=")
        environment[key] = interpolate(text, variables, where)
    return environment


def _redis_service(document: Any, path: Path) -> tuple[LineDict, int]:
    """The ``services.redis`` mapping and its line, or the error saying what is there instead."""
    if document is None:
        raise ComposeError(f"{path.name} has no `services:` section")
    if not isinstance(document, LineDict):
        raise ComposeError(
            f"{path.name}:1: the file should be a mapping with a `services:` section, "
            f"found {shape_of(document)}"
        )
    services = document.get("services")
    if services is None:
        raise ComposeError(f"{path.name} has no `services:` section")
    if not isinstance(services, LineDict):
        raise ComposeError(
            f"{path.name}:{document.line_of('services')}: services should be a mapping of service names, "
            f"found {shape_of(services)}"
        )
    if SERVICE_NAME not in services:
        names = ", ".join(sorted(str(name) for name in services)) or "none"
        raise ComposeError(
            f"{path.name} has no `{SERVICE_NAME}` service (it has: {names}); "
            "build the project with REDIS_ENABLED=true, or pass --nself-compose render "
            "to check the service the settings describe"
        )
    service = services[SERVICE_NAME]
    service_line = services.line_of(SERVICE_NAME)
    if not isinstance(service, LineDict):
        raise ComposeError(
            f"{path.name}:{service_line}: the redis service should be a mapping, found {shape_of(service)}"
        )
    return service, service_line


def load_compose_service(path: Path, variables: Mapping[str, str]) -> RedisService:
    service, service_line = _redis_service(load_yaml_with_lines(path), path)

    def where(key: str) -> tuple[int, str]:
        line = service.line_of(key)
        return line, f"{path.name}:{line}"

    _image_line, image_where = where("image")
    if service.get("image") is None:
        raise ComposeError(f"{path.name}:{service_line}: the redis service names no image")
    image = interpolate(_as_text(service["image"], image_where, "image"), variables, image_where)

    command_line, _ = where("command")
    has_command = service.get("command") is not None  # null is compose's "the image's default"
    if has_command:
        command, raw_command = _command(service["command"], command_line, path, variables)
    else:
        command, raw_command = ("redis-server",), "redis-server"

    user = None
    if service.get("user") is not None:
        _, user_where = where("user")
        user = interpolate(_as_text(service["user"], user_where, "user"), variables, user_where)

    ports_line, _ = where("ports")
    health_line, _ = where("healthcheck")
    healthcheck, raw_healthcheck, health_source = _healthcheck(
        service.get("healthcheck"), health_line, path, variables
    )
    return RedisService(
        origin="compose",
        image=image,
        command=command,
        raw_command=raw_command,
        command_source=Source(path, command_line if has_command else service_line),
        source=Source(path, service_line),
        user=user,
        volumes=_volumes(service.get("volumes"), service.line_of("volumes"), path, variables),
        ports=_ports(service.get("ports"), ports_line, path, variables),
        healthcheck=healthcheck,
        raw_healthcheck=raw_healthcheck,
        healthcheck_source=health_source,
        environment=_environment(service.get("environment"), service.line_of("environment"), path, variables),
        compose_file=path,
    )
