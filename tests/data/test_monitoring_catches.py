"""The monitoring suite fails where the metrics cannot be derived or do not move, fails when
an alert would fire, and warns where the bundle's rules cannot work; each names the cause."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Launcher
from tests.data.conftest import add_user, attach_args, attach_url, reports_text
from tests.data.proxy import InfoRewritingProxy, chain, drop_field, set_field
from tests.harness import COMPLETE, STAGING_APPENDED, make_project, run_suites

READS_INFO = {
    "test_every_metric_is_derived",
    "test_hits_and_misses_follow_reads",
    "test_commands_processed_grows",
    "test_expired_keys_grows",
    "test_documented_metric_names_exist",
    "test_memory_alert_can_work",
    "test_connections_alert_can_work",
}


def failed_tests(outcomes: dict[str, str]) -> set[str]:
    return {name for name, outcome in outcomes.items() if outcome == "failed"}


def test_info_denied_fails_every_metric(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    add_user(target, "app", "app-Pw-9c8b7a", "-info")
    url = attach_url(target, "app", "app-Pw-9c8b7a")
    result = run_suites(COMPLETE, tmp_path, *attach_args(url, "staging", "monitoring"))
    assert failed_tests(result.outcomes("staging")) == READS_INFO, result.output[-3000:]
    for name in READS_INFO:
        assert "no permissions to run the 'info' command" in result.case(name).details, name


def test_missing_info_fields_are_named(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    rewrite = chain(drop_field("keyspace_hits"), drop_field("evicted_keys"))
    with InfoRewritingProxy(target.endpoint.port, rewrite) as proxy:
        url = attach_url(target, port=proxy.port)
        result = run_suites(COMPLETE, tmp_path, *attach_args(url, "staging", "monitoring"))
    # The real exporter reads the same INFO, so it exports neither.
    exporter = "test_the_real_exporter_reads_the_server"
    assert failed_tests(result.outcomes("staging")) == READS_INFO | {exporter}, result.output[-3000:]
    details = result.case("test_every_metric_is_derived").details
    assert (
        "INFO lacks redis_keyspace_hits_total <- keyspace_hits, redis_evicted_keys_total <- evicted_keys"
    ) in details
    assert (
        "documented but not exported: redis_evicted_keys_total, redis_keyspace_hits_total"
        in result.case(exporter).details
    )


def test_counters_that_do_not_move_and_firing_alerts_fail(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    maxmemory = int(target.client().config_get("maxmemory")["maxmemory"])
    rewrite = chain(
        set_field("keyspace_hits", 7),
        set_field("keyspace_misses", 7),
        set_field("expired_keys", 0),
        set_field("total_commands_processed", 100),
        set_field("connected_clients", 1500),
        set_field("used_memory", int(maxmemory * 0.95)),
    )
    with InfoRewritingProxy(target.endpoint.port, rewrite) as proxy:
        url = attach_url(target, port=proxy.port)
        result = run_suites(COMPLETE, tmp_path, *attach_args(url, "staging", "monitoring"))
    assert failed_tests(result.outcomes("staging")) == {
        "test_hits_and_misses_follow_reads",
        "test_commands_processed_grows",
        "test_expired_keys_grows",
        "test_memory_alert_can_work",
        "test_connections_alert_can_work",
    }, result.output[-3000:]
    case = result.case
    assert (
        "redis_keyspace_hits_total (keyspace_hits) grew by 0 after 5 GETs"
        in case("test_hits_and_misses_follow_reads").details
    )
    assert (
        "grew by 0 after 20 SETs and one INFO; expected at least 21"
        in case("test_commands_processed_grows").details
    )
    assert (
        "redis_expired_keys_total (expired_keys) grew by 0 after 3 keys expired"
        in case("test_expired_keys_grows").details
    )
    assert "= 95.0% — the alert is firing" in case("test_memory_alert_can_work").details
    assert "REDIS_MAXMEMORY=128mb (.env.staging:3)" in case("test_memory_alert_can_work").details
    assert "1500 clients connected — the alert is firing" in case("test_connections_alert_can_work").details


def test_rules_that_cannot_work_warn(tmp_path: Path) -> None:
    """maxmemory 0, maxclients at the alert threshold, a password the exporter's URL breaks."""
    password = "stg@redis:Pw/8a7f6e5d"
    project = make_project(
        tmp_path / "project",
        env_files={
            ".env.staging": f"REDIS_MAXMEMORY=0\nREDIS_MAX_CLIENTS=1000\nREDIS_PASSWORD='{password}'",
        },
    )
    result = run_suites(
        project, tmp_path, "--nself-env", "staging", "--nself-target", "process", "-m", "monitoring"
    )
    # The real exporter, given that URL as nself writes it, cannot authenticate: a failure.
    exporter = "test_the_real_exporter_reads_the_server"
    assert result.status == 1, result.output[-3000:]
    assert failed_tests(result.outcomes("staging")) == {exporter}, result.output[-3000:]
    assert "monitoring bundle" in result.case(exporter).details
    assert "which an unencoded URL cannot carry" in result.case(exporter).details
    output = " ".join(result.output.split())
    assert "Seen: maxmemory=0 (no limit), so the rule divides by zero" in output
    assert f"REDIS_MAXMEMORY=0 (.env.staging:{STAGING_APPENDED})" in output
    assert "maxclients=1000 is not above the alert's threshold 1000: Redis refuses client 1001" in output
    assert "the password holds '/', ':', '@', which an unencoded URL cannot carry" in output
    assert "RedisDown fires" in output
    assert "nself's docs name redis_used_memory_bytes, which redis_exporter does not export" in output
    assert password not in result.output + reports_text(result.reports)
