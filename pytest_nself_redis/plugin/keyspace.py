"""Keys a test may create on any server, and the promise to delete exactly those."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import redis

_counter = itertools.count(1)


class Keyspace:
    """A unique prefix; ``cleanup`` deletes every key under it and nothing else.

    The prefix holds only ``[a-z0-9:-]``, so it is safe as a SCAN pattern.
    """

    def __init__(self, client: redis.Redis, run_id: str, label: str = "t") -> None:
        self.client = client
        self.prefix = f"nself-harness:{run_id}:{label}{next(_counter)}:"
        self.created: set[str] = set()

    def key(self, name: str = "") -> str:
        key = f"{self.prefix}{name}"
        self.created.add(key)
        return key

    def __call__(self, name: str = "") -> str:
        return self.key(name)

    def existing(self) -> Iterator[str]:
        for key in self.client.scan_iter(match=f"{self.prefix}*", count=1000):
            yield key if isinstance(key, str) else key.decode()

    def cleanup(self) -> int:
        """Delete what this keyspace created (named or written under its prefix)."""
        doomed = set(self.existing()) | self.created
        deleted = 0
        batch: list[str] = []
        for key in doomed:
            batch.append(key)
            if len(batch) == 500:
                deleted += int(self.client.unlink(*batch))
                batch.clear()
        if batch:
            deleted += int(self.client.unlink(*batch))
        self.created.clear()
        return deleted
