"""Shared by the checks that exercise the server (pubsub, datastructures, sessions,
monitoring, queue): a scratch prefix that is always cleaned up, a way to say which
step broke a promise, and refusals (ACL, renamed commands, ``live.refusals``) named as
the cause. ``@probed(check_id, promise)`` declares such a check from its body alone."""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, refused
from pytest_nself_redis.live import keys
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.refusals import explain, is_refused
from pytest_nself_redis.live.resp import exchange


class Broken(Exception):
    """A step of a promise did not hold; the message says what was expected and seen."""


def same(what: str, seen: Any, wanted: Any) -> None:
    """Compare one observed reply with the documented one."""
    if seen != wanted:
        raise Broken(f"{what}: expected {wanted!r}, seen {seen!r}")


def holds(condition: object, what: str) -> None:
    if not condition:
        raise Broken(what)


@contextlib.contextmanager
def scratch(context: CheckContext, label: str) -> Iterator[str]:
    """A key prefix for one check; every key under it is deleted afterwards."""
    with keys.scratch(context.client, context.key_prefix(label)) as prefix:
        yield prefix


Body = Callable[[CheckContext, str], tuple[str, Any]]


def probe(context: CheckContext, label: str, promise: str, body: Body) -> Outcome:
    """Run ``body(context, prefix)`` under a scratch prefix named ``label``: ok with its summary, or
    error naming the broken step or the refusal. ``body`` returns (what was seen, measured)."""
    with scratch(context, label) as prefix:
        try:
            seen, measured = body(context, prefix)
        except Broken as broken:
            return error(f"{promise} Broken: {broken}")
        except redis_errors.RedisError as redis_error:
            message = f"{promise} Seen: {explain(redis_error)}"
            if is_refused(redis_error):
                return refused(message)
            return error(message)
    return ok(f"{promise} Kept: {seen}", measured=measured)


def probed(check_id: str, *, safe: bool = False, waits: bool = False) -> Callable[[Body], Body]:
    """Declare the check ``check_id`` whose whole job is ``probe`` of the decorated body. The
    body's docstring says it all: its first line is the title, the rest the promise the
    message states (``{NAME}`` there is the module's constant ``NAME``, as in a format string).
    ``safe`` and ``waits`` are ``registry.check``'s. The body is returned as it is."""
    label = check_id.rsplit(".", 1)[-1].replace("_", "-")

    def register(body: Body) -> Body:
        title, _, rest = inspect.cleandoc(body.__doc__ or check_id).partition("\n")
        promise = " ".join(rest.split()).format(**vars(inspect.getmodule(body)))

        def run(context: CheckContext) -> Outcome:
            return probe(context, label, promise, body)

        run.__doc__ = title
        run.__module__ = body.__module__  # declared where the body is (the registry's SUITE_MODULES)
        check(check_id, safe=safe, waits=waits)(run)
        return body

    return register


def send(address: ServerAddress, *commands: bytes, tls: bool | None = None) -> list[str]:
    """The first reply line to each command on a connection of its own (never authenticated);
    a connection that fails is the one reply, saying so."""
    try:
        return exchange(address, *commands, tls=tls)
    except OSError as problem:
        return [f"(connect failed: {problem.strerror or problem})"]


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


# While a block's timeout is due, a PING this often (``kept_awake``).
AWAKE_PING_SECONDS = 0.005


@contextlib.contextmanager
def kept_awake(client: redis.Redis, after: float, bound: float) -> Iterator[None]:
    """A block with a timeout inside, ended at its timeout as on a server in use.

    Redis ends a timed-out block when its event loop next wakes: on a server with traffic at
    once, on an idle one at its next tick (up to 1/hz late: 100 ms more at the default hz 10,
    at random). From ``after`` seconds on, until the block is over (at most ``bound`` seconds
    more), ``client`` sends a PING every ``AWAKE_PING_SECONDS``. A server that ignores the
    timeout is not helped: the block still outlives its bound. Whatever stops a PING only ends
    them (the block then ends at the tick, as without): a refusal, or the run closing the
    client under it (doctor at its deadline), where redis-py may raise ValueError."""
    over = threading.Event()

    def ping() -> None:
        if over.wait(after):
            return
        ends = time.monotonic() + bound
        while time.monotonic() < ends:
            try:
                client.ping()
            except Exception:  # a nudge only: nothing of it may reach the thread's excepthook
                return
            if over.wait(AWAKE_PING_SECONDS):
                return

    pinger = threading.Thread(target=ping, name="nself-redis-kept-awake", daemon=True)
    pinger.start()
    try:
        yield
    finally:
        over.set()
        pinger.join(bound)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (never waits longer)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
