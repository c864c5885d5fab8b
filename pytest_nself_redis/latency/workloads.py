"""The commands the latency suite times, pre-encoded, with the keys they own.

Every key lives under the caller's prefix and is deleted afterwards, so sampling a
production server (``nself-redis doctor``) leaves nothing behind. The EVALSHA
script stays in the script cache (it is not a key; SCRIPT FLUSH would drop the
application's scripts too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from pytest_nself_redis.latency.budgets import COMMANDS
from pytest_nself_redis.latency.resp import Arg, encode, encode_many

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


def _pipeline_commands(prefix: str) -> list[tuple[Arg, ...]]:
    string_key, counter_key, hash_key = f"{prefix}pipe:s", f"{prefix}pipe:n", f"{prefix}pipe:h"
    cycle: list[tuple[Arg, ...]] = [
        ("SET", string_key, VALUE),
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
            lambda client: client.set(key, VALUE),
        )
    if command == "SET":
        key = f"{prefix}set"
        return Workload(command, "SET of a 64-byte string", encode("SET", key, VALUE), 1, (key,))
    if command == "INCR":
        key = f"{prefix}incr"
        return Workload(command, "INCR of a counter", encode("INCR", key), 1, (key,))
    if command == "HSET":
        key = f"{prefix}hash"
        return Workload(command, "HSET of one 64-byte field", encode("HSET", key, "field", VALUE), 1, (key,))
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
        )
    if command == "PIPELINE":
        commands = _pipeline_commands(prefix)
        keys = tuple(sorted({str(args[1]) for args in commands}))
        return Workload(
            command,
            f"{PIPELINE_DEPTH} commands (SET, GET, INCR, HSET) in one write",
            encode_many(commands),
            PIPELINE_DEPTH,
            keys,
        )
    raise ValueError(f"unknown latency command {command!r}; choose one of {', '.join(COMMANDS)}")
