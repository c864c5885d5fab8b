"""The config suite fails where a deployment breaks a promise, naming the layer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import Launcher
from tests.harness import (
    COMPLETE,
    NSELF_099,
    STAGING_APPENDED,
    STAGING_COMMAND,
    appended_line,
    compose_file,
    make_project,
    run_suites,
)

EXPECTED_099 = {
    # promise id -> (setting with its file:line, what the deployment does)
    "maxmemory": ("REDIS_MAXMEMORY=512mb (.env.staging:2)", "sets no --maxmemory"),
    "maxmemory-policy": ("REDIS_MAXMEMORY_POLICY=allkeys-lru (.env.dev:4)", "sets no --maxmemory-policy"),
    "save": ("REDIS_RDB_FREQUENCY=900 (.env.dev:5)", "sets no --save"),
    "maxclients": ("REDIS_MAX_CLIENTS=500 (.env.dev:6)", "sets no --maxclients"),
    "timeout": ("REDIS_TIMEOUT=300 (.env.dev:7)", "sets no --timeout"),
    "tcp-keepalive": ("REDIS_TCP_KEEPALIVE=60 (.env.dev:8)", "sets no --tcp-keepalive"),
    "loglevel": ("REDIS_LOG_LEVEL=warning (.env.dev:9)", "sets no --loglevel"),
}


def test_nself_099_fails_where_the_generator_ignores_settings(tmp_path: Path) -> None:
    result = run_suites(
        NSELF_099, tmp_path, "--nself-env", "staging", "--nself-target", "process", "-m", "config"
    )
    assert result.status == 1, result.output[-2000:]
    failed = {name for name, outcome in result.outcomes("staging").items() if outcome == "failed"}
    assert failed == {f"test_setting_reaches_the_server[{pid}]" for pid in EXPECTED_099}
    for promise_id, (setting, deployment) in EXPECTED_099.items():
        case = result.case(f"test_setting_reaches_the_server[{promise_id}]")
        assert setting in case.details
        assert "Broken at the deployment layer" in case.details
        assert f"the compose command (docker-compose.yml:19) {deployment}" in case.details


BROKEN = {
    "aof off while promised": (
        compose_file(STAGING_COMMAND.replace("--appendonly yes --appendfsync everysec", "--appendonly no")),
        {},
        "test_setting_reaches_the_server[appendonly]",
        ["REDIS_AOF_ENABLED=true (.env.dev:7)", "sets --appendonly no"],
    ),
    "appendfsync no while always is promised": (
        compose_file(STAGING_COMMAND.replace("--appendfsync everysec", "--appendfsync no")),
        {".env.staging": "REDIS_AOF_FSYNC=always"},
        "test_setting_reaches_the_server[appendfsync]",
        [f"REDIS_AOF_FSYNC=always (.env.staging:{STAGING_APPENDED})", "sets --appendfsync no"],
    ),
    "snapshots off while RDB is promised": (
        compose_file(STAGING_COMMAND.replace("--save '900 1'", "--save ''")),
        {},
        "test_setting_reaches_the_server[save]",
        ["REDIS_RDB_FREQUENCY=900 (.env.dev:9)", "sets --save ''"],
    ),
    "no password while one is promised": (
        compose_file(STAGING_COMMAND.replace(" --requirepass ${REDIS_PASSWORD}", "")),
        {},
        "test_setting_reaches_the_server[requirepass]",
        ["REDIS_PASSWORD=******** (.env.staging:2)", "sets no --requirepass"],
    ),
    "image major differs from REDIS_VERSION": (
        compose_file(),
        {".env": "REDIS_VERSION=6.2-alpine"},
        "test_version_major_matches",
        [f"REDIS_VERSION=6.2-alpine (.env:{appended_line('.env')})", "runs image redis:7-alpine"],
    ),
    "host port differs from REDIS_PORT": (
        compose_file(port="127.0.0.1:6380:6379"),
        {},
        "test_host_port_is_published_as_configured",
        ["REDIS_PORT=6379 (.env.dev:2)", "publishes 127.0.0.1:6380:6379 (docker-compose.yml:9)"],
    ),
    "TLS promised but not deployed": (
        compose_file(),
        {".env.staging": "REDIS_TLS_ENABLED=true"},
        "test_tls_setting_reaches_the_server",
        [f"REDIS_TLS_ENABLED=true (.env.staging:{STAGING_APPENDED})", "sets no --tls-port"],
    ),
}


# What each broken deployment's remedy says: its layer and (part of) its edit.
REMEDIES = {
    "aof off while promised": (
        "deployment",
        "set --appendonly yes instead of --appendonly no in the redis command",
    ),
    "appendfsync no while always is promised": (
        "deployment",
        "set --appendfsync always instead of --appendfsync no",
    ),
    "snapshots off while RDB is promised": ("deployment", "set --save '900 1' instead of --save ''"),
    "no password while one is promised": ("deployment", "add --requirepass ${REDIS_PASSWORD} to the redis"),
    "image major differs from REDIS_VERSION": ("deployment", "run image redis:6.2-alpine"),
    "host port differs from REDIS_PORT": ("deployment", 'publish "127.0.0.1:${REDIS_PORT}:6379"'),
    "TLS promised but not deployed": ("deployment", "the redis command needs --port 0 --tls-port 6379"),
}


def properties_of(reports: Path, env: str, test_name: str) -> dict[str, str]:
    """A test's JUnit properties (its check id and remedy among them)."""
    for case in ET.parse(reports / f"junit-{env}.xml").getroot().iter("testcase"):
        if case.get("name") == test_name:
            return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
    raise AssertionError(f"no test {test_name}")


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_each_broken_deployment_is_caught(tmp_path: Path, case: str) -> None:
    compose_text, env_files, test_name, fragments = BROKEN[case]
    project = make_project(tmp_path / "project", env_files=env_files, compose=compose_text)
    result = run_suites(
        project, tmp_path, "--nself-env", "staging", "--nself-target", "process", "-m", "config"
    )
    failed = sorted(name for name, outcome in result.outcomes().items() if outcome == "failed")
    assert failed == [test_name], result.output[-3000:]
    details = result.case(test_name).details
    assert "Broken at the deployment layer" in details
    for fragment in fragments:
        assert fragment in details
    properties = properties_of(result.reports, "staging", test_name)
    layer, edit = REMEDIES[case]
    assert properties["remedy.layer"] == layer
    assert edit in properties["remedy.edit"]
    assert "nself-redis remediation" in result.output  # the failure's own section


def test_a_server_changed_at_run_time_breaks_the_live_layer(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    target.client().config_set("maxmemory-policy", "allkeys-random")
    password = target.endpoint.password.reveal()
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://:{password}@127.0.0.1:{target.endpoint.port}",
        "-m",
        "config",
    )
    case = result.case("test_setting_reaches_the_server[maxmemory-policy]")
    assert case.outcome == "failed"
    assert "Broken at the live layer" in case.details
    assert "running server reports maxmemory-policy=allkeys-random" in case.details
    properties = properties_of(result.reports, "staging", "test_setting_reaches_the_server[maxmemory-policy]")
    assert properties["remedy.layer"] == "server"
    assert "CONFIG SET maxmemory-policy 'noeviction'" in properties["remedy.edit"]
    assert password not in result.output
