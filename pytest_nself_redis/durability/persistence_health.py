"""Is the server's persistence healthy right now? Read from INFO alone (safe anywhere).

A pure function over INFO (the persistence, memory and server sections, merged as
``INFO everything`` gives them) and the env's settings, returning one finding per reading:

- ``rdb_last_bgsave_status``: ``err`` means the dump on disk is stale, and where save points
  are set (``stop-writes-on-bgsave-error yes``, the default) writes are refused with MISCONF;
- ``aof_last_write_status`` (AOF on): ``err`` means writes are refused with MISCONF;
- ``aof_last_bgrewrite_status`` (AOF on): ``err`` means the AOF keeps growing until a rewrite
  succeeds (Redis retries; writes go on), so a warning;
- the age of the last successful save (``rdb_last_save_time``) while changes wait
  (``rdb_changes_since_last_save``), against the env's schedule (``save <REDIS_RDB_FREQUENCY> 1``
  plus a grace of ``SAVE_GRACE_S`` and the last save's own duration) and an absolute 24 h;
- ``aof_delayed_fsync``: fsyncs the disk could not keep up with under ``everysec``;
- ``latest_fork_usec`` against about 20 ms per GB of used memory (never less than
  ``FORK_FLOOR_MS``): a slow fork stalls every client for that long.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_nself_redis.project.settings import RedisSettings

DAY_S = 86_400
SAVE_GRACE_S = 10
FORK_MS_PER_GB = 20.0
FORK_FLOOR_MS = 50.0
GB = 1024**3
OK, WARNING, ERROR, SKIPPED = "ok", "warning", "error", "skipped"


@dataclass(frozen=True)
class Finding:
    """One reading: ``level`` is ok, warning, error or skipped (cannot be judged here)."""

    name: str
    level: str
    message: str
    source: str | None = None
    measured: dict[str, Any] = field(default_factory=dict)


def _number(info: Mapping[str, Any], name: str) -> float | None:
    value = info.get(name)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _status(info: Mapping[str, Any], name: str, promise: str, bad_level: str, consequence: str) -> Finding:
    value = info.get(name)
    if value is None:
        return Finding(name, SKIPPED, f"Promise: {promise}. Seen: INFO has no {name}")
    level = OK if str(value) == "ok" else bad_level
    seen = f"{name}={value}" + ("" if level == OK else f": {consequence}")
    return Finding(name, level, f"Promise: {promise}. Seen: {seen}", measured={name: str(value)})


def _statuses(info: Mapping[str, Any], settings: RedisSettings, aof_on: bool) -> list[Finding]:
    findings = [
        _status(
            info,
            "rdb_last_bgsave_status",
            "background saves succeed",
            ERROR if settings.rdb_on else WARNING,
            "the last save failed, so the dump on disk is older than the data"
            + (" and writes are refused (MISCONF)" if settings.rdb_on else ""),
        )
    ]
    if aof_on:
        findings.append(
            _status(
                info,
                "aof_last_write_status",
                "writes reach the append-only file",
                ERROR,
                "the last AOF write failed and writes are refused (MISCONF)",
            )
        )
        findings.append(
            _status(
                info,
                "aof_last_bgrewrite_status",
                "AOF rewrites succeed",
                WARNING,
                f"the last rewrite failed ({info.get('aof_rewrites_consecutive_failures', '?')} in a row); "
                "the AOF grows until one succeeds",
            )
        )
    return findings


def _save_age(info: Mapping[str, Any], settings: RedisSettings, now: float) -> Finding:
    name = "rdb_last_save_time"
    frequency = settings.rdb_frequency
    if not settings.rdb_on:
        cited = settings.persistence if not settings.persistence.value else settings.rdb_enabled
        return Finding(name, SKIPPED, f"RDB snapshots are not promised ({cited.cite()})", str(cited.source))
    last, changes = _number(info, name), _number(info, "rdb_changes_since_last_save")
    promise = (
        f"a save at least every {frequency.value} s while changes wait ({frequency.cite()}), and one a day"
    )
    if last is None or changes is None:
        return Finding(name, SKIPPED, f"Promise: {promise}. Seen: INFO has no {name} or changes count")
    age = max(0, int(now - last))
    measured = {"last_save_age_s": age, "rdb_changes_since_last_save": int(changes)}
    seen = f"last successful save {age} s ago, {int(changes)} changes since"
    grace = SAVE_GRACE_S + max(0.0, _number(info, "rdb_last_bgsave_time_sec") or 0.0)
    if changes and age > DAY_S:
        level, seen = ERROR, f"{seen}: no save in more than 24 h"
    elif changes and age > frequency.value + grace and not _number(info, "rdb_bgsave_in_progress"):
        level, seen = WARNING, f"{seen}: the schedule is behind (grace {grace:.0f} s)"
    else:
        level = OK
    return Finding(name, level, f"Promise: {promise}. Seen: {seen}", str(frequency.source), measured)


def _delayed_fsync(info: Mapping[str, Any], settings: RedisSettings) -> Finding:
    name = "aof_delayed_fsync"
    delayed = _number(info, name)
    promise = f"the disk keeps up with appendfsync ({settings.aof_fsync.cite()})"
    if delayed is None:
        return Finding(name, SKIPPED, f"Promise: {promise}. Seen: INFO has no {name}")
    level = WARNING if delayed else OK
    seen = f"{name}={int(delayed)}" + (
        ": fsyncs waited more than 2 s for the disk, so up to that much acknowledged data was at risk"
        if delayed
        else ""
    )
    return Finding(
        name, level, f"Promise: {promise}. Seen: {seen}", str(settings.aof_fsync.source), {name: int(delayed)}
    )


def _fork_time(info: Mapping[str, Any]) -> Finding:
    name = "latest_fork_usec"
    fork_us, used = _number(info, name), _number(info, "used_memory")
    if fork_us is None:
        return Finding(name, SKIPPED, f"INFO has no {name}")
    fork_ms = fork_us / 1000
    limit_ms = max(FORK_FLOOR_MS, FORK_MS_PER_GB * (used or 0) / GB)
    measured = {
        "latest_fork_ms": round(fork_ms, 3),
        "limit_ms": round(limit_ms, 1),
        "used_memory": int(used or 0),
    }
    promise = (
        f"a fork (BGSAVE, AOF rewrite) stalls clients under {limit_ms:.0f} ms "
        f"(about {FORK_MS_PER_GB:.0f} ms per GB)"
    )
    if not fork_us:
        return Finding(name, OK, f"Promise: {promise}. Seen: no fork yet", measured=measured)
    level = WARNING if fork_ms > limit_ms else OK
    return Finding(
        name, level, f"Promise: {promise}. Seen: the last fork took {fork_ms:.1f} ms", measured=measured
    )


def persistence_findings(
    info: Mapping[str, Any], settings: RedisSettings, now: float | None = None
) -> list[Finding]:
    """Every reading, in a fixed order. ``now`` (unix seconds) defaults to the server's own
    clock (``server_time_usec``), else this machine's."""
    server_now = _number(info, "server_time_usec")
    clock = now if now is not None else (server_now / 1e6 if server_now else time.time())
    aof_on = str(info.get("aof_enabled", "0")) == "1"
    findings = _statuses(info, settings, aof_on)
    findings.append(_save_age(info, settings, clock))
    if aof_on:
        findings.append(_delayed_fsync(info, settings))
    findings.append(_fork_time(info))
    return findings
