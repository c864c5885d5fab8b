"""A look at the application's keys that a production server does not feel: one bounded,
rate-limited SCAN of the client's database.

At most ``MAX_KEYS`` keys and ``MAX_SECONDS`` seconds, ``COUNT`` keys a call with a pause
between calls; per key one PTTL and, for a sample, one ``MEMORY USAGE`` (pipelined per batch).
None of these commands updates a key's LRU/LFU clock, and none writes; each PTTL counts as a
keyspace hit in INFO stats, as any read does. The harness's own keys are left out. Keys are
grouped by prefix (the text up to the first ``:``), which is how nself and BullMQ name theirs
(``session:``, ``cache:``, ``bull:``, ``ratelimit:``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.live.clients import clone
from pytest_nself_redis.live.expiring import HARNESS_PREFIX
from pytest_nself_redis.live.refusals import explain, is_refused

MAX_KEYS = 10_000
MAX_SECONDS = 2.0
COUNT = 100
PAUSE_SECONDS = 0.002
# MEMORY USAGE (its default SAMPLES 5 per collection) for at most this many keys of a prefix.
SAMPLED_PER_PREFIX = 100
NO_PREFIX = "(no prefix)"
EXAMPLES = 3
_OURS = HARNESS_PREFIX.encode()


def prefix_of(key: bytes) -> str:
    head, colon, _ = key.partition(b":")
    return (head + colon).decode("utf-8", "replace") if colon else NO_PREFIX


@dataclass
class PrefixStats:
    keys: int = 0
    without_ttl: int = 0
    examples_without_ttl: list[str] = field(default_factory=list)
    sampled: int = 0
    sampled_bytes: int = 0

    @property
    def estimated_bytes(self) -> int:
        """The sampled keys' mean MEMORY USAGE times the keys seen."""
        return round(self.sampled_bytes / self.sampled * self.keys) if self.sampled else 0


@dataclass
class Audit:
    prefixes: dict[str, PrefixStats]
    scanned: int
    dbsize: int
    seconds: float
    # What ended the scan: the whole keyspace, or a cap.
    ended_by: str
    # MEMORY USAGE refused (ACL, renamed): the reason, and no sizes.
    memory_refused: str | None = None

    @property
    def complete(self) -> bool:
        return self.ended_by == "the whole keyspace"

    def scope(self) -> str:
        """``scanned 120 of 120 keys (the whole keyspace) in 0.01 s``, for messages."""
        return (
            f"scanned {self.scanned} of {self.dbsize} keys ({self.ended_by}; caps {MAX_KEYS} keys, "
            f"{MAX_SECONDS:g} s, COUNT {COUNT})"
        )

    def of(self, prefix: str) -> PrefixStats:
        return self.prefixes.get(prefix, PrefixStats())

    def top(self, count: int = 5) -> list[tuple[str, PrefixStats]]:
        ranked = sorted(self.prefixes.items(), key=lambda item: (item[1].estimated_bytes, item[1].keys))
        return ranked[::-1][:count]


class AuditRefused(Exception):
    """SCAN or PTTL was refused to this user; the message says why."""


def _record(audit: Audit, keys: list[bytes], replies: list[Any], sampled: list[bool]) -> None:
    position = 0
    for key, with_memory in zip(keys, sampled, strict=True):
        stats = audit.prefixes.setdefault(prefix_of(key), PrefixStats())
        ttl = replies[position]
        position += 1
        if with_memory:
            usage = replies[position]
            position += 1
            if isinstance(usage, int):
                stats.sampled += 1
                stats.sampled_bytes += usage
            elif isinstance(usage, redis_errors.ResponseError) and audit.memory_refused is None:
                audit.memory_refused = explain(usage)
        if isinstance(ttl, redis_errors.ResponseError):
            raise AuditRefused(f"PTTL {explain(ttl)}")
        if ttl == -2:  # expired or deleted between SCAN and PTTL
            continue
        stats.keys += 1
        audit.scanned += 1
        if ttl == -1:
            stats.without_ttl += 1
            if len(stats.examples_without_ttl) < EXAMPLES:
                stats.examples_without_ttl.append(key.decode("utf-8", "replace"))


def _batch(client: redis.Redis, audit: Audit, keys: list[bytes]) -> None:
    """PTTL of every key and MEMORY USAGE of the sample, in one round trip."""
    pipe = client.pipeline(transaction=False)
    sampled = []
    planned: dict[str, int] = {}  # samples asked in this batch, by prefix
    for key in keys:
        pipe.pttl(key)
        prefix = prefix_of(key)
        wanted = (
            audit.memory_refused is None
            and audit.of(prefix).sampled + planned.get(prefix, 0) < SAMPLED_PER_PREFIX
        )
        sampled.append(wanted)
        if wanted:
            planned[prefix] = planned.get(prefix, 0) + 1
            pipe.execute_command("MEMORY USAGE", key)
    _record(audit, keys, pipe.execute(raise_on_error=False), sampled)


def audit_keyspace(
    client: redis.Redis, *, max_keys: int = MAX_KEYS, max_seconds: float = MAX_SECONDS
) -> Audit:
    """Scan the client's database within the caps (raises AuditRefused when SCAN or PTTL is refused)."""
    started = time.monotonic()
    reader = clone(client, decode_responses=False, max_connections=1)
    try:
        try:
            audit = Audit({}, 0, int(reader.dbsize()), 0.0, "the whole keyspace")
            cursor = 0
            while True:
                cursor, found = reader.scan(cursor, count=COUNT)
                keys = [key for key in found if not key.startswith(_OURS)][: max_keys - audit.scanned]
                if keys:
                    _batch(reader, audit, keys)
                if not int(cursor):
                    break
                if audit.scanned >= max_keys:
                    audit.ended_by = f"stopped at the {max_keys}-key cap"
                    break
                if time.monotonic() - started >= max_seconds:
                    audit.ended_by = f"stopped at the {max_seconds:g} s cap"
                    break
                time.sleep(PAUSE_SECONDS)
        except redis_errors.RedisError as problem:
            if is_refused(problem):
                raise AuditRefused(explain(problem)) from None
            raise
    finally:
        reader.connection_pool.disconnect()
    audit.seconds = round(time.monotonic() - started, 3)
    return audit
