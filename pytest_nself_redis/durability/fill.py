"""Filling a server up to its memory limit, the way Redis's own maxmemory tests do.

Redis's tests (tests/unit/maxmemory.tcl) set ``maxmemory`` to ``used_memory + 100 KiB``,
write keys until ``used_memory + 4096 > limit``, write as many keys again and then
require ``used_memory < limit + 4096``. The 4096 bytes are the slack Redis allows: it
evicts *before* running each command until it is back under the limit, so the last
command may add its own key (a few dozen bytes for the tests' one-byte values; a
little over 1 KiB for the values used when filling a configured server) on top.
``DEBUG POPULATE`` is off by default in Redis 7, so the fill is pipelined writes,
each pipeline ending with ``INFO memory`` so that one round trip both writes and
measures. Pipelines are kept small (``PIPELINE_BYTES``) because a client's query
buffer counts as used memory: a 50 KB burst grows it, and Redis then evicts keys to
make room for the buffer itself, which is not what the test is about.

Memory is compared as Redis's eviction code sees it: ``used_memory`` minus
``mem_not_counted_for_evict`` (the AOF and replica buffers, which Redis deliberately
leaves out of the eviction decision). On a server without AOF and replicas the two
are equal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis import exceptions as redis_errors
from redis.client import Pipeline

SLACK = 4096
HEADROOM = 100 * 1024
OOM_PROMISE = "OOM command not allowed when used memory > 'maxmemory'"
MAX_BATCH = 512
# Bytes of commands per pipeline near the limit: well inside the 16 KiB a client's query
# buffer already holds, so the buffer does not grow. Far from the limit a pipeline may
# carry up to 1/64 of the room left. It also fits in one of the pieces redis-py writes a
# pipeline in (about 6000 bytes): a pipeline written in two pieces can be read by the server
# between them, a command cut in half stays in the query buffer and the buffer grows by
# several KiB past the limit; a busy client (another thread holding the GIL) makes that
# likely.
PIPELINE_BYTES = 4 * 1024
COMMAND_OVERHEAD = 32  # RESP framing and the command name, per write
REDIS_MIN_KEYS = 10  # Redis's test asserts the fill took more than 10 keys
FILL_TIMEOUT_S = 60.0

# Queues one write of ``key`` (the ``index``-th key of a fill) on a pipeline.
Write = Callable[[Pipeline, str, int], None]
KeyName = Callable[[int], str]


class FillError(RuntimeError):
    """The fill could not bring the server to its limit (no limit, or it took too long)."""


@dataclass(frozen=True)
class Memory:
    used: int
    not_counted: int
    maxmemory: int
    policy: str

    @property
    def counted(self) -> int:
        """What Redis compares with maxmemory when deciding to evict."""
        return self.used - self.not_counted

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> Memory:
        return cls(
            used=int(info["used_memory"]),
            not_counted=int(info.get("mem_not_counted_for_evict", 0)),
            maxmemory=int(info.get("maxmemory", 0)),
            policy=str(info.get("maxmemory_policy", "?")),
        )


def warm_up(client: redis.Redis, key: str) -> None:
    """Run each command the fill and its checks use once before the limit is set.

    Redis 7 allocates a latency histogram (about 24 KiB, ``latency-tracking yes``) for a
    command the first time it runs; the first GET after the fill would otherwise cost a
    quarter of the 100 KiB headroom and evict keys no policy chose.
    """
    maxmemory = client.config_get("maxmemory")["maxmemory"]
    client.config_set("maxmemory", maxmemory)
    pipe = client.pipeline(transaction=False)
    pipe.set(key, "x")
    pipe.setex(key, 10, "x")
    pipe.get(key)
    pipe.exists(key)
    pipe.info("memory")
    pipe.unlink(key)
    pipe.execute()


def read_memory(client: redis.Redis) -> Memory:
    return Memory.from_info(client.info("memory"))


def evicted_keys(client: redis.Redis) -> int:
    return int(client.info("stats")["evicted_keys"])


def plain(value: str = "x") -> Write:
    """``SET key value``: a key without a TTL (never volatile)."""

    def write(pipe: Pipeline, key: str, index: int) -> None:
        pipe.set(key, value)

    return write


def volatile(ttl: int | Callable[[int], int] = 10000, value: str = "x") -> Write:
    """``SETEX key ttl value``: a volatile key (``ttl`` may depend on the key's index)."""

    def write(pipe: Pipeline, key: str, index: int) -> None:
        pipe.setex(key, ttl(index) if callable(ttl) else ttl, value)

    return write


def alternating(even: Write, odd: Write) -> Write:
    """Even-numbered keys one way, odd-numbered the other (Redis's mixed-key test)."""

    def write(pipe: Pipeline, key: str, index: int) -> None:
        (odd if index % 2 else even)(pipe, key, index)

    return write


@dataclass
class WriteTally:
    """What happened to a run of writes: acknowledged keys, OOM refusals, other errors."""

    acknowledged: list[str] = field(default_factory=list)
    refused: int = 0
    first_refusal: str | None = None
    other_errors: list[str] = field(default_factory=list)

    def take(self, key: str, reply: Any) -> None:
        if isinstance(reply, redis_errors.OutOfMemoryError):
            self.refused += 1
            if self.first_refusal is None:
                self.first_refusal = f"OOM {reply}"
        elif isinstance(reply, Exception):
            if len(self.other_errors) < 5:
                self.other_errors.append(f"{type(reply).__name__}: {reply}")
        else:
            self.acknowledged.append(key)


@dataclass
class Fill:
    """A fill up to ``limit``: the keys written and the memory seen when it stopped."""

    limit: int
    keys: list[str]
    tally: WriteTally
    memory: Memory
    seconds: float
    next_index: int  # the first index no write of this fill used


def fill_to_limit(
    client: redis.Redis,
    limit: int,
    key_name: KeyName,
    write: Write,
    *,
    first_index: int = 0,
    value_bytes: int = 1,
    gap: int = SLACK,
    timeout: float = FILL_TIMEOUT_S,
) -> Fill:
    """Write keys until ``used + gap > limit`` (Redis's stop rule with gap = 4096), in
    pipelines sized to the room left so the last ones land just short of the limit.
    An OOM refusal ends the fill early (it is recorded in the tally)."""
    started = time.monotonic()
    memory = read_memory(client)
    request_bytes = len(key_name(first_index)) + value_bytes + COMMAND_OVERHEAD
    per_key = 4 * request_bytes  # a first guess; corrected from what each batch really adds
    index = first_index
    keys: list[str] = []
    tally = WriteTally()
    while memory.counted + gap <= limit:
        if time.monotonic() - started > timeout:
            raise FillError(
                f"after {time.monotonic() - started:.1f} s and {len(keys)} keys memory is "
                f"{memory.counted} bytes, still short of limit {limit} - {gap}"
            )
        room = limit - gap - memory.counted
        pipeline_bytes = max(PIPELINE_BYTES, room // 64)
        batch = max(1, min(MAX_BATCH, room // per_key // 2, pipeline_bytes // request_bytes))
        acknowledged = len(tally.acknowledged)
        names = [key_name(index + offset) for offset in range(batch)]
        info = _write_batch(client, names, write, index, tally, section="memory")
        keys.extend(tally.acknowledged[acknowledged:])
        if tally.other_errors:
            raise FillError(f"the server answered writes with an error: {tally.other_errors[0]}")
        if tally.refused:
            # The server says it is at its limit (noeviction, or nothing volatile to evict):
            # that is where the fill ends; the checks judge whether refusing was right.
            memory = Memory.from_info(info)
            break
        grown = Memory.from_info(info)
        if grown.counted > memory.counted:
            per_key = max(16, (grown.counted - memory.counted) // batch)
        memory = grown
        index += batch
    return Fill(limit, keys, tally, memory, time.monotonic() - started, index)


def _write_batch(
    client: redis.Redis,
    names: Sequence[str],
    write: Write,
    first_index: int,
    tally: WriteTally,
    *,
    section: str | None = None,
) -> Any:
    """Write ``names`` (key indexes from ``first_index``) in one pipeline and tally each reply;
    with ``section``, that INFO section as it stands right after the writes (same pipeline)."""
    pipe = client.pipeline(transaction=False)
    for offset, name in enumerate(names):
        write(pipe, name, first_index + offset)
    if section is not None:
        pipe.info(section)
    replies = pipe.execute(raise_on_error=False)
    for name, reply in zip(names, replies[: len(names)], strict=True):
        tally.take(name, reply)
    return replies[-1] if section is not None else None


def write_keys(
    client: redis.Redis,
    keys: Sequence[str],
    write: Write,
    *,
    first_index: int = 0,
    value_bytes: int = 1,
    pipeline_bytes: int = PIPELINE_BYTES,
) -> WriteTally:
    """Write ``keys`` in pipelines of about ``pipeline_bytes``; OOM refusals are counted,
    not raised."""
    tally = WriteTally()
    if not keys:
        return tally
    batch = max(1, min(MAX_BATCH, pipeline_bytes // (len(keys[0]) + value_bytes + COMMAND_OVERHEAD)))
    for start in range(0, len(keys), batch):
        _write_batch(client, keys[start : start + batch], write, first_index + start, tally)
    return tally


def write_until_evicted(
    client: redis.Redis,
    key_name: KeyName,
    write: Write,
    *,
    first_index: int,
    evictions: int,
    max_keys: int,
    batch: int = 32,
) -> tuple[WriteTally, int]:
    """Write new keys in small pipelines until ``evicted_keys`` has grown by ``evictions``
    (or ``max_keys`` were written); returns the tally and how many keys were written."""
    tally = WriteTally()
    start = evicted_keys(client)
    index = first_index
    while index - first_index < max_keys:
        names = [key_name(index + offset) for offset in range(batch)]
        stats = _write_batch(client, names, write, index, tally, section="stats")
        index += batch
        if int(stats["evicted_keys"]) - start >= evictions or tally.refused:
            break
    return tally, index - first_index


def read_keys(client: redis.Redis, keys: Sequence[str], times: int = 1) -> None:
    """GET each key ``times`` times (touching it for LRU and LFU), in small pipelines."""
    batch = max(1, PIPELINE_BYTES // (len(keys[0]) + COMMAND_OVERHEAD)) if keys else 1
    commands = [name for _ in range(times) for name in keys]
    for start in range(0, len(commands), batch):
        pipe = client.pipeline(transaction=False)
        for name in commands[start : start + batch]:
            pipe.get(name)
        pipe.execute()


def existing(client: redis.Redis, keys: Iterable[str]) -> set[str]:
    """The subset of ``keys`` that exists (pipelined ``EXISTS``, one per key, in pipelines
    small enough not to grow the query buffer and so not to evict anything themselves)."""
    found: set[str] = set()
    pending = list(keys)
    if not pending:
        return found
    batch = max(1, min(MAX_BATCH, PIPELINE_BYTES // (len(pending[0]) + COMMAND_OVERHEAD)))
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        pipe = client.pipeline(transaction=False)
        for name in chunk:
            pipe.exists(name)
        found.update(name for name, there in zip(chunk, pipe.execute(), strict=True) if there)
    return found


def measure_write_rate(
    client: redis.Redis, key_name: KeyName, write: Write, count: int, value_bytes: int
) -> tuple[list[str], float]:
    """Write ``count`` keys and return them with the bytes per second achieved."""
    keys = [key_name(index) for index in range(count)]
    started = time.monotonic()
    tally = write_keys(client, keys, write, value_bytes=value_bytes, pipeline_bytes=256 * 1024)
    seconds = max(time.monotonic() - started, 1e-6)
    if tally.refused or tally.other_errors:
        raise FillError(f"calibration writes were refused: {tally.first_refusal or tally.other_errors[0]}")
    return keys, count * value_bytes / seconds
