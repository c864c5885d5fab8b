"""The operations checks' pure parts: the advisory table's verdicts by engine and branch, ACL
rules read the way Redis applies them (servers without ACL DRYRUN), the engine named from INFO
(Valkey's reports redis_version 7.2.4 for clients), and what the host reader makes of the files
it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.checks.operations.advisories import ADVISORIES
from pytest_nself_redis.checks.operations.base import size
from pytest_nself_redis.checks.operations.security import allowed_by_rules
from pytest_nself_redis.live.engine import engine_of
from pytest_nself_redis.live.host import THP_FILE, ServerHost, local_server

LUA = ADVISORIES[0]


@pytest.mark.parametrize(
    ("engine", "version", "affected"),
    [
        ("Redis", (7, 2, 10), True),
        ("Redis", (7, 2, 11), False),
        ("Redis", (7, 4, 5), True),
        ("Redis", (7, 4, 6), False),
        ("Redis", (8, 2, 1), True),
        ("Redis", (8, 4, 0), False),  # a branch released after the fix
        ("Redis", (7, 0, 15), True),  # end of life: no fixed release
        ("Redis", (6, 2, 20), False),
        ("Valkey", (8, 1, 3), True),
        ("Valkey", (8, 1, 4), False),
        ("Valkey", (9, 0, 0), False),
    ],
)
def test_the_lua_advisory_by_branch(engine: str, version: tuple[int, ...], affected: bool) -> None:
    verdict = LUA.affects(engine, version)
    assert verdict is not None
    assert verdict[0] is affected, verdict[1]


def test_an_engine_the_table_does_not_know() -> None:
    assert LUA.affects("KeyDB", (6, 3, 4)) is None


def test_fixed_releases_are_listed_in_order() -> None:
    assert LUA.fixed_in("Redis") == "6.2.20, 7.2.11, 7.4.6, 8.0.4, 8.2.2"


CATEGORIES = {"dangerous": {"flushall", "flushdb", "config", "debug", "keys"}, "keyspace": {"keys", "del"}}


@pytest.mark.parametrize(
    ("rules", "command", "allowed"),
    [
        ("+@all", ("flushall", None), True),
        ("+@all -@dangerous", ("flushall", None), False),
        ("+@all -@dangerous +flushdb", ("flushdb", None), True),
        ("+@all -config|set", ("config", "set"), False),
        ("+@all -config|set", ("config", "get"), True),
        ("-@all +get +set", ("keys", None), False),
        ("-@all +@keyspace", ("keys", None), True),
        ("+@all -config", ("config", "set"), False),
    ],
)
def test_acl_rules_apply_in_order(rules: str, command: tuple[str, str | None], allowed: bool) -> None:
    assert allowed_by_rules(rules, command, lambda category: CATEGORIES.get(category, set())) is allowed


def test_valkey_is_named_by_its_own_version() -> None:
    engine = engine_of({"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.1"})
    assert engine is not None
    assert (engine.name, engine.version, engine.parsed) == ("Valkey", "8.1.1", (8, 1, 1))
    assert engine.describe() == "Valkey 8.1.1 (redis_version 7.2.4, for compatibility)"


def test_redis_is_named_by_redis_version() -> None:
    engine = engine_of({"redis_version": "7.0.15", "redis_mode": "standalone"})
    assert engine is not None
    assert engine.describe() == "Redis 7.0.15"
    assert engine_of({}) is None


def test_sizes_for_messages() -> None:
    assert [size(256 * 1024), size(32 * 1024**2), size(3 * 1024**3)] == ["256 KB", "32.0 MB", "3.00 GB"]


def _tree(tmp_path: Path, thp: str, limits: str) -> Path:
    (tmp_path / THP_FILE).parent.mkdir(parents=True)
    (tmp_path / THP_FILE).write_text(thp)
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "limits").write_text(limits)
    return tmp_path


def test_host_readings(tmp_path: Path) -> None:
    limits = "Limit  Soft Limit  Hard Limit  Units\nMax open files      unlimited   unlimited   files\n"
    root = _tree(tmp_path, "always [madvise] never\n", limits)
    host = ServerHost(42, proc=root, sys=root)
    assert host.transparent_hugepages().value == "madvise"
    assert host.open_files().value == "unlimited"
    missing = host.sysctl("vm.overcommit_memory")
    assert not missing.known
    assert "cannot be read" in missing.why_unknown


def test_a_thp_file_without_a_mode_is_unknown(tmp_path: Path) -> None:
    root = _tree(tmp_path, "always madvise never\n", "")
    reading = ServerHost(42, proc=root, sys=root).transparent_hugepages()
    assert not reading.known
    assert "no [mode]" in reading.why_unknown


def test_a_process_that_is_not_here(tmp_path: Path) -> None:
    found = local_server(999_999, 6379, proc=tmp_path, sys=tmp_path)
    assert found.pid is None
    assert "no redis-server or valkey-server process of this machine is that one" in found.why_no_pid
    assert "not known here" in found.open_files().why_unknown
