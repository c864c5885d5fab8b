"""Contract, deployment, live: which layer broke a promise.

The contract is what the settings promise; the deployment is what the compose
service would run; the live layer is what the running server reports
(``CONFIG GET``). A broken promise is reported at the first layer that departs
from the contract, with all three values in the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_nself_redis.compose.redis_args import REDIS_DEFAULTS, normalise
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.project.settings import RedisSettings, Setting
from pytest_nself_redis.project.sizes import format_size

CONTRACT, DEPLOYMENT, LIVE = "contract", "deployment", "live"


@dataclass(frozen=True)
class Promise:
    """One thing the settings promise about one redis.conf directive."""

    id: str
    statement: str
    settings: tuple[Setting[Any], ...]
    directive: str
    expected: str
    secret: bool = False

    def cite(self) -> str:
        return ", ".join(setting.cite() for setting in self.settings)


@dataclass(frozen=True)
class LayerVerdict:
    promise: Promise
    deployment: str | None
    live: str | None
    broken_layer: str | None
    message: str

    @property
    def ok(self) -> bool:
        return self.broken_layer is None


def _show(promise: Promise, value: str) -> str:
    if promise.secret:
        return "(empty)" if value == "" else "(a password)"
    if promise.directive == "maxmemory" and value.isdigit():
        return f"{value} ({format_size(int(value))})" if value != "0" else "0 (no limit)"
    return repr(value) if value == "" or " " in value else value


def config_promises(settings: RedisSettings) -> dict[str, Promise]:
    """The promises the config suite checks, by id; an id absent here does not apply.

    Long because it is one table, a promise per directive, read best whole."""
    persistence = (settings.persistence,)
    promises = [
        Promise(
            "maxmemory",
            f"Redis caps its memory at {settings.describe_maxmemory()}",
            (settings.maxmemory,),
            "maxmemory",
            str(settings.maxmemory.value),
        ),
        Promise(
            "maxmemory-policy",
            f"at the memory cap Redis applies {settings.maxmemory_policy.value}",
            (settings.maxmemory_policy,),
            "maxmemory-policy",
            settings.maxmemory_policy.value,
        ),
        Promise(
            "appendonly",
            "writes go to the append-only file" if settings.aof_on else "no append-only file is written",
            (*persistence, settings.aof_enabled),
            "appendonly",
            "yes" if settings.aof_on else "no",
        ),
        Promise(
            "save",
            f"an RDB snapshot is taken every {settings.rdb_frequency.value} s after a change"
            if settings.rdb_on
            else "no RDB snapshots are scheduled",
            (*persistence, settings.rdb_enabled, settings.rdb_frequency),
            "save",
            f"{settings.rdb_frequency.value} 1" if settings.rdb_on else "",
        ),
        Promise(
            "maxclients",
            f"Redis accepts up to {settings.max_clients.value} clients",
            (settings.max_clients,),
            "maxclients",
            str(settings.max_clients.value),
        ),
        Promise(
            "timeout",
            f"idle clients are closed after {settings.timeout.value} s",
            (settings.timeout,),
            "timeout",
            str(settings.timeout.value),
        ),
        Promise(
            "tcp-keepalive",
            f"TCP keepalive probes every {settings.tcp_keepalive.value} s",
            (settings.tcp_keepalive,),
            "tcp-keepalive",
            str(settings.tcp_keepalive.value),
        ),
        Promise(
            "loglevel",
            f"Redis logs at level {settings.log_level.value}",
            (settings.log_level,),
            "loglevel",
            settings.log_level.value,
        ),
        Promise(
            "requirepass",
            "clients must authenticate with REDIS_PASSWORD"
            if settings.password.value
            else "no password is required",
            (settings.password,),
            "requirepass",
            settings.password.value.reveal(),
            secret=True,
        ),
    ]
    if settings.aof_on:
        promises.append(
            Promise(
                "appendfsync",
                f"the append-only file is fsynced {settings.aof_fsync.value}",
                (settings.aof_fsync,),
                "appendfsync",
                settings.aof_fsync.value,
            )
        )
    return {promise.id: promise for promise in promises}


def compare_layers(promise: Promise, service: RedisService, live: str | None) -> LayerVerdict:
    """Judge one promise; ``live`` is the directive's CONFIG GET value, None when it is unknown."""
    args = service.args
    deployed = args.value(promise.directive)
    effective = deployed if deployed is not None else REDIS_DEFAULTS.get(promise.directive, "")
    where = f"the compose command ({service.command_source})"
    if service.origin == "rendered":
        where = "the rendered command"
    if deployed is None:
        config_note = f" (config file {args.config_file} not read)" if args.config_file else ""
        deployment_text = (
            f"{where} sets no --{promise.directive}{config_note}, so Redis uses its default "
            f"{_show(promise, effective)}"
        )
    else:
        deployment_text = f"{where} sets --{promise.directive} {_show(promise, deployed)}"
    live_value = None if live is None else normalise(promise.directive, live)
    live_text = (
        f"live {promise.directive}={_show(promise, live_value)}"
        if live_value is not None
        else f"live {promise.directive} not readable"
    )
    head = f"Promise: {promise.statement} — {promise.cite()}."

    deployment_ok = effective == promise.expected
    if deployed is None and args.config_file and live_value is not None:
        deployment_ok = live_value == promise.expected  # only the server can tell us
    if not deployment_ok:
        return LayerVerdict(
            promise,
            deployed,
            live_value,
            DEPLOYMENT,
            f"{head} Broken at the deployment layer: {deployment_text}; {live_text}.",
        )
    if live_value is not None and live_value != promise.expected:
        return LayerVerdict(
            promise,
            deployed,
            live_value,
            LIVE,
            f"{head} Broken at the live layer: {deployment_text}, but the "
            f"running server reports {promise.directive}="
            f"{_show(promise, live_value)} (changed by CONFIG SET, a config "
            "file or a server limit).",
        )
    return LayerVerdict(promise, deployed, live_value, None, f"{head} Kept: {deployment_text}; {live_text}.")
