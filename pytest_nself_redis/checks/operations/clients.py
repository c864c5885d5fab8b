"""Clients: connections refused, clients waiting, and the maxclients Redis really runs with.
Connected against maxclients is ``health.clients``'s; subscribers cut off are ``pubsub``'s here."""

from __future__ import annotations

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import (
    Unknown,
    info_section,
    local_host,
    number,
    operations_check,
)
from pytest_nself_redis.checks.results import Outcome, error, ok, warning

# File descriptors Redis keeps for itself besides its clients (CONFIG_MIN_RESERVED_FDS).
RESERVED_FDS = 32
DEFAULT_MAXCLIENTS = 10000
RAISE_IT = (
    "(ulimits: nofile in the compose service, LimitNOFILE in a systemd unit, ulimit -n where it starts)"
)


def _uptime(context: CheckContext) -> str:
    try:
        return f"{int(info_section(context, 'server').get('uptime_in_seconds', 0))} s"
    except Unknown:
        return "an unknown time"


@operations_check("operations.rejected_connections")
def no_connection_refused(context: CheckContext) -> Outcome:
    """no connection was refused for maxclients"""
    rejected = number(info_section(context, "stats"), "rejected_connections", "stats")
    maxclients = number(info_section(context, "clients"), "maxclients", "clients")
    promise = (
        "Promise: every client that connects gets in: Redis counts in rejected_connections each one it "
        f"turned away because maxclients ({maxclients} live) was reached."
    )
    measured = {"rejected_connections": rejected, "maxclients": maxclients}
    seen = f"rejected_connections={rejected} since the server started {_uptime(context)} ago"
    if rejected:
        return warning(
            f"{promise} Seen: {seen}: those clients got 'max number of clients reached'. Find the client "
            "that leaks connections (CLIENT LIST, by name and age) or raise maxclients (REDIS_MAX_CLIENTS "
            "and the open-file limit with it)",
            measured=measured,
        )
    return ok(f"{promise} Kept: {seen}", measured=measured)


@operations_check("operations.blocked_clients")
def blocked_clients_are_expected(context: CheckContext) -> Outcome:
    """clients wait in blocking commands only where this env runs queues"""
    queues = context.settings.queues
    blocked = number(info_section(context, "clients"), "blocked_clients", "clients")
    promise = (
        "Promise: a client waits in a blocking command (BLPOP, BZPOPMIN, XREAD BLOCK, WAIT) only where "
        f"something is meant to wait: queue workers ({queues.cite()})."
    )
    measured = {"blocked_clients": blocked, "queues": queues.value}
    seen = f"blocked_clients={blocked}"
    if blocked and not queues.value:
        return warning(
            f"{promise} Seen: {seen}, and this env runs no queue. Each holds a connection until data "
            "arrives or its timeout ends: look for them with CLIENT LIST (flags=b) and check they are "
            "meant to wait (set REDIS_QUEUES=true where workers run)",
            str(queues.source),
            measured,
        )
    why = " (queue workers wait in BZPOPMIN and BRPOPLPUSH)" if blocked else ""
    return ok(f"{promise} Kept: {seen}{why}", str(queues.source), measured)


def _asked(context: CheckContext) -> tuple[int, str]:
    """The maxclients the deployment asks for, and where that is said."""
    service, setting = context.service, context.settings.max_clients
    value = service.args.value("maxclients")
    if value:
        return int(
            value
        ), f"{setting.cite()}; the service passes --maxclients {value} ({service.command_source})"
    return (
        DEFAULT_MAXCLIENTS,
        f"{setting.cite()}; the service passes no --maxclients ({service.command_source}), so Redis's "
        f"default {DEFAULT_MAXCLIENTS}",
    )


def _limit_cause(context: CheckContext, asked: int, live: int) -> str:
    """Why maxclients is lower than asked, as far as this machine can tell, for the message."""
    needed = asked + RESERVED_FDS
    try:
        limit = local_host(context).open_files()
    except Unknown:
        limit = None
    if limit is None or not limit.known:
        return (
            f"the server's open-file limit cannot be read from here, and Redis lowers maxclients to it minus "
            f"{RESERVED_FDS} when it cannot raise it to {needed}: raise it to at least {needed} {RAISE_IT}"
        )
    if limit.value == "unlimited" or int(str(limit.value)) >= needed:
        return (
            f"Max open files is {limit.shown()}, enough for {asked}, so the limit is not why: maxclients was "
            "set lower another way (CONFIG SET maxclients, a config file the server loads)"
        )
    return (
        f"Max open files is {limit.shown()}, under maxclients + {RESERVED_FDS} = {needed}, so Redis lowered "
        f"maxclients to {live} at start: raise the limit to at least {needed} {RAISE_IT}"
    )


@operations_check("operations.maxclients")
def maxclients_is_what_was_asked(context: CheckContext) -> Outcome:
    """Redis runs with the maxclients the deployment asks for"""
    live = number(info_section(context, "clients"), "maxclients", "clients")
    asked, said = _asked(context)
    promise = (
        f"Promise: Redis runs with the maxclients the deployment asks for ({said}). Redis lowers it at "
        f"start when it cannot raise the open-file limit to maxclients + {RESERVED_FDS}."
    )
    measured = {"asked": asked, "live": live}
    source = str(context.settings.max_clients.source)
    if live < asked:
        return error(
            f"{promise} Broken: INFO maxclients={live}, not {asked}: client {live + 1} is refused. "
            f"{_limit_cause(context, asked, live)}",
            source,
            measured,
        )
    return ok(f"{promise} Kept: INFO maxclients={live}", source, measured)
