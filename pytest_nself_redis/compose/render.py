"""The compose service the settings promise, for projects without a compose file.

Every REDIS_* key is honoured here, which is what nself's documentation says the
generator does (docs/nself.md: it does not). The password stays a
``${REDIS_PASSWORD}`` reference in the raw command, as a compose file should have it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.ports import PortBinding
from pytest_nself_redis.compose.runtime import ComposeValue, Healthcheck, RuntimeLimits
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import RedisSettings

CONTAINER_PORT = 6379
TLS_DIR = "/tls"
RENDERED = Source.default("rendered from the settings")
USER = "999:999"  # what nself's generator writes


def render_command(settings: RedisSettings) -> list[str]:
    """The redis-server command line as words, with the password as a reference."""
    words = ["redis-server"]
    words += ["--appendonly", "yes" if settings.aof_on else "no"]
    if settings.aof_on:
        words += ["--appendfsync", settings.aof_fsync.value]
    words += ["--save", f"{settings.rdb_frequency.value} 1" if settings.rdb_on else ""]
    words += ["--maxmemory", str(settings.maxmemory.value)]
    words += ["--maxmemory-policy", settings.maxmemory_policy.value]
    words += ["--maxclients", str(settings.max_clients.value)]
    words += ["--timeout", str(settings.timeout.value)]
    words += ["--tcp-keepalive", str(settings.tcp_keepalive.value)]
    words += ["--loglevel", settings.log_level.value]
    if settings.password.value:
        words += ["--protected-mode", "yes", "--requirepass", "${REDIS_PASSWORD}"]
    else:
        words += ["--protected-mode", "yes"]
    if settings.tls_enabled.value:
        words += [
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
    return words


def render_service(settings: RedisSettings, variables: Mapping[str, str]) -> RedisService:
    words = render_command(settings)
    raw_command = shlex.join(words)
    command = tuple(interpolate(word, variables, "rendered command") for word in words)
    ports: tuple[PortBinding, ...] = ()
    if settings.port.value:
        text = f"127.0.0.1:{settings.port.value}:{CONTAINER_PORT}"
        ports = (PortBinding("127.0.0.1", settings.port.value, CONTAINER_PORT, text, settings.port.source),)
    tls = f" --tls --cacert {TLS_DIR}/ca.crt" if settings.tls_enabled.value else ""
    health = f'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli{tls} ping | grep -q PONG'
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
            healthcheck=Healthcheck(RENDERED, test, RENDERED),
        ),
    )
