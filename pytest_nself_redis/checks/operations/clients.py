"""Clients: connections refused, clients waiting, subscribers cut off, and the maxclients Redis
really runs with. Connected against maxclients is ``health.clients``'s."""

from __future__ import annotations

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import Unknown, config, info_section, local_host, number
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, warning

# File descriptors Redis keeps for itself besides its clients (CONFIG_MIN_RESERVED_FDS).
RESERVED_FDS = 32
DEFAULT_MAXCLIENTS = 10000
DISCONNECTIONS = "client_output_buffer_limit_disconnections"


def _uptime(context: CheckContext) -> str:
    try:
        return f"{int(info_section(context, 'server').get('uptime_in_seconds', 0))} s"
    except Unknown:
        return "an unknown time"


@check("operations.rejected_connections", safe=True)
def no_connection_refused(context: CheckContext) -> Outcome:
    """no connection was refused for maxclients"""
    try:
        rejected = number(info_section(context, "stats"), "rejected_connections", "stats")
        maxclients = number(info_section(context, "clients"), "maxclients", "clients")
    except Unknown as unknown:
        return unknown.outcome()
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


@check("operations.blocked_clients", safe=True)
def blocked_clients_are_expected(context: CheckContext) -> Outcome:
    """clients wait in blocking commands only where this env runs queues"""
    queues = context.settings.queues
    try:
        blocked = number(info_section(context, "clients"), "blocked_clients", "clients")
    except Unknown as unknown:
        return unknown.outcome()
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


@check("operations.pubsub_disconnections", safe=True)
def subscribers_are_not_cut_off(context: CheckContext) -> Outcome:
    """no client was cut off for its output buffer (pub/sub subscribers first)"""
    try:
        stats = info_section(context, "stats")
    except Unknown as unknown:
        return unknown.outcome()
    try:
        limits = config(context, "client-output-buffer-limit")
    except Unknown:
        limits = "unknown (CONFIG GET refused)"
    pubsub = limits.split("pubsub", 1)[1].strip() if "pubsub" in limits else limits
    if DISCONNECTIONS not in stats:
        return Unknown(
            f"this server's INFO stats has no {DISCONNECTIONS} (newer Redis and Valkey count them), so "
            f"subscribers cut off by client-output-buffer-limit pubsub {pubsub} cannot be counted here; "
            "the server's log says 'scheduled to be closed ASAP for overcoming of output buffer limits' "
            "for each"
        ).outcome()
    cut = number(stats, DISCONNECTIONS, "stats")
    promise = (
        "Promise: a subscriber reading slower than the publishers is not cut off: the server closes a "
        f"client whose output buffer passes client-output-buffer-limit (pubsub {pubsub})."
    )
    measured = {DISCONNECTIONS: cut, "pubsub_limit": pubsub}
    seen = f"{DISCONNECTIONS}={cut} since the server started {_uptime(context)} ago"
    if cut:
        return warning(
            f"{promise} Seen: {seen}: those clients lost their messages and had to reconnect. Make the "
            "subscribers keep up (or read in a thread of their own), or raise the pubsub limit",
            measured=measured,
        )
    return ok(f"{promise} Kept: {seen}", measured=measured)


def _asked(context: CheckContext) -> tuple[int, str]:
    """The maxclients the deployment asks for, and where that is said."""
    service = context.service
    value = service.args.value("maxclients")
    if value:
        return int(value), f"{service.describe()} passes --maxclients {value} ({service.command_source})"
    return (
        DEFAULT_MAXCLIENTS,
        f"{service.describe()} passes no --maxclients, so Redis's default {DEFAULT_MAXCLIENTS}",
    )


def _limit_cause(context: CheckContext, live: int) -> str:
    """What this machine says about the server's open-file limit, for the message."""
    try:
        host = local_host(context)
    except Unknown:
        return f"(its open-file limit cannot be read from here; Redis uses maxclients + {RESERVED_FDS})"
    limit = host.open_files()
    return f"(Max open files {limit.shown()}; Redis uses maxclients + {RESERVED_FDS} = {live + RESERVED_FDS})"


@check("operations.maxclients", safe=True)
def maxclients_is_what_was_asked(context: CheckContext) -> Outcome:
    """Redis runs with the maxclients the deployment asks for"""
    try:
        live = int(config(context, "maxclients"))
    except (Unknown, ValueError) as problem:
        return Unknown(str(problem)).outcome()
    asked, said = _asked(context)
    promise = (
        f"Promise: Redis runs with the maxclients the deployment asks for: {said}. Redis lowers it at "
        f"start when it cannot raise the open-file limit to maxclients + {RESERVED_FDS}."
    )
    measured = {"asked": asked, "live": live}
    if live < asked:
        return error(
            f"{promise} Broken: CONFIG GET maxclients={live}, not {asked} {_limit_cause(context, live)}: "
            f"client {live + 1} is refused. Raise the server's open-file limit to at least "
            f"{asked + RESERVED_FDS} (ulimits: nofile in the compose service, LimitNOFILE in a systemd unit, "
            "ulimit -n where it is started)",
            str(context.service.command_source),
            measured,
        )
    return ok(f"{promise} Kept: CONFIG GET maxclients={live}", str(context.service.command_source), measured)
