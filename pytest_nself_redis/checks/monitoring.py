"""monitoring: the numbers nself's monitoring bundle shows come out of INFO, named as
redis_exporter names them, and they move when the server does something.

The bundle scrapes Redis with redis_exporter and alerts on RedisDown, RedisHighMemoryUsage
and RedisTooManyConnections. These checks derive every metric from INFO, make hits,
misses, commands and expiries happen under their own prefix and watch the counters
grow by as much, and evaluate the alert rules against the live values and settings.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import Broken, holds, probed, wait_until
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, verdict, warning
from pytest_nself_redis.live.reads import Unreadable, info, info_number
from pytest_nself_redis.live.refusals import explain
from pytest_nself_redis.remedy import Consequence, Remedy, add_flags, set_setting

# redis_exporter metric <- INFO field (docs/suites/monitoring.md).
METRICS: dict[str, str] = {
    "redis_connected_clients": "connected_clients",
    "redis_memory_used_bytes": "used_memory",
    "redis_commands_processed_total": "total_commands_processed",
    "redis_keyspace_hits_total": "keyspace_hits",
    "redis_keyspace_misses_total": "keyspace_misses",
    "redis_expired_keys_total": "expired_keys",
    "redis_evicted_keys_total": "evicted_keys",
    "redis_connected_slaves": "connected_slaves",
    "redis_memory_max_bytes": "maxmemory",
}
# The name nself's documentation uses for used memory; redis_exporter does not export it.
DOCUMENTED_MEMORY_METRIC = "redis_used_memory_bytes"
MEMORY_ALERT_RATIO = 0.9
CONNECTIONS_ALERT_THRESHOLD = 1000
HITS, MISSES, EXPIRIES = 5, 3, 3
EXPIRY_WAIT_SECONDS = 3.0
# What the exporter's unencoded URL cannot carry in a password (@ and : break it).
URL_BREAKING = "@:/?#%[] "
EXPORTER_HOST = "redis"
EXPORTER_PORT = 6379


class InfoUnavailable(Broken):
    """INFO was refused or lacks fields; the message names which."""


def read_metrics(context: CheckContext) -> dict[str, int]:
    """Every exporter metric from one INFO call (raises InfoUnavailable naming the cause)."""
    try:
        fields = info(context.client, "everything")
    except redis_errors.RedisError as redis_error:
        raise InfoUnavailable(f"INFO {explain(redis_error)}") from None
    missing = [f"{name} <- {field}" for name, field in METRICS.items() if field not in fields]
    not_numbers = [
        f"{name} <- {field}={fields[field]!r}"
        for name, field in METRICS.items()
        if field in fields and (not isinstance(fields[field], int) or fields[field] < 0)
    ]
    if missing or not_numbers:
        parts = []
        if missing:
            parts.append(f"INFO lacks {', '.join(missing)}")
        if not_numbers:
            parts.append(f"not a non-negative integer: {', '.join(not_numbers)}")
        raise InfoUnavailable("; ".join(parts))
    return {name: int(fields[field]) for name, field in METRICS.items()}


@check("monitoring.metrics", safe=True)
def every_metric_is_derived(context: CheckContext) -> Outcome:
    """every monitoring metric can be derived from INFO"""
    promise = (
        "Promise: every metric of the monitoring bundle comes out of INFO under redis_exporter's name "
        f"({', '.join(METRICS)}, and redis_up from PING)."
    )
    try:
        up = 1 if context.client.ping() else 0
    except redis_errors.RedisError as redis_error:
        return error(f"{promise} Seen: redis_up=0, PING {explain(redis_error)}")
    try:
        metrics = read_metrics(context)
    except InfoUnavailable as unavailable:
        return error(f"{promise} Seen: {unavailable}")
    metrics = {"redis_up": up, **metrics}
    shown = ", ".join(f"{name}={value}" for name, value in metrics.items())
    return ok(f"{promise} Kept: {shown}", measured=metrics)


def _deltas(context: CheckContext, before: dict[str, int]) -> dict[str, int]:
    after = read_metrics(context)
    return {name: after[name] - before[name] for name in after}


def _exactness(context: CheckContext) -> str:
    return "exactly (only this run uses the server)" if context.launched else "at least (a shared server)"


def _grew(context: CheckContext, delta: int, wanted: int) -> bool:
    return delta == wanted if context.launched else delta >= wanted


@probed("monitoring.keyspace_counters", safe=True)
def hits_and_misses_follow_reads(context: CheckContext, prefix: str) -> tuple[str, object]:
    """keyspace hits and misses grow by the reads made

    Promise: redis_keyspace_hits_total and redis_keyspace_misses_total grow by the hits and misses a
    client makes (the cache hit ratio panel depends on them)."""
    client, key = context.client, f"{prefix}hit"
    client.set(key, "x")
    before = read_metrics(context)
    for _ in range(HITS):
        client.get(key)
    for number in range(MISSES):
        client.get(f"{prefix}miss{number}")
    delta = _deltas(context, before)
    hits, misses = delta["redis_keyspace_hits_total"], delta["redis_keyspace_misses_total"]
    how = _exactness(context)
    holds(
        _grew(context, hits, HITS),
        f"redis_keyspace_hits_total (keyspace_hits) grew by {hits} after {HITS} GETs of an existing key; "
        f"expected {how} {HITS}",
    )
    holds(
        _grew(context, misses, MISSES),
        f"redis_keyspace_misses_total (keyspace_misses) grew by {misses} after {MISSES} GETs of missing "
        f"keys; expected {how} {MISSES}",
    )
    return f"hits +{hits}, misses +{misses} for {HITS} hits and {MISSES} misses made", {
        "hits_delta": hits,
        "misses_delta": misses,
    }


@probed("monitoring.commands_processed", safe=True)
def commands_processed_grows(context: CheckContext, prefix: str) -> tuple[str, object]:
    """commands processed grows by at least the commands sent

    Promise: redis_commands_processed_total grows by at least the number of commands clients send."""
    before = read_metrics(context)
    commands = 20
    for number in range(commands):
        context.client.set(f"{prefix}c{number % 3}", number)
    grown = _deltas(context, before)["redis_commands_processed_total"]
    # The first INFO counts itself once it has run: 1 + our commands.
    wanted = commands + 1
    holds(
        grown >= wanted,
        f"redis_commands_processed_total (total_commands_processed) grew by {grown} after {commands} "
        f"SETs and one INFO; expected at least {wanted}",
    )
    return f"+{grown} after {wanted} commands", {"commands_delta": grown, "commands_sent": wanted}


@probed("monitoring.expired_keys", safe=True, waits=True)
def expired_keys_grows(context: CheckContext, prefix: str) -> tuple[str, object]:
    """expired keys grows after keys expire

    Promise: redis_expired_keys_total grows when keys expire."""
    client = context.client
    before = read_metrics(context)
    keys = [f"{prefix}exp{number}" for number in range(EXPIRIES)]
    for key in keys:
        client.set(key, "x", px=20)
    gone = wait_until(lambda: all(client.get(key) is None for key in keys), EXPIRY_WAIT_SECONDS)
    holds(gone, f"keys SET with PX 20 were still readable after {EXPIRY_WAIT_SECONDS:.0f} s")
    grown = _deltas(context, before)["redis_expired_keys_total"]
    holds(
        grown >= EXPIRIES,
        f"redis_expired_keys_total (expired_keys) grew by {grown} after {EXPIRIES} keys expired; "
        f"expected at least {EXPIRIES}",
    )
    return f"+{grown} after {EXPIRIES} keys expired", {"expired_delta": grown}


@check("monitoring.documented_names", safe=True)
def documented_metric_names_exist(context: CheckContext) -> Outcome:
    """the metric names nself's docs use are the ones redis_exporter exports"""
    promise = (
        "Promise: the metric names in nself's monitoring docs are what redis_exporter exports, so "
        "dashboards and alerts built from the docs show data."
    )
    try:
        metrics = read_metrics(context)
    except InfoUnavailable as unavailable:
        return error(f"{promise} Seen: {unavailable}")
    return warning(
        f"{promise} Seen: nself's docs name {DOCUMENTED_MEMORY_METRIC}, which redis_exporter does not "
        f"export: a query for it returns nothing. Use redis_memory_used_bytes (now "
        f"{metrics['redis_memory_used_bytes']}, from INFO used_memory).",
        measured={
            "documented": DOCUMENTED_MEMORY_METRIC,
            "exported": "redis_memory_used_bytes",
            "value": metrics["redis_memory_used_bytes"],
        },
    )


def _memory_cap(context: CheckContext) -> Remedy:
    """A cap for the alert to divide by: the deployment's flag, or the setting when it promises none."""
    setting, env = context.settings.maxmemory, context.settings.env
    if setting.value:
        return add_flags(context.service, ("--maxmemory", setting.text), Consequence.AVAILABILITY, env)
    return set_setting(setting, "256mb", Consequence.AVAILABILITY, env)


@check("monitoring.memory_alert", safe=True)
def memory_alert_can_work(context: CheckContext) -> Outcome:
    """RedisHighMemoryUsage can fire, and is not firing"""
    setting = context.settings.maxmemory
    promise = (
        f"Promise: RedisHighMemoryUsage (redis_memory_used_bytes / redis_memory_max_bytes > "
        f"{MEMORY_ALERT_RATIO}) watches memory against maxmemory ({setting.cite()})."
    )
    try:
        metrics = read_metrics(context)
    except InfoUnavailable as unavailable:
        return error(f"{promise} Seen: {unavailable}", str(setting.source))
    used, limit = metrics["redis_memory_used_bytes"], metrics["redis_memory_max_bytes"]
    measured = {"used": used, "max": limit, "ratio": round(used / limit, 4) if limit else None}
    if limit == 0:
        return warning(
            f"{promise} Seen: maxmemory=0 (no limit), so the rule divides by zero: Prometheus computes "
            f"{used}/0 = +Inf, the alert fires as soon as it is loaded and says nothing about memory. "
            "Set REDIS_MAXMEMORY and make sure the deployment passes --maxmemory.",
            str(setting.source),
            measured,
            _memory_cap(context),
        )
    ratio = used / limit
    return verdict(
        ratio <= MEMORY_ALERT_RATIO,
        f"{promise} Seen: {used} / {limit} = {ratio:.1%}"
        + (" — the alert is firing" if ratio > MEMORY_ALERT_RATIO else ""),
        str(setting.source),
        measured,
    )


@check("monitoring.connections_alert", safe=True)
def connections_alert_can_work(context: CheckContext) -> Outcome:
    """RedisTooManyConnections can fire, and is not firing"""
    setting = context.settings.max_clients
    promise = (
        f"Promise: RedisTooManyConnections (redis_connected_clients > {CONNECTIONS_ALERT_THRESHOLD}) "
        f"warns before clients are refused ({setting.cite()})."
    )
    try:
        metrics = read_metrics(context)
        maxclients = info_number(info(context.client, "clients"), "maxclients")
    except Unreadable as unreadable:
        return error(f"{promise} Seen: {unreadable}", str(setting.source))
    except InfoUnavailable as unavailable:
        return error(f"{promise} Seen: {unavailable}", str(setting.source))
    except redis_errors.RedisError as redis_error:
        return error(f"{promise} Seen: INFO {explain(redis_error)}")
    connected = metrics["redis_connected_clients"]
    measured = {"connected_clients": connected, "maxclients": maxclients}
    if connected > CONNECTIONS_ALERT_THRESHOLD:
        return error(
            f"{promise} Seen: {connected} clients connected — the alert is firing (maxclients={maxclients})",
            str(setting.source),
            measured,
        )
    if maxclients <= CONNECTIONS_ALERT_THRESHOLD:
        return warning(
            f"{promise} Seen: maxclients={maxclients} is not above the alert's threshold "
            f"{CONNECTIONS_ALERT_THRESHOLD}: Redis refuses client {maxclients + 1} before the alert can "
            f"fire, so it never warns ({connected} connected now)",
            str(setting.source),
            measured,
        )
    return ok(
        f"{promise} Seen: {connected} connected, threshold {CONNECTIONS_ALERT_THRESHOLD} "
        f"below maxclients={maxclients}",
        str(setting.source),
        measured,
    )


def exporter_url_problems(password: str) -> list[str]:
    """Why ``redis://:<password>@redis:6379`` (unencoded, as nself writes it) misreads the password."""
    problems = sorted({repr(char) for char in password if char in URL_BREAKING})
    url = f"redis://:{password}@{EXPORTER_HOST}:{EXPORTER_PORT}"
    try:
        parts = urlsplit(url)
        parsed = (parts.password or "", parts.hostname, parts.port)
    except ValueError:
        parsed = None
    if parsed != (password, EXPORTER_HOST, EXPORTER_PORT) and not problems:
        problems.append("the URL does not parse back to the same password, host and port")
    return problems


@check("monitoring.exporter_url", safe=True)
def exporter_url_carries_the_password(context: CheckContext) -> Outcome:
    """redis_exporter's unencoded URL carries the password intact"""
    setting = context.settings.password
    promise = (
        "Promise: redis_exporter reaches Redis with redis://:${REDIS_PASSWORD}@redis:6379 (not "
        f"URL-encoded), so redis_up=1 and RedisDown stays quiet ({setting.cite()})."
    )
    problems = exporter_url_problems(setting.value.reveal())
    if problems:
        return warning(
            f"{promise} Seen: the password holds {', '.join(problems)}, which an unencoded URL cannot "
            "carry: the exporter authenticates wrongly or parses another host, redis_up=0 and RedisDown "
            "fires. Use a password of letters, digits, - and _ (or URL-encode it in the exporter's "
            "REDIS_ADDR).",
            str(setting.source),
            problems,
        )
    return ok(
        f"{promise} Seen: the password has no character a URL would misread",
        str(setting.source),
    )
