"""A dataset of every common type, and what each key is (type, value digest, expiry), so a
restored copy can be compared key by key.

The digest is taken over a canonical form of the value (members sorted where Redis keeps no
order), not over ``DUMP``: a restored server may hold the same value in another encoding.
The expiry is the absolute time in ms (``PEXPIRETIME``, Redis 7), which a snapshot stores as
is, so a faithful restore shows no drift at all; servers without it give ``PTTL`` counted
from the moment of reading, and the comparison's tolerance absorbs that.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis import exceptions as redis_errors

TYPES = ("string", "hash", "list", "set", "zset", "stream")
# Long enough that no key expires between the snapshot and the comparison.
TTL_MS = 3_600_000
# How far a restored key's expiry may move: 0 with PEXPIRETIME; reading PTTL on two servers
# at two moments gives a few ms, far below this.
TTL_TOLERANCE_MS = 1000
VALUE_BYTES = 512
READ_BATCH = 200


@dataclass(frozen=True)
class KeyImage:
    """What one key is: its type, a digest of its value and its expiry (None: persistent)."""

    type: str
    digest: str
    expire_at_ms: int | None


def _value(index: int) -> str:
    text = f"value-{index}-"
    return (text * (VALUE_BYTES // len(text) + 1))[:VALUE_BYTES]


def _queue_write(pipe: Any, kind: str, key: str, index: int) -> None:
    if kind == "string":
        pipe.set(key, _value(index))
    elif kind == "hash":
        pipe.hset(key, mapping={f"field-{n}": _value(index + n) for n in range(4)})
    elif kind == "list":
        pipe.rpush(key, *(f"item-{index}-{n}" for n in range(8)))
    elif kind == "set":
        pipe.sadd(key, *(f"member-{index}-{n}" for n in range(8)))
    elif kind == "zset":
        pipe.zadd(key, {f"member-{index}-{n}": n * 1.5 + index for n in range(8)})
    else:
        for n in range(3):
            pipe.xadd(key, {"n": str(n), "payload": _value(index + n)[:64]})


def write_dataset(client: redis.Redis, prefix: str, per_type: int = 50) -> list[str]:
    """``per_type`` keys of each type under ``prefix``; every other key gets a TTL of an hour."""
    keys = []
    pipe = client.pipeline(transaction=False)
    for kind in TYPES:
        for index in range(per_type):
            key = f"{prefix}{kind}:{index}"
            _queue_write(pipe, kind, key, index)
            if index % 2:
                pipe.pexpire(key, TTL_MS + index)
            keys.append(key)
        pipe.execute()
    return keys


def _canonical(kind: str, value: Any) -> Any:
    if kind == "hash":
        return sorted(value.items())
    if kind == "set":
        return sorted(value)
    if kind == "stream":
        return [[entry_id, sorted(fields.items())] for entry_id, fields in value]
    return value


def digest(kind: str, value: Any) -> str:
    """sha256 of the value's canonical form (bytes shown as latin-1, so any value has one)."""
    text = json.dumps(
        [kind, _canonical(kind, value)], default=lambda item: item.decode("latin-1"), sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _queue_read(pipe: Any, kind: str, key: str) -> None:
    if kind == "string":
        pipe.get(key)
    elif kind == "hash":
        pipe.hgetall(key)
    elif kind == "list":
        pipe.lrange(key, 0, -1)
    elif kind == "set":
        pipe.smembers(key)
    elif kind == "zset":
        pipe.zrange(key, 0, -1, withscores=True)
    elif kind == "stream":
        pipe.xrange(key)
    else:
        pipe.dump(key)  # a type this module does not write: compare its serialized form


def _expiries(client: redis.Redis, keys: Sequence[str]) -> list[int | None]:
    """Absolute expiry per key in ms (None: no TTL or no key)."""
    pipe = client.pipeline(transaction=False)
    try:
        for key in keys:
            pipe.execute_command("PEXPIRETIME", key)
        replies = pipe.execute()
    except redis_errors.ResponseError:
        # Before Redis 7: PTTL, counted from now.
        now_ms = int(time.time() * 1000)
        for key in keys:
            pipe.pttl(key)
        replies = [now_ms + reply if reply >= 0 else reply for reply in pipe.execute()]
    return [int(reply) if int(reply) >= 0 else None for reply in replies]


def read_images(client: redis.Redis, keys: Sequence[str]) -> dict[str, KeyImage | None]:
    """Each key's image (None: the key does not exist)."""
    images: dict[str, KeyImage | None] = {}
    for start in range(0, len(keys), READ_BATCH):
        batch = list(keys[start : start + READ_BATCH])
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.type(key)
        kinds = [kind if isinstance(kind, str) else kind.decode() for kind in pipe.execute()]
        for key, kind in zip(batch, kinds, strict=True):
            _queue_read(pipe, kind, key)
        values = pipe.execute()
        expiries = _expiries(client, batch)
        for key, kind, value, expire_at in zip(batch, kinds, values, expiries, strict=True):
            images[key] = None if kind == "none" else KeyImage(kind, digest(kind, value), expire_at)
    return images


@dataclass
class Comparison:
    """Every key written before the snapshot against the restored server."""

    compared: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    ttl_drift_max_ms: int = 0
    ttl_broken: list[str] = field(default_factory=list)
    tolerance_ms: int = TTL_TOLERANCE_MS

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.ttl_broken)

    def describe(self) -> str:
        parts = [
            f"{self.compared} keys compared",
            f"{len(self.missing)} missing",
            f"{len(self.changed)} changed (type or value)",
            f"TTL drift max {self.ttl_drift_max_ms} ms (tolerance {self.tolerance_ms} ms)",
        ]
        if self.ttl_broken:
            parts.append(f"{len(self.ttl_broken)} with an expiry lost, gained or moved beyond the tolerance")
        for label, keys in (("missing", self.missing), ("changed", self.changed), ("TTL", self.ttl_broken)):
            if keys:
                parts.append(f"first {label}: {', '.join(keys[:3])}")
        return "; ".join(parts)


def compare(
    before: Mapping[str, KeyImage | None],
    after: Mapping[str, KeyImage | None],
    tolerance_ms: int = TTL_TOLERANCE_MS,
    keys: Iterable[str] | None = None,
) -> Comparison:
    """Type and digest must match exactly; an expiry must stay an expiry, within the tolerance."""
    result = Comparison(tolerance_ms=tolerance_ms)
    for key in keys if keys is not None else before:
        was = before.get(key)
        if was is None:
            continue
        result.compared += 1
        now = after.get(key)
        if now is None:
            result.missing.append(key)
            continue
        if (now.type, now.digest) != (was.type, was.digest):
            result.changed.append(key)
        if (was.expire_at_ms is None) != (now.expire_at_ms is None):
            result.ttl_broken.append(key)
        elif was.expire_at_ms is not None and now.expire_at_ms is not None:
            drift = abs(now.expire_at_ms - was.expire_at_ms)
            result.ttl_drift_max_ms = max(result.ttl_drift_max_ms, drift)
            if drift > tolerance_ms:
                result.ttl_broken.append(key)
    return result
