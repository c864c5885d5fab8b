"""What the operations checks share: reading INFO and CONFIG as "unknown" when refused, and the
one way to say that the server's host is not this machine.

An operations check judges what the server reports about itself. When the server will not say
(INFO or CONFIG refused by ACL, renamed away, missing on a fork), the check does not know: it is
skipped with the reason, never failed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, skipped
from pytest_nself_redis.live import reads
from pytest_nself_redis.live.host import ServerHost
from pytest_nself_redis.live.refusals import explain

MB = 1024 * 1024
INFO_REUSE_SECONDS = 2.0
_INFO = "operations.info"
GB = 1024 * MB


class Unknown(Exception):
    """What a check needs cannot be read here; the message says what and why."""

    def outcome(self) -> Outcome:
        return skipped(f"unknown: {self}")


def operations_check(check_id: str) -> Callable[[Callable[..., Outcome]], Callable[..., Outcome]]:
    """Declare an operations check (safe: it only reads). What it cannot read raises ``Unknown``
    anywhere in it, and that is its outcome: skipped, saying what could not be read."""

    def register(function: Callable[..., Outcome]) -> Callable[..., Outcome]:
        @functools.wraps(function)
        def judged(context: CheckContext) -> Outcome:
            try:
                return function(context)
            except Unknown as unknown:
                return unknown.outcome()

        return check(check_id, safe=True)(judged)

    return register


def info_section(context: CheckContext, section: str) -> dict[str, Any]:
    """INFO's fields (``section`` names which the caller needs; raises Unknown when refused).

    One ``INFO all`` serves every operations check of a run for ``INFO_REUSE_SECONDS``:
    a check that needs nothing else then sends no command of its own."""

    def look() -> dict[str, Any]:
        try:
            return reads.info(context.client, "all")
        except redis_errors.RedisError as problem:
            raise Unknown(f"INFO {section} {explain(problem)}") from None

    return context.memo.get(_INFO, INFO_REUSE_SECONDS, look)


def number(fields: dict[str, Any], name: str, section: str) -> int:
    """An INFO number (raises Unknown when the server does not report it)."""
    try:
        return reads.info_number(fields, name)
    except reads.Unreadable as problem:
        raise Unknown(f"INFO {section}: {problem}") from None


def config(context: CheckContext, name: str) -> str:
    """CONFIG GET ``name`` (raises Unknown when CONFIG is refused, renamed or lacks it)."""
    value = reads.config_get(context.client, name)
    if value is None:
        raise Unknown(f"CONFIG GET {name} is refused or renamed on this server, so {name} is not known")
    return value


def size(value: float) -> str:
    """Bytes as KB, MB or GB for messages; the exact number goes in ``measured``."""
    if abs(value) >= GB:
        return f"{value / GB:.2f} GB"
    return f"{value / MB:.1f} MB" if abs(value) >= MB else f"{value / 1024:.0f} KB"


def local_host(context: CheckContext) -> ServerHost:
    """The server's host when it is this machine (raises Unknown otherwise)."""
    host = context.server_host()
    if host is None:
        where = "an attached server" if context.kind in (None, "attach") else f"the {context.kind} target"
        raise Unknown(
            f"{where} is not known to run on this machine, so its kernel settings and limits cannot be "
            "read here (process and docker targets run here; for doctor, --local says the server does)"
        )
    return host
