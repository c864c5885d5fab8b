"""The REDIS_* and AUTH_RATE_LIMIT_* settings of one env, typed, validated, with provenance.

Defaults are nself's documented defaults (services/REDIS.md of the nself wiki).
A value that does not parse is a usage error naming the key, where the value came
from and what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.envfile import EnvEntry
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.sizes import SIZE_FORMS, TOO_LARGE, format_size, parse_redis_size
from pytest_nself_redis.secrets import MASK, Secret, is_secret_name

T = TypeVar("T")

EVICTION_POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)
LOG_LEVELS = ("debug", "verbose", "notice", "warning")
FSYNC_POLICIES = ("always", "everysec", "no")
RATE_LIMIT_STORES = ("redis", "memory")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
# A Sentinel master name as the harness writes it into sentinel.conf and SENTINEL commands.
_MASTER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting's value, the text it was parsed from and where that text came from."""

    key: str
    value: T
    text: str
    source: Source

    @property
    def is_set(self) -> bool:
        return not self.source.is_default

    @property
    def shown(self) -> str:
        """The text as it may be printed (secrets masked)."""
        if is_secret_name(self.key):
            return MASK if self.text else "(empty)"
        return self.text

    def cite(self) -> str:
        """``KEY=value (file:line)``, the form every message uses."""
        return f"{self.key}={self.shown} ({self.source})"

    def __repr__(self) -> str:
        return f"Setting({self.cite()})"


def parse_flag(text: str, *, empty: bool | None = None) -> bool:
    """A yes/no word (true/false, yes/no, 1/0, on/off, any case), as env files and compose files
    write it; an empty text is ``empty`` where the format gives it a meaning, else refused."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    if not lowered and empty is not None:
        return empty
    raise ValueError("expected true or false (also yes/no, 1/0, on/off)")


def _bool(text: str) -> bool:
    """An env file's flag: an empty value is off."""
    return parse_flag(text, empty=False)


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text.strip()):
            raise ValueError(f"expected a whole number >= {minimum}")
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise ValueError(f"expected a whole number >= {minimum}{upper}")
        return value

    return parse


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        lowered = text.strip().lower()
        if lowered not in choices:
            raise ValueError(f"valid choices: {', '.join(choices)}")
        return lowered

    return parse


def _size(text: str) -> int:
    try:
        return parse_redis_size(text.strip())
    except ValueError as error:
        raise ValueError(TOO_LARGE if TOO_LARGE in str(error) else f"expected {SIZE_FORMS}") from None


def _image_tag(text: str) -> str:
    if not _IMAGE_TAG.match(text):
        raise ValueError("expected an image tag such as 7-alpine or 7.2")
    return text


def _master_name(text: str) -> str:
    if not _MASTER_NAME.match(text):
        raise ValueError("expected a name of 1 to 64 letters, digits, '.', '_' or '-' (e.g. mymaster)")
    return text


def _text(text: str) -> str:
    return text


def _secret(text: str) -> Secret:
    return Secret(text)


@dataclass(frozen=True)
class _Spec:
    attribute: str
    key: str
    default: str
    parse: Callable[[str], Any]
    meaning: str
    # A key nself does not have: the harness's own, so its default is the harness's too.
    harness_owned: bool = False


_SPECS: tuple[_Spec, ...] = (
    _Spec("enabled", "REDIS_ENABLED", "false", _bool, "Redis service on or off"),
    _Spec("version", "REDIS_VERSION", "7-alpine", _image_tag, "tag of the redis image"),
    _Spec("port", "REDIS_PORT", "6379", _int_at_least(0, 65535), "host port; 0 = none"),
    _Spec("password", "REDIS_PASSWORD", "", _secret, "requirepass"),
    _Spec("maxmemory", "REDIS_MAXMEMORY", "256mb", _size, "maxmemory"),
    _Spec(
        "maxmemory_policy",
        "REDIS_MAXMEMORY_POLICY",
        "allkeys-lru",
        _choice(EVICTION_POLICIES),
        "maxmemory-policy",
    ),
    _Spec("persistence", "REDIS_PERSISTENCE", "true", _bool, "any persistence at all"),
    _Spec("aof_enabled", "REDIS_AOF_ENABLED", "true", _bool, "appendonly"),
    # Not an nself key: lets a project state the fsync promise it relies on.
    _Spec("aof_fsync", "REDIS_AOF_FSYNC", "everysec", _choice(FSYNC_POLICIES), "appendfsync", True),
    _Spec("rdb_enabled", "REDIS_RDB_ENABLED", "true", _bool, "RDB snapshots"),
    _Spec(
        "rdb_frequency",
        "REDIS_RDB_FREQUENCY",
        "900",
        _int_at_least(1),
        "seconds between snapshots (save <s> 1)",
    ),
    _Spec("max_clients", "REDIS_MAX_CLIENTS", "10000", _int_at_least(1), "maxclients"),
    _Spec("timeout", "REDIS_TIMEOUT", "300", _int_at_least(0), "idle client timeout (s)"),
    _Spec("tcp_keepalive", "REDIS_TCP_KEEPALIVE", "60", _int_at_least(0), "tcp-keepalive (s)"),
    _Spec("log_level", "REDIS_LOG_LEVEL", "notice", _choice(LOG_LEVELS), "loglevel"),
    _Spec("tls_enabled", "REDIS_TLS_ENABLED", "false", _bool, "TLS only"),
    _Spec("memory", "REDIS_MEMORY", "512M", _text, "container memory limit"),
    _Spec("cpu", "REDIS_CPU", "0.5", _text, "container CPU limit"),
    # Not an nself key: states that this env runs (BullMQ) queues, so queue readiness is a promise.
    _Spec("queues", "REDIS_QUEUES", "false", _bool, "this env runs BullMQ queues", True),
    # Not nself keys: Sentinel, which nself's documentation promises for production but no
    # nself version configures; these state the deployment the sentinel suite holds it to.
    _Spec(
        "sentinel_enabled",
        "REDIS_SENTINEL_ENABLED",
        "false",
        _bool,
        "Sentinel runs for this env",
        harness_owned=True,
    ),
    _Spec(
        "sentinel_master_name",
        "REDIS_SENTINEL_MASTER_NAME",
        "mymaster",
        _master_name,
        "the name Sentinel monitors the primary under",
        harness_owned=True,
    ),
    _Spec(
        "sentinel_quorum",
        "REDIS_SENTINEL_QUORUM",
        "2",
        _int_at_least(1),
        "sentinels that must agree the primary is down",
        harness_owned=True,
    ),
    _Spec(
        "sentinel_count",
        "REDIS_SENTINEL_COUNT",
        "3",
        _int_at_least(1, 9),
        "sentinels deployed",
        harness_owned=True,
    ),
    _Spec(
        "replicas", "REDIS_REPLICAS", "1", _int_at_least(0, 9), "replicas of the primary", harness_owned=True
    ),
    _Spec(
        "sentinel_down_after_ms",
        "REDIS_SENTINEL_DOWN_AFTER_MS",
        "5000",
        _int_at_least(100),
        "down-after-milliseconds: silence before a sentinel calls the primary down",
        harness_owned=True,
    ),
    _Spec(
        "sentinel_failover_budget_ms",
        "REDIS_SENTINEL_FAILOVER_BUDGET_MS",
        "15000",
        _int_at_least(100),
        "longest acceptable time from a primary's crash to a write accepted by the new one",
        harness_owned=True,
    ),
    _Spec("rate_limit_enabled", "AUTH_RATE_LIMIT_ENABLED", "true", _bool, "auth rate limiting"),
    _Spec("rate_limit_window", "AUTH_RATE_LIMIT_WINDOW", "60", _int_at_least(1), "rate-limit window (s)"),
    _Spec(
        "rate_limit_max_requests",
        "AUTH_RATE_LIMIT_MAX_REQUESTS",
        "100",
        _int_at_least(1),
        "requests allowed per window",
    ),
    _Spec(
        "rate_limit_store",
        "AUTH_RATE_LIMIT_STORE",
        "redis",
        _choice(RATE_LIMIT_STORES),
        "where limiter state lives",
    ),
)
SETTING_KEYS = tuple(spec.key for spec in _SPECS)
# The text each setting has when no env file sets it.
SETTING_DEFAULTS = {spec.key: spec.default for spec in _SPECS}


@dataclass(frozen=True)
class RedisSettings:
    """The contract: what the env files promise about Redis."""

    env: str
    enabled: Setting[bool]
    version: Setting[str]
    port: Setting[int]
    password: Setting[Secret]
    maxmemory: Setting[int]
    maxmemory_policy: Setting[str]
    persistence: Setting[bool]
    aof_enabled: Setting[bool]
    aof_fsync: Setting[str]
    rdb_enabled: Setting[bool]
    rdb_frequency: Setting[int]
    max_clients: Setting[int]
    timeout: Setting[int]
    tcp_keepalive: Setting[int]
    log_level: Setting[str]
    tls_enabled: Setting[bool]
    memory: Setting[str]
    cpu: Setting[str]
    queues: Setting[bool]
    sentinel_enabled: Setting[bool]
    sentinel_master_name: Setting[str]
    sentinel_quorum: Setting[int]
    sentinel_count: Setting[int]
    replicas: Setting[int]
    sentinel_down_after_ms: Setting[int]
    sentinel_failover_budget_ms: Setting[int]
    rate_limit_enabled: Setting[bool]
    rate_limit_window: Setting[int]
    rate_limit_max_requests: Setting[int]
    rate_limit_store: Setting[str]

    @property
    def aof_on(self) -> bool:
        return self.persistence.value and self.aof_enabled.value

    @property
    def rdb_on(self) -> bool:
        return self.persistence.value and self.rdb_enabled.value

    def __iter__(self) -> Iterator[Setting[Any]]:
        for spec in _SPECS:
            yield getattr(self, spec.attribute)

    def by_key(self, key: str) -> Setting[Any]:
        for spec in _SPECS:
            if spec.key == key:
                setting: Setting[Any] = getattr(self, spec.attribute)
                return setting
        raise KeyError(key)

    def describe_maxmemory(self) -> str:
        return format_size(self.maxmemory.value) if self.maxmemory.value else "0 (no limit)"


def _parse_one(spec: _Spec, entry: EnvEntry | None) -> Setting[Any]:
    text = entry.value if entry is not None else spec.default
    default = "harness default" if spec.harness_owned else "documented default"
    source = entry.source if entry is not None else Source.default(default)
    value = spec.parse(text)
    return Setting(spec.key, value, text, source)


def settings_from_env(
    env: str,
    values: Mapping[str, EnvEntry],
    overrides: Mapping[str, str] | None = None,
) -> RedisSettings:
    """Build the settings of one env; ``overrides`` (for variant targets) win over files."""
    problems: list[str] = []
    parsed: dict[str, Setting[Any]] = {}
    override_source = Source.default("variant override")
    for spec in _SPECS:
        entry = values.get(spec.key)
        if overrides and spec.key in overrides:
            entry = EnvEntry(spec.key, overrides[spec.key], override_source)
        try:
            parsed[spec.attribute] = _parse_one(spec, entry)
        except ValueError as error:
            raw = entry.value if entry is not None else spec.default
            shown = MASK if is_secret_name(spec.key) else (raw if raw.isprintable() else repr(raw))
            where = entry.source if entry is not None else "default"
            problems.append(f"{spec.key}={shown} ({where}): {error}")
    if overrides:
        unknown = sorted(set(overrides) - set(SETTING_KEYS))
        problems.extend(f"{key}: not a setting this harness knows" for key in unknown)
    if problems:
        raise ProjectError(f"invalid settings for env {env}:\n  " + "\n  ".join(problems))
    return RedisSettings(env=env, **parsed)
