"""Waiting for a Redis to answer PING, telling transient from fatal errors.

Connection refused and LOADING mean "not yet"; a refused password or an answer
that is not RESP mean "never". On timeout the error carries the server's log tail,
because that is where the reason is.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.errors import TargetError, UnreachableError

TRANSIENT = (
    redis_errors.BusyLoadingError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    ConnectionRefusedError,
    ConnectionResetError,
)
# The first polls come this soon (a local redis-server answers some 10 ms after its spawn),
# then each waits BACKOFF times longer, up to MAX_DELAY_S.
FIRST_DELAY_S = 0.0005
BACKOFF = 1.2
MAX_DELAY_S = 0.025
# How often a wait asks whether the server still runs (for a container, an API call).
RUNNING_CHECK_S = 0.05
# How long connections must keep being closed at once before the -DENIED banner is looked for.
DENIED_AFTER_S = 1.0


class ServerExited(TargetError):
    """The process or container stopped while we waited for it."""


def _indent(text: str) -> str:
    lines = text.rstrip().splitlines() or ["(empty log)"]
    return "\n".join(f"    | {line}" for line in lines)


@dataclass
class Readiness:
    """How a wait went: seconds to the first PONG and the transient errors on the way."""

    seconds: float = 0.0
    attempts: int = 0
    transient: Counter[str] = field(default_factory=Counter)


def _kind(error: Exception) -> str:
    if isinstance(error, redis_errors.BusyLoadingError) or "LOADING" in str(error):
        return "loading"
    if isinstance(error, redis_errors.TimeoutError):
        return "timeout"
    return "refused"


DENIED_HINT = (
    "protected mode is on and no password is set, so Redis only answers clients on its own "
    "loopback; through Docker's port mapping the client is not. Set REDIS_PASSWORD (nself "
    "requires one outside dev) or run the process target"
)


def denied_banner(address: tuple[str, int], timeout: float = 0.5) -> str | None:
    """What a server says on connect before any command: ``-DENIED ...`` in protected mode."""
    try:
        with socket.create_connection(address, timeout=timeout) as probe:
            probe.settimeout(timeout)
            banner = probe.recv(512)
    except OSError:
        return None
    text = banner.decode("utf-8", "replace").strip()
    return text if text.startswith("-DENIED") else None


def accepts_connections(address: tuple[str, int]) -> bool:
    """Whether anything listens at ``address``: a bare TCP connect, no client and no command, so
    it can be polled every millisecond while a local server starts (refused at once until then)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(address) == 0


def wait_until_ready(
    make_client: Callable[[], redis.Redis],
    *,
    what: str,
    timeout: float,
    is_running: Callable[[], bool],
    log_tail: Callable[[], str],
    explain_exit: Callable[[str], str] | None = None,
    address: tuple[str, int] | None = None,
) -> Readiness:
    """Poll PING until it answers.

    While nothing listens at ``address`` a bare connect says so for next to nothing, so the
    polls start a fraction of a millisecond apart and back off slowly; a client is made (and
    PING sent) once something accepts. ``is_running`` (a Docker API call for containers) is
    asked at most every ``RUNNING_CHECK_S``. A connection closed at once is what a port proxy
    does before the server listens, and what protected mode does for good: the -DENIED banner
    is looked for only once that has gone on for ``DENIED_AFTER_S``.
    """
    started = time.monotonic()
    deadline = started + timeout
    delay = FIRST_DELAY_S
    last_error: Exception | None = None
    readiness = Readiness()
    checked_running = started
    closures = _Closures(address)
    while True:
        if address is None or accepts_connections(address):
            outcome = _ping_once(make_client, what, readiness)
            if outcome is None:
                readiness.seconds = time.monotonic() - started
                return readiness
            last_error = outcome
            if closures.denied(outcome):
                raise TargetError(f"{what} refuses this client (-DENIED): {DENIED_HINT}") from None
        else:
            last_error = ConnectionRefusedError(f"nothing listens on {address[0]}:{address[1]} yet")
            readiness.transient["refused"] += 1
        now = time.monotonic()
        if now >= deadline or now - checked_running >= RUNNING_CHECK_S:
            checked_running = now
            if not is_running():
                tail = log_tail()
                reason = explain_exit(tail) if explain_exit else ""
                raise ServerExited(
                    f"{what} exited before it was ready{reason}; its log ends:\n{_indent(tail)}"
                )
        if now >= deadline:
            raise TargetError(
                f"{what} was not ready within {timeout:.1f} s (last error: {last_error}); "
                f"its log ends:\n{_indent(log_tail())}"
            )
        time.sleep(delay)
        delay = min(delay * BACKOFF, MAX_DELAY_S)


@dataclass
class _Closures:
    """Connections closed at once, in a row: a proxy before its server listens, or protected
    mode for good (its banner, looked for once they went on for ``DENIED_AFTER_S``, says)."""

    address: tuple[str, int] | None
    since: float | None = None

    def denied(self, error: Exception) -> bool:
        if self.address is None or "closed by server" not in str(error):
            self.since = None
            return False
        now = time.monotonic()
        self.since = now if self.since is None else self.since
        if now - self.since < DENIED_AFTER_S:
            return False
        self.since = now  # look again a second later, not on every poll
        return denied_banner(self.address) is not None


def _ping_once(make_client: Callable[[], redis.Redis], what: str, readiness: Readiness) -> Exception | None:
    """One PING through a fresh client: None when answered, the transient error when not yet;
    an answer that can never turn into PONG raises."""
    client = make_client()
    readiness.attempts += 1
    try:
        client.ping()
        return None
    except redis_errors.AuthenticationError as error:
        raise TargetError(f"{what} refused the password: {error}") from None
    except redis_errors.ResponseError as error:
        if "LOADING" not in str(error):
            raise TargetError(f"{what} answered PING with an error: {error}") from None
        loading: Exception = error
        readiness.transient[_kind(loading)] += 1
        return loading
    except TRANSIENT as error:
        readiness.transient[_kind(error)] += 1
        return error
    except redis_errors.RedisError as error:
        raise UnreachableError(f"{what} does not speak the Redis protocol: {error}") from None
    finally:
        client.close()
