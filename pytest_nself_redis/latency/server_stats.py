"""What the server itself says about slowness: SLOWLOG and INFO latencystats."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from pytest_nself_redis.latency.budgets import parse_percentile
from pytest_nself_redis.live.reads import info

SLOWLOG_ENTRIES = 128
_SHOWN_ARGS = 60


@dataclass(frozen=True)
class SlowEntry:
    id: int
    command: str  # upper-case name
    arguments: str  # shortened; Redis itself redacts AUTH and similar
    duration_ms: float
    age_seconds: float
    client: str

    def describe(self) -> str:
        return (
            f"#{self.id} {self.arguments} took {self.duration_ms:.2f} ms "
            f"({self.age_seconds:.0f} s ago, client {self.client or '?'})"
        )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list | tuple):
        return " ".join(_text(item) for item in value)
    return str(value)


def slowlog(client: redis.Redis, count: int = SLOWLOG_ENTRIES) -> list[SlowEntry]:
    now = time.time()
    entries = []
    for raw in client.slowlog_get(count):
        arguments = _text(raw.get("command", ""))
        if len(arguments) > _SHOWN_ARGS:
            arguments = arguments[: _SHOWN_ARGS - 1] + "…"
        entries.append(
            SlowEntry(
                id=int(raw.get("id", 0)),
                command=arguments.split(" ", 1)[0].upper(),
                arguments=arguments,
                duration_ms=int(raw.get("duration", 0)) / 1000,
                age_seconds=max(0.0, now - float(raw.get("start_time", now))),
                client=_text(raw.get("client_address", "")),
            )
        )
    return entries


def latencystats(client: redis.Redis) -> dict[str, dict[str, float]] | None:
    """Server-side percentiles in ms per command name (lower case), or None when the
    server does not track them (Redis < 7.0, or ``latency-tracking no``)."""
    try:
        fields = info(client, "latencystats")
    except redis.RedisError:
        return None
    if not fields:
        return None
    found: dict[str, dict[str, float]] = {}
    for key, value in fields.items():
        if not key.startswith("latency_percentiles_usec_"):
            continue
        command = key.removeprefix("latency_percentiles_usec_")
        pairs = (
            value.items()
            if isinstance(value, dict)
            else (item.split("=", 1) for item in str(value).split(",") if "=" in item)
        )
        percentiles: dict[str, float] = {}
        for name, number in pairs:
            percentile = parse_percentile(str(name))
            if percentile is not None:
                percentiles[percentile] = float(number) / 1000
        found[command] = percentiles
    return found
