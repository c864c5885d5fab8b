"""The pure parts of the backup mechanics: where a hot AOF copy may be cut, which of a tool's
lines are its verdict, the persistence readings over INFO, and archives that stay inside."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pytest_nself_redis.durability.persistence_health import persistence_findings
from pytest_nself_redis.durability.snapshot import complete_commands
from pytest_nself_redis.durability.validate import tool_words
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.project.envfile import EnvEntry
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import RedisSettings, settings_from_env
from pytest_nself_redis.targets.archive import pack, unpack

SET = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"


@pytest.mark.parametrize("cut", range(1, len(SET)))
def test_a_command_cut_anywhere_is_left_out(cut: int) -> None:
    data = SET * 3 + SET[:cut]
    assert complete_commands(data) == len(SET) * 3


def test_whole_commands_are_kept_and_garbage_is_left_for_the_validation() -> None:
    assert complete_commands(SET * 4) == len(SET) * 4
    assert complete_commands(b"") == 0
    garbage = SET + b"this is not RESP\r\n" + SET
    assert complete_commands(garbage) == len(garbage)
    bad_argument = SET + b"*2\r\n$3\r\nDEL\r\n:1\r\n" + SET
    assert complete_commands(bad_argument) == len(bad_argument)


RDB_FAILURE = """[offset 0] Checking RDB file dump.rdb
[offset 27] AUX FIELD redis-ver = '7.0.15'
[offset 82] Selecting DB ID 0
--- RDB ERROR DETECTED ---
[offset 12000] Unexpected EOF reading RDB file
[additional info] While doing: read-object-value
[additional info] Reading key 'k754'
[info] 1003 keys read
"""


def test_the_tools_words_are_its_error_lines() -> None:
    assert tool_words(RDB_FAILURE) == [
        "--- RDB ERROR DETECTED ---",
        "[offset 12000] Unexpected EOF reading RDB file",
        "[additional info] While doing: read-object-value",
        "[additional info] Reading key 'k754'",
    ]


def _settings(**values: str) -> RedisSettings:
    source = Source(Path("/p/.env.prod"), 1)
    return settings_from_env("prod", {key: EnvEntry(key, value, source) for key, value in values.items()})


HEALTHY: dict[str, Any] = {
    "rdb_last_bgsave_status": "ok",
    "aof_enabled": 1,
    "aof_last_write_status": "ok",
    "aof_last_bgrewrite_status": "ok",
    "aof_rewrites_consecutive_failures": 0,
    "rdb_last_save_time": 1_000_000,
    "rdb_changes_since_last_save": 5,
    "rdb_last_bgsave_time_sec": 0,
    "rdb_bgsave_in_progress": 0,
    "aof_delayed_fsync": 0,
    "latest_fork_usec": 300,
    "used_memory": 2 * 1024**2,
}


def _levels(info: dict[str, Any], now: float, **settings: str) -> dict[str, str]:
    return {item.name: item.level for item in persistence_findings(info, _settings(**settings), now)}


def test_a_healthy_server_reads_ok_everywhere() -> None:
    assert set(_levels(HEALTHY, 1_000_100, REDIS_RDB_FREQUENCY="300").values()) == {"ok"}


@pytest.mark.parametrize(
    ("changes", "reading", "name", "level"),
    [
        ({"rdb_last_bgsave_status": "err"}, None, "rdb_last_bgsave_status", "error"),
        ({"aof_last_write_status": "err"}, None, "aof_last_write_status", "error"),
        ({"aof_last_bgrewrite_status": "err"}, None, "aof_last_bgrewrite_status", "warning"),
        ({}, 1_000_000 + 300 + 11, "rdb_last_save_time", "warning"),
        ({}, 1_000_000 + 86_401, "rdb_last_save_time", "error"),
        ({"rdb_changes_since_last_save": 0}, 1_000_000 + 86_401, "rdb_last_save_time", "ok"),
        ({"rdb_bgsave_in_progress": 1}, 1_000_000 + 400, "rdb_last_save_time", "ok"),
        ({"aof_delayed_fsync": 3}, None, "aof_delayed_fsync", "warning"),
        ({"latest_fork_usec": 80_000}, None, "latest_fork_usec", "warning"),
        ({"latest_fork_usec": 80_000, "used_memory": 8 * 1024**3}, None, "latest_fork_usec", "ok"),
    ],
)
def test_each_reading_turns_on_what_it_reads(
    changes: dict[str, Any], reading: float | None, name: str, level: str
) -> None:
    info = {**HEALTHY, **changes}
    assert _levels(info, reading or 1_000_100, REDIS_RDB_FREQUENCY="300")[name] == level


def test_the_save_age_cites_the_schedule_and_skips_without_rdb() -> None:
    settings = _settings(REDIS_RDB_FREQUENCY="300")
    age = next(
        item
        for item in persistence_findings(HEALTHY, settings, 1_000_000 + 400)
        if item.name == "rdb_last_save_time"
    )
    assert "REDIS_RDB_FREQUENCY=300 (.env.prod:1)" in age.message
    assert "last successful save 400 s ago, 5 changes since" in age.message
    assert age.measured == {"last_save_age_s": 400, "rdb_changes_since_last_save": 5}
    off = _levels(HEALTHY, 1_000_000 + 90_000, REDIS_RDB_ENABLED="false")
    assert off["rdb_last_save_time"] == "skipped"


def test_aof_readings_are_left_out_when_aof_is_off_and_missing_fields_are_skipped() -> None:
    levels = _levels({**HEALTHY, "aof_enabled": 0, "aof_last_write_status": "err"}, 1_000_100)
    assert "aof_last_write_status" not in levels
    assert "aof_delayed_fsync" not in levels
    assert _levels({}, 1_000_100)["rdb_last_bgsave_status"] == "skipped"


def test_an_archive_keeps_owner_and_modes_and_cannot_write_outside(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "appendonlydir").mkdir(parents=True)
    (source / "appendonlydir" / "a.aof").write_bytes(b"data")
    (source / "dump.rdb").write_bytes(b"rdb")
    (source / "dump.rdb").chmod(0o600)
    data = pack(source, (999, 998))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        owners = {(member.name, member.uid, member.gid) for member in tar.getmembers()}
    assert owners == {("appendonlydir", 999, 998), ("appendonlydir/a.aof", 999, 998), ("dump.rdb", 999, 998)}
    top = unpack([data], tmp_path / "out")
    assert sorted(path.name for path in top) == ["appendonlydir", "dump.rdb"]
    assert (tmp_path / "out" / "dump.rdb").stat().st_mode & 0o777 == 0o600
    hostile = io.BytesIO()
    with tarfile.open(fileobj=hostile, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("../escaped"), io.BytesIO(b""))
    with pytest.raises(TargetError, match="points outside"):
        unpack([hostile.getvalue()], tmp_path / "out")
    assert not (tmp_path / "escaped").exists()
