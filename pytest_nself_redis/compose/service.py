"""The Redis service a project deploys: read from its compose files or rendered.

The deployment layer of every check. The ``redis`` service of every compose file the
project uses is merged as Compose merges them (``merge``), then values are
interpolated the way compose does at ``up`` time; the raw (uninterpolated) text is kept
too, because some promises are about the files themselves (the password must not be
written in them). Every value cites the file and line that set it.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.merge import merge_services
from pytest_nself_redis.compose.names import SERVICE_NAME
from pytest_nself_redis.compose.ports import PortBinding, as_text, parse_port
from pytest_nself_redis.compose.redis_args import RedisArgs, parse_redis_args
from pytest_nself_redis.compose.runtime import RuntimeLimits, read_runtime
from pytest_nself_redis.compose.shell import unwrap_shell
from pytest_nself_redis.compose.yaml_lines import LineDict, LineList, shape_of
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.secrets import Secret, is_secret_name

# Options whose next word is a password: redis-server's and redis-cli's.
_SERVER_PASSWORD_FLAGS = ("--requirepass", "--masterauth")
_CLI_PASSWORD_FLAGS = ("-a", "--pass")
LITERAL, LITERAL_FALLBACK = "a literal value", "a literal fallback (${VAR:-value})"
_REFERENCE = re.compile(r"\$+\{?[A-Za-z_]")
# ${VAR:-fallback} / ${VAR-fallback}: a reference that still writes a password into the file.
_FALLBACK = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-[^}]+\}")


@dataclass(frozen=True)
class LiteralPassword:
    """A password the compose files write out instead of referencing ``${VAR}``: anyone who
    can read the file, ``docker inspect`` the container or list its processes can read it.
    ``value`` is what the container gets (for a fallback: the variable's value when set)."""

    where: str  # "the command's --requirepass", "the healthcheck's -a", "environment REDIS_PASSWORD"
    source: Source
    value: Secret
    kind: str = LITERAL  # or LITERAL_FALLBACK

    def describe(self) -> str:
        """``the healthcheck's -a is a literal value (docker-compose.yml:21)``."""
        return f"{self.where} is {self.kind} ({self.source})"


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
    # The first file that defines the service (its base); every file read is in compose_files.
    compose_file: Path | None = None
    compose_files: tuple[Path, ...] = ()
    # Where each file that defines the service starts it, in merge order.
    sources: tuple[Source, ...] = ()
    runtime: RuntimeLimits = field(default_factory=RuntimeLimits)
    literal_passwords: tuple[LiteralPassword, ...] = ()

    @property
    def server_command(self) -> tuple[str, ...]:
        """The command redis-server runs with: ``command``, or what its one-line shell wrapper
        (``sh -c 'exec redis-server ... "$REDIS_PASSWORD"'``) runs, filled in from the service's
        environment (see ``shell``)."""
        return unwrap_shell(self.command, self.environment) or self.command

    @property
    def args(self) -> RedisArgs:
        return parse_redis_args(self.server_command)

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
        found += [after for flag, after in itertools.pairwise(words) if flag in _CLI_PASSWORD_FLAGS]
        found += [literal.value.reveal() for literal in self.literal_passwords]
        return found

    def describe(self) -> str:
        if self.origin == "compose" and self.compose_file is not None:
            merged = f", merged with {', '.join(map(str, self.sources[1:]))}" if len(self.sources) > 1 else ""
            return f"service `redis` of {self.source}{merged}"
        return "service rendered from the settings"


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _command(value: Any, source: Source, variables: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    where = str(source)
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            item_where = str(value.source_at(index)) if isinstance(value, LineList) else where
            items.append(interpolate(as_text(item, item_where, "command item"), variables, item_where))
        return tuple(items), " ".join(as_text(item, where, "command") for item in value)
    if not isinstance(value, str):
        # Compose itself takes a string or a list of strings; a number is no program.
        raise ComposeError(f"{where}: command should be a string or a list, found {shape_of(value)}")
    text = interpolate(value, variables, where)
    try:
        return tuple(shlex.split(text)), value
    except ValueError as error:
        raise ComposeError(f"{where}: command cannot be split into words ({error})") from None


def _items(value: Any, source: Source, what: str) -> list[tuple[Any, Source]]:
    """The items of a list-valued key with each item's source; None is no items."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ComposeError(f"{source}: {what} should be a list, found {shape_of(value)}")
    return [
        (item, value.source_at(index) if isinstance(value, LineList) else source)
        for index, item in enumerate(value)
    ]


def _ports(value: Any, source: Source, variables: Mapping[str, str]) -> tuple[PortBinding, ...]:
    return tuple(parse_port(item, where, variables) for item, where in _items(value, source, "ports"))


def _volumes(value: Any, source: Source, variables: Mapping[str, str]) -> tuple[str, ...]:
    volumes = []
    for item, item_source in _items(value, source, "volumes"):
        where = str(item_source)
        if isinstance(item, str):
            volumes.append(interpolate(item, variables, where))
        elif isinstance(item, dict):
            origin = interpolate(as_text(item.get("source", ""), where, "volume source"), variables, where)
            target = interpolate(as_text(item.get("target", ""), where, "volume target"), variables, where)
            volumes.append(f"{origin}:{target}")
        else:
            raise ComposeError(f"{where}: a volume should be a string or a mapping, found {shape_of(item)}")
    return tuple(volumes)


def _environment(value: Any, variables: Mapping[str, str]) -> dict[str, str]:
    """The merged ``environment`` (always a mapping after the merge), interpolated."""
    environment: dict[str, str] = {}
    if not isinstance(value, LineDict):
        return environment
    for key, item in value.items():
        where = str(value.source_of(key))
        text = "" if item is None else as_text(item, where, f"environment {key}")
        environment[str(key)] = interpolate(text, variables, where)
    return environment


def literal_kind(raw: str) -> str | None:
    """How a password value is written out: None for a pure reference (``${REDIS_PASSWORD}``,
    ``$REDIS_PASSWORD``, ``$$REDIS_PASSWORD`` for the shell) or an empty value."""
    if not raw:
        return None
    if not _REFERENCE.search(raw):
        return LITERAL
    if _FALLBACK.search(raw):
        return LITERAL_FALLBACK
    return None


def _literal_passwords(service: LineDict, variables: Mapping[str, str]) -> tuple[LiteralPassword, ...]:
    """Where the files write a password itself (or as a ``${VAR:-value}`` fallback): after a
    password option of redis-server or redis-cli, or as ``NAME=value`` of a secret, in the
    command or the healthcheck; as a secret's environment value."""
    found: list[LiteralPassword] = []

    def add(where: str, raw: str, source: Source) -> None:
        kind = literal_kind(raw)
        if kind is not None:
            value = interpolate(raw, variables, str(source))
            found.append(LiteralPassword(where, source, Secret(value), kind))

    def scan(words: list[tuple[str, Source]], what: str) -> None:
        for (word, source), (after, after_source) in itertools.pairwise([*words, ("", Source.default())]):
            name, assigned, value = word.partition("=")
            if word.lower() in _SERVER_PASSWORD_FLAGS + _CLI_PASSWORD_FLAGS:
                add(f"the {what}'s {word.lower()}", after, after_source)
            elif assigned and (is_secret_name(name) or name == "REDISCLI_AUTH"):
                add(f"the {what}'s {name}=", value, source)

    def words_of(value: Any, source: Source) -> list[tuple[str, Source]]:
        if isinstance(value, str):
            return [(word, source) for word in _words(value)]
        if isinstance(value, list):
            located = []
            for index, item in enumerate(value):
                item_source = value.source_at(index) if isinstance(value, LineList) else source
                if isinstance(item, (str, int, float)):
                    located += [(word, item_source) for word in _words(str(item))]
            return located
        return []

    if service.get("command") is not None:
        scan(words_of(service["command"], service.source_of("command")), "command")
    health = service.get("healthcheck")
    if isinstance(health, LineDict) and health.get("test") is not None:
        scan(words_of(health["test"], health.source_of("test")), "healthcheck")
    environment = service.get("environment")
    if isinstance(environment, LineDict):
        for key, raw in environment.items():
            if (is_secret_name(str(key)) or key == "REDISCLI_AUTH") and isinstance(raw, str):
                add(f"environment {key}", raw, environment.source_of(key))
    return tuple(found)


def _redis_service(document: Any, name: str, alone: bool) -> LineDict | str:
    """The ``services.redis`` mapping of one file; when it has none, what it has instead (or,
    for the only file read, the error saying so). A shape no compose file can have is an
    error either way."""
    if document is None:
        document = LineDict()  # an empty file: as one without the section
    if not isinstance(document, LineDict):
        raise ComposeError(
            f"{name}:1: the file should be a mapping with a `services:` section, found {shape_of(document)}"
        )
    services = document.get("services")
    if services is None:
        if alone:
            raise ComposeError(f"{name} has no `services:` section")
        return "no services"
    if not isinstance(services, LineDict):
        raise ComposeError(
            f"{name}:{document.line_of('services')}: services should be a mapping of service names, "
            f"found {shape_of(services)}"
        )
    if SERVICE_NAME not in services:
        names = ", ".join(sorted(str(service) for service in services)) or "none"
        if alone:
            raise ComposeError(
                f"{name} has no `{SERVICE_NAME}` service (it has: {names}); "
                "build the project with REDIS_ENABLED=true, or pass --nself-compose render "
                "to check the service the settings describe"
            )
        return names
    service = services[SERVICE_NAME]
    if not isinstance(service, LineDict):
        raise ComposeError(
            f"{name}:{services.line_of(SERVICE_NAME)}: the redis service should be a mapping, "
            f"found {shape_of(service)}"
        )
    return service


def load_compose_service(
    paths: Path | Sequence[Path],
    variables: Mapping[str, str],
    names: Sequence[str] | None = None,
) -> RedisService:
    """The ``redis`` service of ``paths`` (merged first to last); ``names`` spell the files
    in messages (default: their bare names)."""
    # Imported here: PyYAML's import is paid only when a compose file is read.
    from pytest_nself_redis.compose.yaml_reader import load_yaml_with_lines

    files = [paths] if isinstance(paths, Path) else list(paths)
    shown = list(names) if names is not None else [path.name for path in files]
    services: list[LineDict] = []
    others: list[str] = []
    for path, name in zip(files, shown, strict=True):
        found = _redis_service(load_yaml_with_lines(path, name), name, alone=len(files) == 1)
        if isinstance(found, LineDict):
            services.append(found)
        else:
            others.append(f"{name}: {found}")
    if not services:
        raise ComposeError(
            f"none of {', '.join(shown)} has a `{SERVICE_NAME}` service ({'; '.join(others)}); "
            "build the project with REDIS_ENABLED=true, or pass --nself-compose render "
            "to check the service the settings describe"
        )
    return _service(merge_services(services, variables), services, files, variables)


def _service(
    service: LineDict, parts: list[LineDict], files: list[Path], variables: Mapping[str, str]
) -> RedisService:
    """The RedisService of the merged ``service``; ``parts`` are each file's own."""
    start = service.own_source()
    if service.get("image") is None:
        raise ComposeError(f"{start}: the redis service names no image")
    image_source = service.source_of("image")
    image = interpolate(as_text(service["image"], str(image_source), "image"), variables, str(image_source))

    has_command = service.get("command") is not None  # null is compose's "the image's default"
    if has_command:
        command, raw_command = _command(service["command"], service.source_of("command"), variables)
    else:
        command, raw_command = ("redis-server",), "redis-server"

    runtime = read_runtime(service, variables)
    health = runtime.healthcheck
    raw_healthcheck = None
    if health is not None and health.test is not None:
        test = service["healthcheck"]["test"]
        where = str(health.test_source)
        if isinstance(test, list):
            raw_healthcheck = " ".join(as_text(item, where, "healthcheck test item") for item in test)
        else:
            raw_healthcheck = str(test)
    return RedisService(
        origin="compose",
        image=image,
        command=command,
        raw_command=raw_command,
        command_source=service.source_of("command") if has_command else start,
        source=start,
        user=runtime.user.value if runtime.user else None,
        volumes=_volumes(service.get("volumes"), service.source_of("volumes"), variables),
        ports=_ports(service.get("ports"), service.source_of("ports"), variables),
        healthcheck=health.test if health else None,
        raw_healthcheck=raw_healthcheck,
        healthcheck_source=health.test_source if health else None,
        environment=_environment(service.get("environment"), variables),
        compose_file=parts[0].file.path if parts[0].file else files[0],
        compose_files=tuple(files),
        sources=tuple(part.own_source() for part in parts),
        runtime=runtime,
        literal_passwords=_literal_passwords(service, variables),
    )
