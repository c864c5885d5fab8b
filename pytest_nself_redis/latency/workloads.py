"""The commands the latency suite times, pre-encoded, with the keys they own.

Every key lives under the caller's prefix and is deleted afterwards, so sampling a
production server (``nself-redis doctor``) leaves nothing behind; every key carries a
TTL from the moment it exists (the timed SET sets one; the keys INCR, HSET and the
script touch are created with one beforehand), so a run killed mid-sample leaves
nothing that lasts. The EVALSHA script stays in the script cache (it is not a key;
SCRIPT FLUSH would drop the application's scripts too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from pytest_nself_redis.latency.budgets import COMMANDS
from pytest_nself_redis.live.expiring import SCRATCH_TTL_SECONDS
from pytest_nself_redis.live.resp import Arg, encode, encode_many

VALUE = b"v" * 64
PIPELINE_DEPTH = 16
# One key touched per call; INCR so the reply is never cached by anything in between.
SCRIPT = "return redis.call('INCR', KEYS[1])"


@dataclass(frozen=True)
class Workload:
    """One timed unit: ``payload`` is sent, ``replies`` replies end the round trip."""

    command: str
    description: str
    payload: bytes
    replies: int
    keys: tuple[str, ...]
    prepare: Callable[[redis.Redis], None] = field(default=lambda client: None)

    def cleanup(self, client: redis.Redis) -> None:
        if self.keys:
            client.delete(*self.keys)


def _counter(key: str) -> Callable[[redis.Redis], None]:
    """Create the counter (INCR's, the script's) with a TTL; INCR keeps it."""
    return lambda client: client.set(key, 0, ex=SCRATCH_TTL_SECONDS)


def _hash(key: str) -> Callable[[redis.Redis], None]:
    """Create the hash with a TTL in one transaction; HSET of an existing hash keeps it."""

    def prepare(client: redis.Redis) -> None:
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(key, "field", VALUE)
            pipe.expire(key, SCRATCH_TTL_SECONDS)
            pipe.execute()

    return prepare


def _pipeline_commands(prefix: str) -> list[tuple[Arg, ...]]:
    string_key, counter_key, hash_key = f"{prefix}pipe:s", f"{prefix}pipe:n", f"{prefix}pipe:h"
    cycle: list[tuple[Arg, ...]] = [
        ("SET", string_key, VALUE, "EX", SCRATCH_TTL_SECONDS),
        ("GET", string_key),
        ("INCR", counter_key),
        ("HSET", hash_key, "field", VALUE),
    ]
    return [cycle[index % len(cycle)] for index in range(PIPELINE_DEPTH)]


def workload(command: str, prefix: str, script_sha: str | None = None) -> Workload:
    """The workload timed for ``command`` (one of ``COMMANDS``), its keys under ``prefix``."""
    if command == "PING":
        return Workload(command, "no key", encode("PING"), 1, ())
    if command == "GET":
        key = f"{prefix}get"
        return Workload(
            command,
            "GET of a 64-byte string",
            encode("GET", key),
            1,
            (key,),
            lambda client: client.set(key, VALUE, ex=SCRATCH_TTL_SECONDS),
        )
    if command == "SET":
        key = f"{prefix}set"
        return Workload(
            command,
            "SET of a 64-byte string with a TTL",
            encode("SET", key, VALUE, "EX", SCRATCH_TTL_SECONDS),
            1,
            (key,),
        )
    if command == "INCR":
        key = f"{prefix}incr"
        return Workload(command, "INCR of a counter", encode("INCR", key), 1, (key,), _counter(key))
    if command == "HSET":
        key = f"{prefix}hash"
        return Workload(
            command, "HSET of one 64-byte field", encode("HSET", key, "field", VALUE), 1, (key,), _hash(key)
        )
    if command == "EVALSHA":
        key = f"{prefix}script"
        if script_sha is None:
            raise ValueError("EVALSHA needs the script loaded first (SCRIPT LOAD)")
        return Workload(
            command,
            "EVALSHA of a one-line Lua script (INCR of one key)",
            encode("EVALSHA", script_sha, 1, key),
            1,
            (key,),
            _counter(key),
        )
    if command == "PIPELINE":
        return _pipeline(prefix)
    raise ValueError(f"unknown latency command {command!r}; choose one of {', '.join(COMMANDS)}")


def _pipeline(prefix: str) -> Workload:
    """``PIPELINE_DEPTH`` commands (SET, GET, INCR, HSET) sent in one write."""
    commands = _pipeline_commands(prefix)
    keys = tuple(sorted({str(args[1]) for args in commands}))
    counter, hash_ = _counter(f"{prefix}pipe:n"), _hash(f"{prefix}pipe:h")

    def prepare(client: redis.Redis) -> None:
        counter(client)
        hash_(client)

    return Workload(
        "PIPELINE",
        f"{PIPELINE_DEPTH} commands (SET, GET, INCR, HSET) in one write",
        encode_many(commands),
        PIPELINE_DEPTH,
        keys,
        prepare,
    )
