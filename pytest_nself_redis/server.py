"""Small readings of a live server, shared by suites, reports and doctor."""

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


def info(client: redis.Redis, section: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = client.info(section) if section else client.info()
    return result


def version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def info_summary(client: redis.Redis) -> str:
    """One line per key field, for failure reports; never raises."""
    try:
        data = client.info("everything")
    except redis_errors.RedisError as error:
        return f"(INFO unavailable: {error})"
    lines = [f"{name}: {data[name]}" for name in INFO_SUMMARY_FIELDS if name in data]
    for key, value in data.items():
        if key.startswith("db") and isinstance(value, dict):
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


def server_version(client: redis.Redis) -> str:
    try:
        return str(client.info("server").get("redis_version", "unknown"))
    except redis_errors.RedisError:
        return "unknown"
