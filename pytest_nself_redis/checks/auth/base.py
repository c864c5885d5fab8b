"""What the auth checks share: the promised password (never shown), the skip when none is
promised, and a raw exchange with the server on a connection of its own."""

from __future__ import annotations

import functools
from collections.abc import Callable

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import send
from pytest_nself_redis.checks.results import Outcome, skipped
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.resp import encode


def password_of(context: CheckContext) -> str:
    return context.settings.password.value.reveal()


def source(context: CheckContext) -> str:
    return str(context.settings.password.source)


def promise(context: CheckContext, what: str) -> str:
    """``Promise: <what> (REDIS_PASSWORD=******** (file:line)).``"""
    return f"Promise: {what} ({context.settings.password.cite()})."


CheckFunction = Callable[[CheckContext], Outcome]


def needs_password(function: CheckFunction) -> CheckFunction:
    """Skip (with the reason) a check that needs a promised password when there is none."""

    @functools.wraps(function)
    def run(context: CheckContext) -> Outcome:
        if password_of(context):
            return function(context)
        setting = context.settings.password
        return skipped(
            f"no password is promised ({setting.cite()}), so there is no authentication to probe; "
            "auth.password_set reports the missing password",
            str(setting.source),
        )

    return run


def unauthenticated_ping(context: CheckContext) -> str:
    return send(ServerAddress.of(context.client), encode("PING"))[0]


def requirepass_cause(context: CheckContext) -> str:
    """Why a server takes no password: the deployment sets none, or the server departs from it."""
    service = context.service
    if service.args.value("requirepass") in (None, ""):
        return f"; {service.describe()} sets no --requirepass ({service.command_source})"
    return "; the deployment sets --requirepass, so the running server departs from it"


def ask(context: CheckContext, what: str, *commands: bytes) -> tuple[list[str], str]:
    """Send ``commands`` unauthenticated; the replies and ``Seen: <what> on <where> got ...``
    (naming why when the server has no password at all)."""
    address = ServerAddress.of(context.client)
    replies = send(address, *commands)
    seen = f"Seen: {what} on {address.where()} got " + ", then PING got ".join(replies)
    if replies[0].startswith("-ERR AUTH"):
        seen += ": the server has no password" + requirepass_cause(context)
    return replies, seen
