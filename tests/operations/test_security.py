"""Security posture: the engine named, what the default user could wipe (judged by ACL DRYRUN,
never run), known flaws of the version as a warning that says distributions backport fixes,
and what a user that may not look gets: unknown, never failed."""

from __future__ import annotations

import redis

from pytest_nself_redis.checks import Status
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE
from tests.operations.conftest import operations_ids, run

LOCKED_DOWN = ["-flushall", "-flushdb", "-config|set", "-debug", "-keys"]


def test_the_engine_is_named(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    result = run(target, "operations.engine")
    version = target.client().info("server")["redis_version"]
    assert result.status is Status.OK, result.message
    assert result.measured == {"engine": "Redis", "version": version, "redis_version": version}
    assert f"Seen: Redis {version}" in result.message


def test_the_default_user_of_an_nself_server_can_wipe_it(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    before = target.client().dbsize()
    target.client().set("order:1", "kept")
    result = run(target, "operations.dangerous_commands")
    assert result.status is Status.WARNING, result.message
    assert result.measured["FLUSHALL"] == "allowed"
    assert result.measured["KEYS"] == "allowed"
    assert result.measured["CONFIG SET"] == "allowed"
    assert result.measured["DEBUG"] == "refused by enable-debug-command no"
    assert "REDIS_PASSWORD=******** (.env.secrets:" in result.message
    assert "ACL SETUSER default -flushall -flushdb -config|set -debug -keys" in result.message
    # Judged, never run: the key is still there.
    assert target.client().dbsize() == before + 1


def test_a_default_user_without_them_passes(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    target.client().acl_setuser("default", enabled=True, commands=LOCKED_DOWN)
    result = run(target, "operations.dangerous_commands")
    assert result.status is Status.OK, result.message
    assert all(fate.startswith("denied") for fate in result.measured.values()), result.measured
    assert "Kept: FLUSHALL: denied" in result.message


def test_debug_allowed_by_the_server_switch_is_reported(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod", extra_args=("--enable-debug-command", "local"))
    target.client().acl_setuser("default", enabled=True, commands=[r for r in LOCKED_DOWN if r != "-debug"])
    result = run(target, "operations.dangerous_commands")
    assert result.status is Status.WARNING, result.message
    assert result.measured["DEBUG"].startswith("allowed (enable-debug-command local")
    assert "can run DEBUG" in result.message


def test_no_password_promised_is_auths_finding(launch: Launcher) -> None:
    target = launch(COMPLETE, "dev", REDIS_PASSWORD="")
    result = run(target, "operations.dangerous_commands")
    assert result.status is Status.SKIPPED
    assert "auth.password_set reports that" in result.message


def test_a_version_with_a_known_flaw_is_a_warning_that_names_backports(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    result = run(target, "operations.known_cves")
    # This machine's redis-server is 7.0.x: a branch with no fixed release.
    assert result.status is Status.WARNING, result.message
    assert "CVE-2025-49844" in result.message
    assert "no release of the 7.0 branch is known to carry the fix" in result.message
    assert "distributions (Debian, Ubuntu, Alpine, Red Hat) backport security fixes" in result.message


def _blind_user(target: Target) -> redis.Redis:
    """A user that may only PING and read keys: no INFO, CONFIG, ACL, CLIENT, LATENCY, SCAN."""
    target.client().acl_setuser(
        "blind",
        enabled=True,
        passwords=["+blind-pw-4b1c9e"],
        commands=["-@all", "+ping", "+hello", "+auth", "+get", "+select"],
        keys=["*"],
    )
    return target.client(username="blind", password="blind-pw-4b1c9e")


def test_a_user_that_may_not_look_gets_unknown_never_failed(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    blind = _blind_user(target)
    results = [run(target, check_id, blind) for check_id in operations_ids()]
    failed = [f"{result.id}: {result.message}" for result in results if result.status is Status.ERROR]
    assert not failed, failed
    unknown = [result for result in results if result.status is Status.SKIPPED]
    assert len(unknown) >= len(results) - 2, [(r.id, r.status, r.message) for r in results]
    assert all(result.message.startswith(("unknown: ", "a note")) for result in unknown), [
        result.message for result in unknown
    ]
    engine = next(result for result in results if result.id == "operations.engine")
    assert "unknown: INFO server" in engine.message


def test_a_server_with_config_renamed_away_gets_unknown_never_failed(launch: Launcher) -> None:
    # Managed services rename or block CONFIG; BullMQ and Sidekiq break on that, these checks do not.
    target = launch(COMPLETE, "prod", extra_args=("--rename-command", "CONFIG", ""))
    results = {check_id: run(target, check_id) for check_id in operations_ids()}
    failed = [
        f"{result.id}: {result.message}" for result in results.values() if result.status is Status.ERROR
    ]
    assert not failed, failed
    for check_id in ("operations.somaxconn", "operations.latency_events"):
        assert results[check_id].status is Status.SKIPPED, results[check_id].message
        assert results[check_id].message.startswith("unknown: "), results[check_id].message
        assert "refused or renamed" in results[check_id].message
    # What INFO tells needs no CONFIG.
    assert results["operations.maxclients"].status is Status.OK, results["operations.maxclients"].message
