"""Which engine answers: Redis or Valkey, and its own version.

Valkey answers INFO with ``redis_version:7.2.4`` (for clients that test it) plus
``server_name:valkey`` and ``valkey_version``; a check that judges a version (known flaws,
features) must read the engine's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_nself_redis.live.reads import version_tuple


@dataclass(frozen=True)
class Engine:
    name: str  # "Redis" or "Valkey"
    version: str  # the engine's own version
    redis_version: str  # what INFO's redis_version says (Valkey's compatibility value)

    @property
    def parsed(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    def describe(self) -> str:
        if self.version == self.redis_version:
            return f"{self.name} {self.version}"
        return f"{self.name} {self.version} (redis_version {self.redis_version}, for compatibility)"


def engine_of(server: dict[str, Any]) -> Engine | None:
    """The engine of an INFO server section; None when it names no version at all."""
    redis_version = str(server.get("redis_version", ""))
    valkey_version = str(server.get("valkey_version", ""))
    if str(server.get("server_name", "")).lower() == "valkey" or valkey_version:
        version = valkey_version or redis_version
        return Engine("Valkey", version, redis_version or version) if version else None
    return Engine("Redis", redis_version, redis_version) if redis_version else None
