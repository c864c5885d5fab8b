"""Sizes as Redis reads them; settings with their defaults, sources and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.envfile import EnvEntry
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import EVICTION_POLICIES, settings_from_env
from pytest_nself_redis.project.sizes import parse_redis_size


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("100", 100),
        ("1k", 1000),
        ("1kb", 1024),
        ("1K", 1000),
        ("1KB", 1024),
        ("2m", 2_000_000),
        ("2mb", 2 * 1024**2),
        ("256MB", 256 * 1024**2),
        ("1g", 10**9),
        ("1gb", 1024**3),
        ("1Gb", 1024**3),
        ("5b", 5),
        ("007mb", 7 * 1024**2),
    ],
)
def test_sizes_parse_as_redis_parses_them(text: str, value: int) -> None:
    assert parse_redis_size(text) == value


@pytest.mark.parametrize("text", ["", "mb", "1.5gb", "-1", "1 mb", "1tb", "1kib", "١٢", "99999999999gb"])
def test_what_redis_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_redis_size(text)


def entries(**values: str) -> dict[str, EnvEntry]:
    path = Path("/p/.env.staging")
    return {
        key: EnvEntry(key, value, Source(path, line))
        for line, (key, value) in enumerate(values.items(), start=1)
    }


def test_documented_defaults() -> None:
    settings = settings_from_env("dev", {})
    assert settings.enabled.value is False
    assert settings.version.value == "7-alpine"
    assert settings.port.value == 6379
    assert settings.password.value.reveal() == ""
    assert settings.maxmemory.value == 256 * 1024**2
    assert settings.maxmemory_policy.value == "allkeys-lru"
    assert (settings.persistence.value, settings.aof_enabled.value, settings.rdb_enabled.value) == (
        True,
        True,
        True,
    )
    assert settings.rdb_frequency.value == 900
    assert settings.max_clients.value == 10000
    assert settings.timeout.value == 300
    assert settings.tcp_keepalive.value == 60
    assert settings.log_level.value == "notice"
    assert settings.tls_enabled.value is False
    assert str(settings.maxmemory.source) == "documented default"
    assert (
        settings.rate_limit_enabled.value,
        settings.rate_limit_window.value,
        settings.rate_limit_max_requests.value,
        settings.rate_limit_store.value,
    ) == (True, 60, 100, "redis")


@pytest.mark.parametrize("policy", EVICTION_POLICIES)
def test_all_eight_policies_are_valid(policy: str) -> None:
    assert (
        settings_from_env("dev", entries(REDIS_MAXMEMORY_POLICY=policy.upper())).maxmemory_policy.value
        == policy
    )


def test_values_remember_where_they_came_from() -> None:
    settings = settings_from_env("staging", entries(REDIS_ENABLED="yes", REDIS_MAXMEMORY="1gb"))
    assert settings.maxmemory.cite() == "REDIS_MAXMEMORY=1gb (.env.staging:2)"
    assert settings.enabled.value is True


def test_the_password_never_shows() -> None:
    settings = settings_from_env("dev", entries(REDIS_PASSWORD="hunter2-secret-value"))
    assert "hunter2" not in settings.password.cite()
    assert "hunter2" not in repr(settings)
    assert settings.password.value.reveal() == "hunter2-secret-value"


def test_invalid_values_name_key_source_and_choices() -> None:
    with pytest.raises(ProjectError) as caught:
        settings_from_env(
            "staging",
            entries(
                REDIS_MAXMEMORY_POLICY="lru",
                REDIS_PORT="70000",
                REDIS_MAXMEMORY="lots",
                REDIS_AOF_ENABLED="maybe",
            ),
        )
    message = str(caught.value)
    assert "REDIS_MAXMEMORY_POLICY=lru (.env.staging:1): valid choices: noeviction, allkeys-lru" in message
    assert "REDIS_PORT=70000 (.env.staging:2): expected a whole number >= 0 and <= 65535" in message
    assert "REDIS_MAXMEMORY=lots (.env.staging:3): expected a whole number of bytes" in message
    assert "REDIS_AOF_ENABLED=maybe (.env.staging:4): expected true or false" in message


def test_sentinel_settings_are_the_harnesss_own_with_its_defaults() -> None:
    """nself has no Sentinel keys: their defaults are the harness's, and cited as such."""
    settings = settings_from_env("prod", {})
    assert (
        settings.sentinel_enabled.value,
        settings.sentinel_master_name.value,
        settings.sentinel_quorum.value,
        settings.sentinel_count.value,
        settings.replicas.value,
        settings.sentinel_down_after_ms.value,
        settings.sentinel_failover_budget_ms.value,
    ) == (False, "mymaster", 2, 3, 1, 5000, 15000)
    assert settings.sentinel_quorum.cite() == "REDIS_SENTINEL_QUORUM=2 (harness default)"
    assert settings.replicas.cite() == "REDIS_REPLICAS=1 (harness default)"


def test_sentinel_settings_are_validated() -> None:
    with pytest.raises(ProjectError) as caught:
        settings_from_env(
            "prod",
            entries(
                REDIS_SENTINEL_MASTER_NAME="my master",
                REDIS_SENTINEL_QUORUM="0",
                REDIS_SENTINEL_COUNT="12",
                REDIS_SENTINEL_DOWN_AFTER_MS="fast",
            ),
        )
    message = str(caught.value)
    assert "REDIS_SENTINEL_MASTER_NAME=my master (.env.staging:1): expected a name of 1 to 64" in message
    assert "REDIS_SENTINEL_QUORUM=0 (.env.staging:2): expected a whole number >= 1" in message
    assert "REDIS_SENTINEL_COUNT=12 (.env.staging:3): expected a whole number >= 1 and <= 9" in message
    assert "REDIS_SENTINEL_DOWN_AFTER_MS=fast (.env.staging:4): expected a whole number >= 100" in message


def test_a_quorum_above_the_sentinels_is_not_a_parse_error() -> None:
    """It is a deployment that cannot fail over: the sentinel suite reports it, with its source."""
    settings = settings_from_env("prod", entries(REDIS_SENTINEL_QUORUM="4", REDIS_SENTINEL_COUNT="3"))
    assert (settings.sentinel_quorum.value, settings.sentinel_count.value) == (4, 3)
