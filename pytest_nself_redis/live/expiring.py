"""Keys the harness writes on a server it did not launch carry a TTL from the moment they exist.

A run on someone's server (attach, doctor) can die between writing a scratch key and
deleting it: SIGKILL, a lost connection, a deadline. ``ExpiringRedis`` sends every command
that may create a key under the harness's prefix in one MULTI with ``PEXPIRE key ttl NX``,
so no such key is ever without a TTL, and a TTL the command set itself is kept (NX).
Pipelines do the same (and become transactions when they create keys; a command a WATCHing
pipeline runs at once is sent as it is). Keys outside the prefix are the application's:
never touched. Blocking commands are never wrapped (a MULTI
would stop them blocking); none of them creates a key the harness writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.client import Pipeline

from pytest_nself_redis.live.prefix import HARNESS_PREFIX, SCRATCH_TTL_SECONDS

# The prefix and TTL are defined in ``prefix`` (light, for raw-socket callers) and offered here
# too, beside the client that applies them.
__all__ = [
    "HARNESS_PREFIX",
    "SCRATCH_TTL_SECONDS",
    "ExpiringPipeline",
    "ExpiringRedis",
    "created_keys",
    "expiring",
    "without_ttls",
]

_TTL_MS = SCRATCH_TTL_SECONDS * 1000

# Commands that may create the key at this argument position (args[0] is the command).
# fmt: off
_CREATE_FIRST = (
    "SET", "SETNX", "SETRANGE", "APPEND", "INCR", "INCRBY", "INCRBYFLOAT", "DECR", "DECRBY", "GETSET",
    "HSET", "HSETNX", "HMSET", "HINCRBY", "HINCRBYFLOAT", "LPUSH", "RPUSH", "SADD", "ZADD", "ZINCRBY",
    "XADD", "PFADD", "SETBIT", "GEOADD", "BITFIELD", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE",
    "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZRANGESTORE", "PFMERGE", "GEOSEARCHSTORE", "RESTORE",
)
# fmt: on
_CREATE_SECOND = ("LMOVE", "RPOPLPUSH", "SMOVE", "COPY", "BITOP")
_CREATES_AT = {**dict.fromkeys(_CREATE_FIRST, 1), **dict.fromkeys(_CREATE_SECOND, 2)}
_SCRIPTS = {"EVAL", "EVALSHA", "FCALL"}
_OWN_TTL = {"EX", "PX", "EXAT", "PXAT"}


def _ours(key: Any) -> bool:
    if isinstance(key, bytes):
        return key.startswith(HARNESS_PREFIX.encode())
    return isinstance(key, str) and key.startswith(HARNESS_PREFIX)


def _word(arg: Any) -> str:
    if isinstance(arg, bytes):
        return arg.decode("latin-1").upper()
    return str(arg).upper()


def created_keys(args: Sequence[Any]) -> list[Any]:
    """The harness keys a command may create (empty: send it as it is)."""
    if not args:
        return []
    words = _word(args[0]).split()
    name = words[0]
    keys: list[Any] = []
    if name in _CREATES_AT and len(args) > _CREATES_AT[name]:
        keys = [args[_CREATES_AT[name]]]
    elif name in ("MSET", "MSETNX"):
        keys = list(args[1::2])
    elif name in _SCRIPTS and len(args) > 2:
        try:
            count = int(args[2])
        except (TypeError, ValueError):
            count = 0
        keys = list(args[3 : 3 + count])
    elif words == ["XGROUP", "CREATE"] and len(args) > 1:
        keys = [args[1]] if "MKSTREAM" in {_word(arg) for arg in args[2:]} else []
    return [key for key in keys if _ours(key)]


def _has_own_ttl(args: Sequence[Any]) -> bool:
    return _word(args[0]) == "SET" and any(_word(arg) in _OWN_TTL for arg in args[3:])


class _Transaction(Pipeline):  # type: ignore[misc]
    """A MULTI whose errors read as the command's own (no "Command # n of pipeline" prefix)."""

    def annotate_exception(self, exception: Exception, number: int, command: Any) -> None:
        return None


class ExpiringPipeline(Pipeline):  # type: ignore[misc]
    """A pipeline that follows each key-creating command with ``PEXPIRE key ttl NX`` and runs
    as a transaction when it holds one; ``execute`` returns only the caller's replies."""

    transaction: bool

    def __init__(self, *args: Any, nx: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._added: set[int] = set()
        self._nx = nx

    def reset(self) -> None:
        super().reset()
        self._added = set()

    def pipeline_execute_command(self, *args: Any, **options: Any) -> Pipeline:
        super().pipeline_execute_command(*args, **options)
        if self._nx or not _has_own_ttl(args):
            for key in created_keys(args):
                self._added.add(len(self.command_stack))
                super().pipeline_execute_command("PEXPIRE", key, _TTL_MS, *(["NX"] if self._nx else []))
        return self

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        added = self._added
        forced = bool(added) and not self.transaction
        if forced:
            self.transaction = True
        try:
            replies = super().execute(raise_on_error)
        finally:
            if forced:
                self.transaction = False
        return [reply for index, reply in enumerate(replies) if index not in added]


class ExpiringRedis(redis.Redis):  # type: ignore[misc]
    """A client whose writes under ``nself-harness:`` create keys with a TTL (see the module)."""

    # PEXPIRE ... NX needs Redis 7.0; on older servers plain PEXPIRE, and SET EX/PX is left alone.
    _nx = True

    def execute_command(self, *args: Any, **options: Any) -> Any:
        keys = created_keys(args)
        if not keys or (not self._nx and _has_own_ttl(args)):
            return super().execute_command(*args, **options)
        try:
            return self._atomically(args, options, keys)
        except redis.ResponseError as problem:
            if not self._nx or "pexpire" not in str(problem).lower():
                raise
            self._nx = False  # an old server: nothing ran (EXECABORT), so send it again
            return self.execute_command(*args, **options)

    def _atomically(self, args: Sequence[Any], options: dict[str, Any], keys: list[Any]) -> Any:
        with _Transaction(self.connection_pool, self.response_callbacks, True, None) as multi:
            multi.execute_command(*args, **options)
            for key in keys:
                multi.execute_command("PEXPIRE", key, _TTL_MS, *(["NX"] if self._nx else []))
            return multi.execute()[0]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> ExpiringPipeline:
        return ExpiringPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint, nx=self._nx
        )


def expiring(client: redis.Redis) -> redis.Redis:
    """The same server and connection pool, writing harness keys with a TTL."""
    if isinstance(client, ExpiringRedis):
        return client
    return ExpiringRedis(connection_pool=client.connection_pool)


def without_ttls(client: redis.Redis) -> redis.Redis:
    """The same connection pool without the TTLs, for destructive checks that need keys without
    one (opt-in on someone else's server with --nself-allow-destructive)."""
    if not isinstance(client, ExpiringRedis):
        return client
    return redis.Redis(connection_pool=client.connection_pool)
