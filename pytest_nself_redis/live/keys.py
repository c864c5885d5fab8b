"""Finding and deleting the keys under a prefix, without ever touching a key outside it.

A SCAN pattern is a glob: a prefix holding ``*``, ``?``, ``[`` or ``\\`` would match other
keys, so every prefix is escaped before it becomes a pattern. Deletion is UNLINK (freed in
the background, and allowed even at maxmemory under noeviction) in batches, and can be
bounded in time, so a cleanup on a large production keyspace ends (what is left behind
carries a TTL and expires on its own).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any, TypedDict, Unpack

import redis
from redis import exceptions as redis_errors

SCAN_COUNT = 1000
UNLINK_BATCH = 500
_GLOB = re.compile(r"([\\*?\[\]])")


class Bounds(TypedDict, total=False):
    """How far a walk under a prefix may go (``iter_prefix``'s bounds, passed on as they are):
    keys asked per SCAN call, seconds, SCAN calls."""

    count: int
    max_seconds: float | None
    max_calls: int | None


def glob_escape(text: str) -> str:
    """``text`` as a glob that matches only itself."""
    return _GLOB.sub(r"\\\1", text)


def iter_prefix(
    client: redis.Redis,
    prefix: str,
    *,
    count: int = SCAN_COUNT,
    max_seconds: float | None = None,
    max_calls: int | None = None,
) -> Iterator[list[Any]]:
    """The keys under ``prefix`` as the client returns them (str or bytes), one SCAN reply at a
    time, until the cursor is back at 0 or a bound (seconds, SCAN calls) is reached."""
    ends = None if max_seconds is None else time.monotonic() + max_seconds
    pattern = f"{glob_escape(prefix)}*"
    cursor, calls = 0, 0
    while True:
        cursor, found = client.scan(cursor, match=pattern, count=count)
        calls += 1
        yield list(found)
        if not int(cursor):
            return
        if (ends is not None and time.monotonic() > ends) or (max_calls is not None and calls >= max_calls):
            return


def scan_prefix(client: redis.Redis, prefix: str, **bounds: Unpack[Bounds]) -> list[str]:
    """Every key under ``prefix`` (within the bounds, when given), as text."""
    batches = iter_prefix(client, prefix, **bounds)
    return [
        key if isinstance(key, str) else key.decode("utf-8", "replace") for batch in batches for key in batch
    ]


def delete_prefix(client: redis.Redis, prefix: str, **bounds: Unpack[Bounds]) -> int:
    """UNLINK every key under ``prefix``; how many were deleted."""
    deleted = 0
    doomed: list[Any] = []
    for batch in iter_prefix(client, prefix, **bounds):
        doomed.extend(batch)
        while len(doomed) >= UNLINK_BATCH:
            deleted += int(client.unlink(*doomed[:UNLINK_BATCH]))
            del doomed[:UNLINK_BATCH]
    if doomed:
        deleted += int(client.unlink(*doomed))
    return deleted


@contextlib.contextmanager
def scratch(client: redis.Redis, prefix: str, *, max_calls: int | None = None) -> Iterator[str]:
    """``prefix`` for the keys of one piece of work; every key under it is deleted afterwards
    (a failing cleanup does not hide the work's own outcome: the keys expire anyway)."""
    try:
        yield prefix
    finally:
        with contextlib.suppress(redis_errors.RedisError):
            delete_prefix(client, prefix, max_calls=max_calls)
