"""health: the server is up, primary, done loading, persisting, and has headroom."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from pytest_nself_redis.checks import expect
from pytest_nself_redis.project.settings import RedisSettings

pytestmark = pytest.mark.health

HEADROOM = 0.9
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


@pytest.fixture
def info(nself_redis: redis.Redis) -> dict[str, Any]:
    result: dict[str, Any] = nself_redis.info("everything")
    return result


def test_answers_ping(nself_redis: redis.Redis) -> None:
    expect(nself_redis.ping() is True, "Promise: the server answers PING. Seen: no PONG")


def test_is_a_primary(info: dict[str, Any]) -> None:
    expect(
        info["role"] == "master",
        (
            "Promise: nself runs one standalone Redis, so it must be a primary that accepts "
            f"writes. Seen: role={info['role']}"
            + (
                f" replicating from {info.get('master_host')}:{info.get('master_port')}"
                if info["role"] != "master"
                else ""
            )
        ),
    )


def test_has_finished_loading(info: dict[str, Any]) -> None:
    expect(
        int(info["loading"]) == 0,
        (
            "Promise: the dataset is loaded and the server serves requests. "
            f"Seen: loading={info['loading']} ({info.get('loading_loaded_perc', '?')}% loaded)"
        ),
    )


def test_last_rdb_save_succeeded(info: dict[str, Any]) -> None:
    expect(
        info["rdb_last_bgsave_status"] == "ok",
        (
            "Promise: snapshots can be written. Seen: rdb_last_bgsave_status="
            f"{info['rdb_last_bgsave_status']} (check free disk space and the data dir's owner)"
        ),
    )


def test_last_aof_write_succeeded(info: dict[str, Any], nself_settings: RedisSettings) -> None:
    if not int(info["aof_enabled"]):
        pytest.skip("AOF is off on the live server (the config suite checks whether it should be)")
    statuses = {name: info.get(name) for name in ("aof_last_write_status", "aof_last_bgrewrite_status")}
    expect(
        all(value == "ok" for value in statuses.values()),
        (
            "Promise: writes reach the append-only file, as "
            f"{nself_settings.aof_enabled.cite()} says. Seen: "
            + ", ".join(f"{name}={value}" for name, value in statuses.items())
        ),
    )


def test_clients_have_headroom(info: dict[str, Any], nself_settings: RedisSettings) -> None:
    connected, limit = int(info["connected_clients"]), int(info["maxclients"])
    expect(
        connected < HEADROOM * limit,
        (
            f"Promise: fewer than {HEADROOM:.0%} of maxclients are in use, so new clients can "
            f"connect ({nself_settings.max_clients.cite()}). Seen: {connected} of {limit} connected"
        ),
    )


def test_memory_has_headroom(info: dict[str, Any], nself_settings: RedisSettings) -> None:
    used, limit = int(info["used_memory"]), int(info["maxmemory"])
    if limit == 0:
        pytest.skip(
            "maxmemory is 0 (no limit), so there is no ratio to watch; "
            f"the config suite checks {nself_settings.maxmemory.cite()}"
        )
    expect(
        used < HEADROOM * limit,
        (
            f"Promise: memory stays under {HEADROOM:.0%} of maxmemory "
            f"({nself_settings.maxmemory.cite()}). Seen: used_memory={used} of maxmemory={limit} "
            f"({used / limit:.0%}); policy {info.get('maxmemory_policy')} is about to act"
        ),
    )


def test_monitoring_fields_are_reported(info: dict[str, Any]) -> None:
    missing = [name for name in MONITORING_FIELDS if name not in info]
    not_numbers = [name for name in MONITORING_FIELDS if name in info and not isinstance(info[name], int)]
    expect(
        not missing and not not_numbers,
        (
            "Promise: INFO reports every field the monitoring bundle's metrics come from. "
            f"Seen: missing {missing or 'none'}, not numeric {not_numbers or 'none'}"
        ),
    )
