"""Targets: loopback only, readiness through LOADING, lifecycle that keeps the data,
and a timeout that shows the server's log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import TargetOptions
from pytest_nself_redis.targets.docker import DockerTarget
from pytest_nself_redis.targets.select import make_target
from tests.conftest import Launcher
from tests.harness import COMPLETE, make_project, run_suites


def fill(client: object, count: int, prefix: str = "k") -> None:
    with client.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
        for n in range(count):
            pipe.set(f"{prefix}{n}", n)
        pipe.execute()


def test_launched_servers_listen_on_loopback_only(launch: Launcher, target_kind: str) -> None:
    target = launch(COMPLETE, "staging", kind=target_kind)
    assert target.endpoint.host == "127.0.0.1"
    if isinstance(target, DockerTarget):
        assert target.container is not None
        target.container.reload()
        bindings = target.container.attrs["HostConfig"]["PortBindings"]
        assert [binding["HostIp"] for values in bindings.values() for binding in values] == ["127.0.0.1"]
    else:
        assert target.client().config_get("bind") == {"bind": "127.0.0.1"}


def test_restart_crash_and_recreate_keep_the_data(launch: Launcher, target_kind: str) -> None:
    # AOF everysec + RDB: a graceful stop keeps everything; so does a crash after an fsync.
    target = launch(COMPLETE, "staging", kind=target_kind, REDIS_AOF_FSYNC="always")
    fill(target.client(), 1000)
    target.restart()
    assert target.client().dbsize() == 1000
    target.client().set("after-restart", "1")
    target.crash_and_restart()
    assert target.client().dbsize() == 1001
    assert "Redis is starting" in target.log_tail(200) or "Server initialized" in target.log_tail(200)
    if isinstance(target, DockerTarget):
        first = target.container.id if target.container else None
        target.recreate()
        assert target.container is not None
        assert target.container.id != first
        assert target.client().dbsize() == 1001


def test_readiness_waits_through_loading(launch: Launcher) -> None:
    target = launch(
        COMPLETE,
        "staging",
        REDIS_AOF_ENABLED="false",
        extra_args=("--key-load-delay", "50", "--loading-process-events-interval-bytes", "1024"),
    )
    fill(target.client(), 20_000)
    target.restart()  # SIGTERM saves the snapshot; loading it takes about a second
    assert target.readiness is not None
    assert target.readiness.transient["loading"] > 0, target.readiness
    assert target.client().dbsize() == 20_000


def test_a_timeout_carries_the_log_tail(tmp_path: object) -> None:
    context = load_env_context(
        NselfProject.open(COMPLETE), "staging", overrides={"REDIS_AOF_ENABLED": "false"}
    )
    target = make_target(
        "process",
        context,
        TargetOptions(
            run_id="tlog",
            startup_timeout=0.5,
            extra_args=("--key-load-delay", "1000000", "--loading-process-events-interval-bytes", "1024"),
        ),
    )
    target.start()
    try:
        fill(target.client(), 50)
        target.terminate()
        with pytest.raises(TargetError) as caught:
            target.resume()
        message = str(caught.value)
        assert "was not ready within 0.5 s" in message
        assert "its log ends:" in message
        assert "Loading RDB" in message or "DB loaded" in message or "loading" in message.lower()
    finally:
        target.stop()


def test_protected_mode_behind_docker_is_named_at_once(docker_engine: None) -> None:
    context = load_env_context(NselfProject.open(COMPLETE), "dev", overrides={"REDIS_PASSWORD": ""})
    target = make_target("docker", context, TargetOptions(run_id="tdeny", startup_timeout=20))
    started = time.monotonic()
    try:
        with pytest.raises(TargetError, match=r"refuses this client \(-DENIED\): protected mode is on"):
            target.start()
    finally:
        target.stop()
    assert time.monotonic() - started < 15  # named on the first refusal, not at the timeout


def test_attach_over_tls_with_the_run_ca(tmp_path: Path, launch: Launcher) -> None:
    project = make_project(tmp_path / "project", env_files={".env.staging": "REDIS_TLS_ENABLED=true"})
    target = launch(project, "staging")
    assert target.endpoint.tls
    assert target.server_tls is not None
    password = target.endpoint.password.reveal()
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"rediss://:{password}@127.0.0.1:{target.endpoint.port}",
        "--nself-redis-ca",
        str(target.server_tls.ca_cert),
        "-m",
        "health or tls",
    )
    outcomes = result.outcomes("staging")
    assert outcomes["test_answers_ping"] == "passed", result.output[-2000:]
    assert outcomes["test_accepts_tls_clients"] == "passed", result.output[-2000:]
    assert outcomes["test_refuses_plaintext"] == "passed", result.output[-2000:]
    assert password not in result.output
