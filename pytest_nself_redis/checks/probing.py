"""Shared by the checks that exercise the server (pubsub, datastructures, sessions,
monitoring, queue): a scratch prefix that is always cleaned up, a way to say which
step broke a promise, and refusals (ACL, renamed commands) named as the cause."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext, CheckResult, error, ok, refused
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.targets.base import verifies


class Broken(Exception):
    """A step of a promise did not hold; the message says what was expected and seen."""


def same(what: str, seen: Any, wanted: Any) -> None:
    """Compare one observed reply with the documented one."""
    if seen != wanted:
        raise Broken(f"{what}: expected {wanted!r}, seen {seen!r}")


def holds(condition: object, what: str) -> None:
    if not condition:
        raise Broken(what)


def is_refused(redis_error: Exception) -> bool:
    """The server refused the command to this user (ACL) or does not have it (renamed)."""
    text = str(redis_error)
    return (
        isinstance(redis_error, redis_errors.NoPermissionError)
        or text.startswith("NOPERM")
        or "no permissions" in text
        or "unknown command" in text.lower()
    )


def refusal(redis_error: Exception) -> str:
    """A server error with what usually causes it, so the message names the cause."""
    text = str(redis_error)
    if (
        isinstance(redis_error, redis_errors.NoPermissionError)
        or text.startswith("NOPERM")
        or ("no permissions" in text)
    ):
        text = text if text.startswith("NOPERM") else f"NOPERM {text}"
        hint = "see ACL GETUSER for its rules"
        if "channels" in text:
            hint = "Redis 7 gives a new ACL user no channels unless granted (&* or allchannels)"
        return f"refused by ACL ({text}): the user the suite connects as lacks this permission; {hint}"
    if "unknown command" in text.lower():
        return f"unknown command ({text}): renamed or disabled on this server (rename-command)"
    if isinstance(redis_error, redis_errors.TimeoutError):
        return f"timed out ({text or 'no reply within the socket timeout'})"
    if isinstance(redis_error, redis_errors.ConnectionError):
        return f"connection failed ({text})"
    return text


@dataclass(frozen=True)
class Endpoint:
    """How the check's client reaches the server, for clients of our own (and for Node):
    TLS whenever the client uses it, verified unless the user passed the insecure option.
    The password stays a ``Secret``; only the code that sends it reveals it."""

    host: str
    port: int
    db: int
    username: str | None
    password: Secret
    ca_certs: str | None
    tls: bool = False
    verify: bool = True


def endpoint_of(client: redis.Redis) -> Endpoint:
    kwargs = client.connection_pool.connection_kwargs
    uses_tls = issubclass(client.connection_pool.connection_class, redis.SSLConnection)
    return Endpoint(
        host=str(kwargs.get("host", "127.0.0.1")),
        port=int(kwargs.get("port", 6379)),
        db=int(kwargs.get("db", 0)),
        username=kwargs.get("username"),
        password=Secret(kwargs.get("password") or ""),
        ca_certs=kwargs.get("ssl_ca_certs") if uses_tls else None,
        tls=uses_tls,
        verify=verifies(kwargs) if uses_tls else True,
    )


def clone(context: CheckContext, **overrides: Any) -> redis.Redis:
    """A client with its own connection pool, same endpoint and credentials (and the same kind:
    one that gives harness keys a TTL stays one) as the check's."""
    pool = context.client.connection_pool
    kwargs = {**pool.connection_kwargs, **overrides}
    kind = type(context.client)
    return kind(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def delete_prefix(client: redis.Redis, prefix: str, max_seconds: float | None = None) -> int:
    """Delete every key under ``prefix`` (only ``[a-z0-9:-]`` in it, so a safe SCAN pattern);
    with ``max_seconds``, stop scanning a large keyspace then (what is left expires on its own)."""
    ends = None if max_seconds is None else time.monotonic() + max_seconds
    keys: list[Any] = []
    cursor = 0
    while True:
        cursor, found = client.scan(cursor, match=f"{prefix}*", count=1000)
        keys.extend(found)
        if not cursor or (ends is not None and time.monotonic() > ends):
            break
    deleted = 0
    for start in range(0, len(keys), 500):
        deleted += int(client.unlink(*keys[start : start + 500]))
    return deleted


@contextlib.contextmanager
def scratch(context: CheckContext, label: str) -> Iterator[str]:
    """A key prefix for one check; every key under it is deleted afterwards."""
    prefix = context.key_prefix(label)
    try:
        yield prefix
    finally:
        with contextlib.suppress(redis_errors.RedisError):
            delete_prefix(context.client, prefix)


Body = Callable[[CheckContext, str], tuple[str, Any]]


def probe(
    context: CheckContext, check_id: str, promise: str, body: Body, source: str | None = None
) -> CheckResult:
    """Run ``body(context, prefix)``: ok with its summary, or error naming the broken step or the
    refusal. ``body`` returns (what was seen, measured)."""
    label = check_id.rsplit(".", 1)[-1].replace("_", "-")
    with scratch(context, label) as prefix:
        try:
            seen, measured = body(context, prefix)
        except Broken as broken:
            return error(check_id, f"{promise} Broken: {broken}", source)
        except redis_errors.RedisError as redis_error:
            message = f"{promise} Seen: {refusal(redis_error)}"
            if is_refused(redis_error):
                return refused(check_id, message, source)
            return error(check_id, message, source)
    return ok(check_id, f"{promise} Kept: {seen}", source, measured)


class Later:
    """``action`` run ``delay`` seconds from ``start`` in a thread; ``join`` re-raises what it
    raised, so a write refused in the thread (MISCONF, READONLY, ...) names the cause instead
    of leaving a waiter that was never woken."""

    def __init__(self, delay: float, action: Callable[[], object]) -> None:
        self._action = action
        self._error: Exception | None = None
        self._timer = threading.Timer(delay, self._run)

    def _run(self) -> None:
        try:
            self._action()
        except Exception as problem:
            self._error = problem

    def start(self) -> Later:
        self._timer.start()
        return self

    def join(self, timeout: float) -> None:
        self._timer.join(timeout)
        if self._error is not None:
            raise self._error


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (never waits longer)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
