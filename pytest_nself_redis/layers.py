"""Contract, deployment, live: which layer broke a promise.

The contract is what the settings promise; the deployment is what the compose
service would run; the live layer is what the running server reports
(``CONFIG GET``). A broken promise is reported at the first layer that departs
from the contract, with all three values in the message.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from typing import Any

from pytest_nself_redis import remedy
from pytest_nself_redis.compose.override import HEADROOM_PERCENT, MemoryFit
from pytest_nself_redis.compose.redis_args import REDIS_DEFAULTS, normalise
from pytest_nself_redis.compose.render import size_word
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.project.settings import RedisSettings, Setting
from pytest_nself_redis.project.sizes import format_size
from pytest_nself_redis.remedy import Consequence, Remedy

CONTRACT, DEPLOYMENT, LIVE = "contract", "deployment", "live"
# What breaking each promise costs: the reports fix data loss and security first.
CONSEQUENCES = {
    "maxmemory": Consequence.AVAILABILITY,
    "maxmemory-policy": Consequence.DATA_LOSS,
    "appendonly": Consequence.DATA_LOSS,
    "appendfsync": Consequence.DATA_LOSS,
    "save": Consequence.DATA_LOSS,
    "requirepass": Consequence.SECURITY,
    "maxclients": Consequence.AVAILABILITY,
    "timeout": Consequence.TUNING,
    "tcp-keepalive": Consequence.TUNING,
    "loglevel": Consequence.TUNING,
}
# redis-server lowers maxclients to what the open-file limit allows, keeping this many for itself.
_RESERVED_FDS = 32


@dataclass(frozen=True)
class Promise:
    """One thing the settings promise about one redis.conf directive."""

    id: str
    statement: str
    settings: tuple[Setting[Any], ...]
    directive: str
    expected: str
    secret: bool = False
    consequence: Consequence = Consequence.TUNING
    # The flag's value as the command should write it (``512mb``, ``'900 1'``).
    flag_value: str = ""
    env: str = ""
    # The setting behind the container limit the promise must fit in (REDIS_MEMORY for maxmemory).
    limit_setting: Setting[Any] | None = None

    def cite(self) -> str:
        return ", ".join(setting.cite() for setting in self.settings)

    @property
    def flag(self) -> tuple[str, str]:
        """The command words that keep it (a password as the reference, never the value)."""
        return (f"--{self.directive}", "${REDIS_PASSWORD}" if self.secret else self.flag_value)


@dataclass(frozen=True)
class LayerVerdict:
    promise: Promise
    deployment: str | None
    live: str | None
    broken_layer: str | None
    message: str
    remedy: Remedy | None = None

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
    return {promise.id: _completed(promise, settings) for promise in promises}


def _completed(promise: Promise, settings: RedisSettings) -> Promise:
    """The promise with what its remedy needs: its consequence, flag value and env."""
    memory = promise.id == "maxmemory"
    return replace(
        promise,
        consequence=CONSEQUENCES[promise.id],
        flag_value=size_word(settings.maxmemory.value) if memory else promise.expected,
        env=settings.env,
        limit_setting=settings.memory if memory else None,
    )


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
            deployment_remedy(promise, service, deployed),
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
            live_remedy(promise, live_value),
        )
    return LayerVerdict(promise, deployed, live_value, None, f"{head} Kept: {deployment_text}; {live_text}.")


def deployment_remedy(promise: Promise, service: RedisService, deployed: str | None) -> Remedy:
    """What closes a deployment gap: the flag the command must carry (``nself-redis fix``
    writes it), or, when the deployment cannot keep the promise (a maxmemory that leaves no
    headroom below the container's memory limit), the env-file edit."""
    if promise.id == "maxmemory":
        fit = MemoryFit(int(promise.expected), service.runtime.memory)
        if not fit.fits:
            return memory_remedy(promise, fit)
    replacing = None
    if deployed is not None and promise.secret:
        replacing = "the password it sets"
    elif deployed is not None:
        shown = size_word(int(deployed)) if promise.id == "maxmemory" and deployed.isdigit() else deployed
        replacing = shlex.join([f"--{promise.directive}", shown])
    return remedy.add_flags(service, promise.flag, promise.consequence, promise.env, replacing)


def memory_remedy(promise: Promise, fit: MemoryFit) -> Remedy:
    """A maxmemory that does not fit the container: lower it, or raise the limit."""
    assert fit.ceiling is not None
    assert fit.limit is not None
    lower = remedy.set_setting(promise.settings[0], size_word(fit.ceiling), promise.consequence, promise.env)
    limit = promise.limit_setting
    why = (
        f" (at most {HEADROOM_PERCENT} % of the container's memory limit {fit.limit.cite()}, "
        "the rest for forks, client buffers and fragmentation)"
    )
    if limit is None:
        return replace(lower, edit=lower.edit + why)
    raise_limit = remedy.set_setting(limit, fit.needed_limit(), promise.consequence, promise.env)
    both = remedy.either(lower, raise_limit)
    return replace(both, edit=both.edit + why)


def live_remedy(promise: Promise, live: str) -> Remedy:
    """The running server departs from its deployment: restart it from the deployment (or set
    the value live); a maxclients the server lowered needs a higher open-file limit."""
    if promise.id == "maxclients" and live.isdigit() and int(live) < int(promise.expected):
        files = int(promise.expected) + _RESERVED_FDS
        return remedy.host(
            f"raise the open-file limit of the Redis process to at least {files} (redis-server "
            f"lowers maxclients to fit it): `ulimit -n {files}`, or `ulimits: nofile: {files}` in "
            "the compose service",
            promise.consequence,
        )
    value = "REDIS_PASSWORD's value" if promise.secret else repr(promise.expected)
    return remedy.server(
        f"restart Redis from its deployment, or CONFIG SET {promise.directive} {value} and CONFIG "
        "REWRITE (something changed it after the start: CONFIG SET, a config file)",
        promise.consequence,
    )
