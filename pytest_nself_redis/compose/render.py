"""The compose service the settings promise, for projects without a compose file.

Every REDIS_* key is honoured here, which is what nself's documentation says the
generator does (docs/nself.md: it does not). The password stays a
``${REDIS_PASSWORD}`` reference in the raw command, as a compose file should have it.
REDIS_MEMORY and REDIS_CPU become the container's limits as nself writes them
(``deploy.resources.limits``): always for nself 1.x, which writes its defaults (512M,
0.5) too; for 0.9.x only when the env files set them.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import TypeVar

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.ports import PortBinding
from pytest_nself_redis.compose.runtime import (
    ComposeValue,
    Healthcheck,
    RuntimeLimits,
    parse_cpus,
    parse_limit_size,
)
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import RedisSettings, Setting
from pytest_nself_redis.project.sizes import format_size

T = TypeVar("T")

CONTAINER_PORT = 6379
TLS_DIR = "/tls"
RENDERED = Source.default("rendered from the settings")
USER = "999:999"  # what nself's generator writes


def promised_flags(settings: RedisSettings, maxmemory: int | None = None) -> list[str]:
    """The redis-server flags every setting promises (no program, no password, no TLS);
    ``maxmemory`` (bytes) replaces REDIS_MAXMEMORY's value when given."""
    memory = settings.maxmemory.value if maxmemory is None else maxmemory
    words = ["--appendonly", "yes" if settings.aof_on else "no"]
    if settings.aof_on:
        words += ["--appendfsync", settings.aof_fsync.value]
    words += ["--save", f"{settings.rdb_frequency.value} 1" if settings.rdb_on else ""]
    words += ["--maxmemory", size_word(memory)]
    words += ["--maxmemory-policy", settings.maxmemory_policy.value]
    words += ["--maxclients", str(settings.max_clients.value)]
    words += ["--timeout", str(settings.timeout.value)]
    words += ["--tcp-keepalive", str(settings.tcp_keepalive.value)]
    words += ["--loglevel", settings.log_level.value]
    words += ["--protected-mode", "yes"]
    return words


def tls_flags() -> list[str]:
    """TLS only, on the container port, with the certificates mounted at ``TLS_DIR``."""
    return [
        "--port",
        "0",
        "--tls-port",
        str(CONTAINER_PORT),
        "--tls-cert-file",
        f"{TLS_DIR}/redis.crt",
        "--tls-key-file",
        f"{TLS_DIR}/redis.key",
        "--tls-ca-cert-file",
        f"{TLS_DIR}/ca.crt",
        "--tls-auth-clients",
        "no",
    ]


def size_word(value: int) -> str:
    """A maxmemory value as a person writes it (``512mb``), in bytes when no unit divides it."""
    shown = format_size(value)
    return shown if shown.endswith(("gb", "mb", "kb")) else str(value)


def healthcheck_shell(settings: RedisSettings, with_password: bool = True) -> str:
    """A ``CMD-SHELL`` healthcheck as written in a compose file: the password reaches redis-cli
    through REDISCLI_AUTH (``$$`` is compose's escape of the shell's ``$``), never its argv."""
    tls = f" --tls --cacert {TLS_DIR}/ca.crt" if settings.tls_enabled.value else ""
    auth = 'REDISCLI_AUTH="$$REDIS_PASSWORD" ' if with_password else ""
    return f"{auth}redis-cli{tls} ping | grep -q PONG"


def render_command(settings: RedisSettings) -> list[str]:
    """The redis-server command line as words, with the password as a reference."""
    words = ["redis-server", *promised_flags(settings, settings.maxmemory.value)]
    words[words.index("--maxmemory") + 1] = str(settings.maxmemory.value)
    if settings.password.value:
        words += ["--requirepass", "${REDIS_PASSWORD}"]
    if settings.tls_enabled.value:
        words += tls_flags()
    return words


def _limit(setting: Setting[str], parse: Callable[[str], T], is_1x: bool) -> ComposeValue[T] | None:
    """The container limit a setting becomes: cited where it is set, or as nself 1.x's default."""
    if not (is_1x or setting.is_set):
        return None
    try:
        value = parse(setting.text)
    except ValueError as problem:
        raise ProjectError(f"{setting.cite()}: {problem} (nself makes it a container limit)") from None
    source = setting.source if setting.is_set else Source.default(f"the nself 1.x default of {setting.key}")
    return ComposeValue(value, setting.text, source)


def render_service(
    settings: RedisSettings, variables: Mapping[str, str], is_1x: bool = False
) -> RedisService:
    """The service nself would generate from ``settings``; ``is_1x``: as nself 1.x does."""
    words = render_command(settings)
    raw_command = shlex.join(words)
    command = tuple(interpolate(word, variables, "rendered command") for word in words)
    ports: tuple[PortBinding, ...] = ()
    if settings.port.value:
        text = f"127.0.0.1:{settings.port.value}:{CONTAINER_PORT}"
        ports = (PortBinding("127.0.0.1", settings.port.value, CONTAINER_PORT, text, settings.port.source),)
    health = healthcheck_shell(settings)
    test = ("CMD-SHELL", health.replace("$$", "$"))
    volumes = ["redis_data:/data"]
    if settings.tls_enabled.value:
        volumes.append(f"./tls:{TLS_DIR}:ro")
    return RedisService(
        origin="rendered",
        image=f"redis:{settings.version.value}",
        command=command,
        raw_command=raw_command,
        command_source=RENDERED,
        source=RENDERED,
        user=USER,
        volumes=tuple(volumes),
        ports=ports,
        healthcheck=test,
        raw_healthcheck=health,
        healthcheck_source=RENDERED,
        environment={"REDIS_PASSWORD": variables.get("REDIS_PASSWORD", "")},
        compose_file=None,
        runtime=RuntimeLimits(
            user=ComposeValue(USER, USER, RENDERED),
            deploy_memory=_limit(settings.memory, parse_limit_size, is_1x),
            deploy_cpus=_limit(settings.cpu, parse_cpus, is_1x),
            healthcheck=Healthcheck(RENDERED, test, RENDERED),
        ),
    )
