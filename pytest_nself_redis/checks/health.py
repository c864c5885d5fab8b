"""health: the server is up, primary, done loading, accepts writes, persists, and has headroom.

These checks name the causes other checks only suffer: a refused write (MISCONF after a
failed save, READONLY on a replica, NOREPLICAS, OOM) is reported once, here, and the
other checks that quote it are marked blocked by it (``refusals``)."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.refusals import refusal_in
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, refused, skipped, verdict, warning
from pytest_nself_redis.live import reads
from pytest_nself_redis.live.expiring import SCRATCH_TTL_SECONDS
from pytest_nself_redis.live.reads import Unreadable, config_get, info_field, info_number
from pytest_nself_redis.live.refusals import explain, is_refused
from pytest_nself_redis.remedy import Consequence, set_setting
from pytest_nself_redis.targets.health import HEALTHY, UNHEALTHY, one_line

HEADROOM = 0.9
# The INFO fields behind the monitoring bundle's metrics (docs/suites/monitoring.md).
MONITORING_FIELDS = (
    "connected_clients",
    "used_memory",
    "total_commands_processed",
    "keyspace_hits",
    "keyspace_misses",
    "expired_keys",
    "evicted_keys",
    "connected_slaves",
    "maxmemory",
)


def _info(context: CheckContext) -> dict[str, Any]:
    return reads.info(context.client, "everything")


@check("health.ping", safe=True)
def answers_ping(context: CheckContext) -> Outcome:
    """the server answers PING"""
    try:
        answered = context.client.ping()
    except redis_errors.BusyLoadingError:
        return error(
            "Promise: the server answers PING. Seen: LOADING (still loading its dataset, refusing commands)",
        )
    except redis_errors.ResponseError as refused:
        return error(f"Promise: the server answers PING. Seen: {refused}")
    return verdict(
        answered is True,
        "Promise: the server answers PING. Seen: " + ("PONG" if answered is True else repr(answered)),
    )


@check("health.primary", safe=True)
def is_a_primary(context: CheckContext) -> Outcome:
    """the server is a primary"""
    promise = "Promise: nself runs one standalone Redis, so it must be a primary that accepts writes."
    info = _info(context)
    try:
        role = str(info_field(info, "role"))
    except Unreadable as problem:
        return error(f"{promise} Seen: {problem}")
    seen = f"role={role}"
    if role != "master":
        seen += f" replicating from {info.get('master_host')}:{info.get('master_port')}"
    return verdict(
        role == "master",
        f"{promise} Seen: {seen}",
        measured=role,
    )


@check("health.loading", safe=True)
def has_finished_loading(context: CheckContext) -> Outcome:
    """the dataset is loaded"""
    promise = "Promise: the dataset is loaded and the server serves requests."
    info = _info(context)
    try:
        loading = info_number(info, "loading")
    except Unreadable as problem:
        return error(f"{promise} Seen: {problem}")
    seen = f"loading={loading}"
    if loading:
        seen += f" ({info.get('loading_loaded_perc', '?')}% loaded)"
    return verdict(
        loading == 0,
        f"{promise} Seen: {seen}",
        measured=loading,
    )


@check("health.writes", safe=True)
def accepts_writes(context: CheckContext) -> Outcome:
    """a write is accepted, read back and deleted"""
    promise = (
        "Promise: the server accepts writes (a key SET with a TTL under the harness's prefix, read "
        "back, deleted)."
    )
    key = f"{context.key_prefix('writes')}probe"
    value = secrets.token_hex(8)
    try:
        written = context.client.set(key, value, ex=SCRATCH_TTL_SECONDS)
        read = context.client.get(key)
        deleted = context.client.delete(key)
    except redis_errors.RedisError as problem:
        if is_refused(problem):
            return refused(f"{promise} Seen: SET {explain(problem)}")
        return error(f"{promise} Seen: SET refused: {_refusal_text(context, problem)}")
    finally:
        with contextlib.suppress(redis_errors.RedisError):
            context.client.delete(key)
    return verdict(
        written is True and read == value and deleted == 1,
        f"{promise} Seen: SET {'OK' if written is True else repr(written)}, GET "
        f"{'the same value' if read == value else repr(read)}, DEL {deleted}",
    )


def _refusal_text(context: CheckContext, problem: Exception) -> str:
    """The refusal in Redis's words (with its code, which redis-py drops for some), what it
    means and what to change."""
    text = str(problem)
    known = refusal_in(text)
    if known is None:
        return text
    if not text.startswith(known.code):
        text = f"{known.code} {text}"
    live = ""
    if known.code == "NOREPLICAS":
        names = ("min-replicas-max-lag", "min-replicas-to-write")
        seen = [
            f"{name}={value}" for name in names if (value := config_get(context.client, name)) is not None
        ]
        live = f"; live {', '.join(seen)}" if seen else ""
    return f"{text} ({known.remedy}{live})"


@check("health.rdb_status", safe=True)
def last_rdb_save_succeeded(context: CheckContext) -> Outcome:
    """the last RDB snapshot succeeded"""
    try:
        status = str(info_field(_info(context), "rdb_last_bgsave_status"))
    except Unreadable as problem:
        return error(f"Promise: snapshots can be written. Seen: {problem}")
    return verdict(
        status == "ok",
        f"Promise: snapshots can be written. Seen: rdb_last_bgsave_status={status}"
        + ("" if status == "ok" else " (check free disk space and the data dir's owner)"),
        measured=status,
    )


@check("health.aof_status", safe=True)
def last_aof_write_succeeded(context: CheckContext) -> Outcome:
    """writes reach the append-only file"""
    info = _info(context)
    setting = context.settings.aof_enabled
    try:
        enabled = info_number(info, "aof_enabled")
    except Unreadable as problem:
        return error(
            f"Promise: writes reach the append-only file, as {setting.cite()} says. Seen: {problem}",
            str(setting.source),
        )
    if not enabled:
        return skipped(
            "AOF is off on the live server (the config suite checks whether it should be)",
            str(setting.source),
        )
    statuses = {name: info.get(name) for name in ("aof_last_write_status", "aof_last_bgrewrite_status")}
    return verdict(
        all(value == "ok" for value in statuses.values()),
        f"Promise: writes reach the append-only file, as {setting.cite()} says. Seen: "
        + ", ".join(f"{name}={value}" for name, value in statuses.items()),
        str(setting.source),
        statuses,
    )


@check("health.clients", safe=True)
def clients_have_headroom(context: CheckContext) -> Outcome:
    """fewer than 90% of maxclients are connected"""
    setting = context.settings.max_clients
    promise = f"Promise: fewer than {HEADROOM:.0%} of maxclients are in use ({setting.cite()})."
    read = _usage(context, ("connected_clients", "maxclients"), promise, str(setting.source))
    if isinstance(read, Outcome):
        return read
    _, connected, limit = read
    return verdict(
        connected < HEADROOM * limit,
        f"Promise: fewer than {HEADROOM:.0%} of maxclients are in use, so new clients "
        f"can connect ({setting.cite()}). Seen: {connected} of {limit} connected",
        str(setting.source),
        {"connected_clients": connected, "maxclients": limit},
        set_setting(setting, str(_room_for(connected)), Consequence.AVAILABILITY, context.settings.env),
    )


def _room_for(used: float) -> int:
    """The limit under which ``used`` is 70 %: headroom below the 90 % line again."""
    return int(used / 0.7) + 1


def _usage(
    context: CheckContext, fields: tuple[str, str], promise: str, source: str
) -> tuple[dict[str, Any], float, float] | Outcome:
    """INFO, and its use and limit ``fields``; when INFO lacks one, the error stating ``promise``."""
    info = _info(context)
    used, limit = fields
    try:
        return info, info_number(info, used), info_number(info, limit)
    except Unreadable as problem:
        return error(f"{promise} Seen: {problem}", source)


@check("health.memory", safe=True)
def memory_has_headroom(context: CheckContext) -> Outcome:
    """memory stays under 90% of maxmemory"""
    setting = context.settings.maxmemory
    promise = f"Promise: memory stays under {HEADROOM:.0%} of maxmemory ({setting.cite()})."
    read = _usage(context, ("used_memory", "maxmemory"), promise, str(setting.source))
    if isinstance(read, Outcome):
        return read
    info, used, limit = read
    if limit == 0:
        return skipped(
            "maxmemory is 0 (no limit), so there is no ratio to "
            f"watch; the config suite checks {setting.cite()}",
            str(setting.source),
        )
    kept = used < HEADROOM * limit
    policy = info.get("maxmemory_policy")
    then = f"policy {policy} is about to act" if not kept else f"policy {policy} acts at 100%"
    return verdict(
        kept,
        f"{promise} Seen: used_memory={used} of maxmemory={limit} ({used / limit:.0%}); {then}",
        str(setting.source),
        {"used_memory": used, "maxmemory": limit},
        set_setting(
            setting, f"{_room_for(used) // 1024**2 + 1}mb", Consequence.AVAILABILITY, context.settings.env
        ),
    )


@check("health.monitoring_fields", safe=True)
def monitoring_fields_are_reported(context: CheckContext) -> Outcome:
    """INFO reports the fields behind the monitoring metrics"""
    info = _info(context)
    missing = [name for name in MONITORING_FIELDS if name not in info]
    not_numbers = [name for name in MONITORING_FIELDS if name in info and not isinstance(info[name], int)]
    message = (
        "Promise: INFO reports every field the monitoring bundle's metrics come from. "
        f"Seen: missing {missing or 'none'}, not numeric {not_numbers or 'none'}"
    )
    if missing or not_numbers:
        return error(message, measured=missing + not_numbers)
    return ok(message)


@check("health.container", safe=True)
def container_healthcheck_passes(context: CheckContext) -> Outcome:
    """the container's healthcheck passes"""
    service = context.service
    healthcheck = service.runtime.healthcheck
    if healthcheck is None or healthcheck.disabled or not healthcheck.test:
        return skipped(f"{service.describe()} has no healthcheck of its own", str(service.source))
    where = str(healthcheck.test_source or healthcheck.source)
    seen = context.container_health() if context.container_health is not None else None
    if seen is None:
        return skipped(
            f"the {context.kind or 'this'} target runs no container, so the healthcheck ({where}) does "
            "not run here; --nself-target docker runs it",
            where,
        )
    head = (
        f"Promise: the container's healthcheck ({seen.probe}; {where}) passes, so compose's "
        "`depends_on: condition: service_healthy` and orchestrators see a Redis that answers."
    )
    measured = {"status": seen.status, "exit_code": seen.exit_code, "by": seen.by}
    failing = seen.status == UNHEALTHY or (seen.exit_code is not None and seen.exit_code != 0)
    said = one_line(seen.output) or "no output"
    if failing:
        return error(
            f"{head} Broken: the probe ({'run by Docker' if seen.by == 'docker' else 'run once at launch'}) "
            f"exits {seen.exit_code} and says: {said}; compose marks the container unhealthy and "
            "services waiting for it never start",
            where,
            measured,
        )
    if seen.healthy_without_pong:
        return warning(
            f"{head} Seen: healthy by its exit status only: the probe printed: {said}; not PONG "
            "(redis-cli exits 0 on an error reply), so a server that refuses it still counts as "
            "healthy. Give redis-cli -e, or end the test with `| grep -q PONG`",
            where,
            measured,
        )
    if seen.status != HEALTHY:
        return warning(f"{head} Seen: {seen.describe()}", where, measured)
    return ok(f"{head} Kept: {seen.describe()}", where, measured)
