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
    """Poll PING until it answers."""
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.002
    last_error: Exception | None = None
    readiness = Readiness()
    while True:
        client = make_client()
        readiness.attempts += 1
        try:
            client.ping()
            readiness.seconds = time.monotonic() - started
            return readiness
        except redis_errors.AuthenticationError as error:
            raise TargetError(f"{what} refused the password: {error}") from None
        except redis_errors.ResponseError as error:
            if "LOADING" not in str(error):
                raise TargetError(f"{what} answered PING with an error: {error}") from None
            last_error = error
            readiness.transient[_kind(error)] += 1
        except TRANSIENT as error:
            last_error = error
            readiness.transient[_kind(error)] += 1
            if address is not None and "closed by server" in str(error) and denied_banner(address):
                raise TargetError(f"{what} refuses this client (-DENIED): {DENIED_HINT}") from None
        except redis_errors.RedisError as error:
            raise UnreachableError(f"{what} does not speak the Redis protocol: {error}") from None
        finally:
            client.close()
        if not is_running():
            tail = log_tail()
            reason = explain_exit(tail) if explain_exit else ""
            raise ServerExited(f"{what} exited before it was ready{reason}; its log ends:\n{_indent(tail)}")
        if time.monotonic() >= deadline:
            raise TargetError(
                f"{what} was not ready within {timeout:.1f} s (last error: {last_error}); "
                f"its log ends:\n{_indent(log_tail())}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
