"""What a running server says about itself: INFO, CONFIG GET and its version.

INFO and CONFIG are read by checks, doctor, the latency suite and reports; a proxy, a fork
or a limited ACL user may refuse them or rewrite their fields, and every reader must say so
instead of crashing the report.
"""

from __future__ import annotations

from typing import Any

import redis
from redis import exceptions as redis_errors

INFO_SUMMARY_FIELDS = (
    "redis_version",
    "role",
    "uptime_in_seconds",
    "connected_clients",
    "maxclients",
    "used_memory_human",
    "maxmemory_human",
    "maxmemory_policy",
    "loading",
    "rdb_last_bgsave_status",
    "aof_enabled",
    "aof_last_write_status",
    "evicted_keys",
    "expired_keys",
    "keyspace_hits",
    "keyspace_misses",
)


class Unreadable(Exception):
    """INFO lacks a field a reader needs, or holds a value Redis never writes there; the
    message says which (a proxy or fork that rewrites INFO must not crash the report)."""


def info(client: redis.Redis, section: str | None = None) -> dict[str, Any]:
    """INFO (one section, or the default ones) as redis-py parses it."""
    result: dict[str, Any] = client.info(section) if section else client.info()
    return result


def info_field(fields: dict[str, Any], name: str) -> Any:
    if name not in fields:
        raise Unreadable(f"INFO has no {name}")
    return fields[name]


def info_number(fields: dict[str, Any], name: str) -> int:
    value = info_field(fields, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Unreadable(f"INFO {name}={value!r} is not a number")
    try:
        return int(value)
    except ValueError:
        raise Unreadable(f"INFO {name}={value!r} is not a number") from None


def config_get(client: redis.Redis, name: str, absent: str | None = None) -> str | None:
    """CONFIG GET of one directive; None means unknown (CONFIG refused by ACL, renamed or
    disabled), and the caller says so. ``absent`` is what a server that answers but lacks the
    directive means (tls-port on a build without TLS: "0"); None unless given."""
    try:
        values: dict[Any, Any] = client.config_get(name)
    except redis_errors.ResponseError:
        return None
    value = values.get(name, values.get(name.encode()))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return absent if value is None else str(value)


def version_tuple(text: str) -> tuple[int, ...]:
    """``7.2.4`` as (7, 2, 4); a piece without digits counts as 0."""
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def server_version(client: redis.Redis) -> str:
    """redis_version, or "unknown" where INFO is refused; never raises a Redis error."""
    try:
        return str(info(client, "server").get("redis_version", "unknown"))
    except redis_errors.RedisError:
        return "unknown"


def server_info(client: redis.Redis) -> dict[str, Any]:
    """INFO's default sections, or {} where INFO is refused; never raises a Redis error (a
    report that shows the server's numbers must not fail for lack of them)."""
    try:
        return info(client)
    except redis_errors.RedisError:
        return {}


def info_summary(client: redis.Redis) -> str:
    """One line per key field, for failure reports; never raises a Redis error."""
    try:
        data = info(client, "everything")
    except redis_errors.RedisError as error:
        return f"(INFO unavailable: {error})"
    lines = [f"{name}: {data[name]}" for name in INFO_SUMMARY_FIELDS if name in data]
    for key, value in data.items():
        if key.startswith("db") and isinstance(value, dict):
            lines.append(f"{key}: {value}")
    return "\n".join(lines)
