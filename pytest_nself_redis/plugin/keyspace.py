"""Keys a test may create on any server, and the promise to delete exactly those."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import redis

from pytest_nself_redis.live.expiring import HARNESS_PREFIX
from pytest_nself_redis.live.keys import delete_prefix, scan_prefix

_counter = itertools.count(1)


class Keyspace:
    """A unique prefix; ``cleanup`` deletes every key under it and nothing else (the prefix is
    escaped before it becomes a SCAN pattern, so it can never match more)."""

    def __init__(self, client: redis.Redis, run_id: str, label: str = "t") -> None:
        self.client = client
        self.prefix = f"{HARNESS_PREFIX}{run_id}:{label}{next(_counter)}:"

    def key(self, name: str = "") -> str:
        return f"{self.prefix}{name}"

    def __call__(self, name: str = "") -> str:
        return self.key(name)

    def existing(self) -> Iterator[str]:
        yield from scan_prefix(self.client, self.prefix)

    def cleanup(self) -> int:
        """Delete every key under the prefix (every key ``key`` named starts with it)."""
        return delete_prefix(self.client, self.prefix)
