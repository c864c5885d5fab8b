"""The health suite fails on servers broken in each way it watches, naming the cause."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import redis

from pytest_nself_redis.targets.process import ProcessTarget
from tests.conftest import Launcher
from tests.harness import COMPLETE, NSELF_14, RunResult, make_project, run_suites


def attach_health(target_port: int, password: str, cwd: Path, *extra: str) -> RunResult:
    return run_suites(
        COMPLETE,
        cwd,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://:{password}@127.0.0.1:{target_port}",
        "-m",
        "health",
        *extra,
    )


def failed(result: RunResult) -> set[str]:
    return {name for name, outcome in result.outcomes().items() if outcome == "failed"}


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_a_replica_is_not_a_primary(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging", extra_args=("--replicaof", "127.0.0.1", "1"))
    result = attach_health(target.endpoint.port, target.endpoint.password.reveal(), tmp_path)
    assert failed(result) == {"test_is_a_primary", "test_writes_are_accepted"}, result.output[-2000:]
    assert "role=slave replicating from 127.0.0.1:1" in result.case("test_is_a_primary").details
    # One cause, one failure: the refused write is a consequence of the server being a replica.
    writes = result.case("test_writes_are_accepted")
    assert writes.message.startswith("blocked by health.primary: "), writes.message
    assert "READONLY You can't write against a read only replica" in writes.details


def test_a_loading_server_is_caught(tmp_path: Path, launch: Launcher) -> None:
    # RDB only, so a restart loads a snapshot; key-load-delay (µs per key) keeps it loading.
    target = launch(
        COMPLETE,
        "staging",
        extra_args=("--key-load-delay", "500", "--loading-process-events-interval-bytes", "1024"),
        REDIS_AOF_ENABLED="false",
    )
    client = target.client()
    with client.pipeline(transaction=False) as pipe:
        for n in range(20_000):
            pipe.set(f"k{n}", n)
        pipe.execute()
    target.terminate()  # SIGTERM saves the snapshot
    target.resume(wait=False)
    result = attach_health(target.endpoint.port, target.endpoint.password.reveal(), tmp_path)
    assert "test_has_finished_loading" in failed(result), result.output[-2000:]
    assert "loading=1" in result.case("test_has_finished_loading").details
    assert "LOADING" in result.case("test_answers_ping").details


def test_a_lost_data_dir_fails_snapshots_and_aof_rewrites(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    assert isinstance(target, ProcessTarget)
    client = target.client()
    client.set("k", "v")
    shutil.rmtree(target.data_dir)  # root ignores permissions; a vanished dir fails for anyone
    client.bgsave()
    with contextlib.suppress(redis.exceptions.ResponseError):
        client.bgrewriteaof()  # refused at once ("Can't execute") or failing in the background
    wait_for(lambda: client.info("persistence")["rdb_last_bgsave_status"] == "err")
    wait_for(lambda: client.info("persistence")["aof_last_bgrewrite_status"] == "err")
    result = attach_health(target.endpoint.port, target.endpoint.password.reveal(), tmp_path)
    expected = {
        "test_answers_ping",
        "test_writes_are_accepted",
        "test_last_rdb_save_succeeded",
        "test_last_aof_write_succeeded",
    }
    assert failed(result) == expected, result.output[-2500:]
    assert "MISCONF" in result.case("test_answers_ping").details
    for consequence in ("test_answers_ping", "test_writes_are_accepted"):
        message = result.case(consequence).message
        assert message.startswith("blocked by health.rdb_status: "), message
    assert "rdb_last_bgsave_status=err" in result.case("test_last_rdb_save_succeeded").details
    assert "aof_last_bgrewrite_status=err" in result.case("test_last_aof_write_succeeded").details


def test_nearly_all_clients_in_use_is_caught(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging", extra_args=("--maxclients", "10"))
    held = [target.client(socket_timeout=5) for _ in range(8)]
    for client in held:
        client.ping()
    result = attach_health(target.endpoint.port, target.endpoint.password.reveal(), tmp_path)
    assert failed(result) == {"test_clients_have_headroom"}, result.output[-2000:]
    assert "of 10 connected" in result.case("test_clients_have_headroom").details


def test_memory_at_the_limit_is_caught(tmp_path: Path, launch: Launcher) -> None:
    target = launch(
        COMPLETE, "staging", extra_args=("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    )
    client = target.client()
    try:
        for n in range(10_000):
            client.set(f"fill:{n}", "x" * 1000)
    except redis.exceptions.OutOfMemoryError:
        pass
    result = attach_health(target.endpoint.port, target.endpoint.password.reveal(), tmp_path)
    assert failed(result) == {"test_memory_has_headroom", "test_writes_are_accepted"}, result.output[-2000:]
    details = result.case("test_memory_has_headroom").details
    assert "of maxmemory=3145728" in details
    assert "policy noeviction is about to act" in details
    writes = result.case("test_writes_are_accepted")
    assert writes.message.startswith("blocked by health.memory: "), writes.message
    assert "OOM command not allowed when used memory > 'maxmemory'" in writes.details


def test_missing_monitoring_fields_are_named(tmp_path: Path, launch: Launcher) -> None:
    from tests.data.proxy import InfoRewritingProxy, chain, drop_field

    target = launch(COMPLETE, "staging")
    rewrite = chain(drop_field("keyspace_hits"), drop_field("evicted_keys"))
    with InfoRewritingProxy(target.endpoint.port, rewrite) as proxy:
        result = attach_health(proxy.port, target.endpoint.password.reveal(), tmp_path)
    assert failed(result) == {"test_monitoring_fields_are_reported"}, result.output[-2000:]
    details = result.case("test_monitoring_fields_are_reported").details
    assert "missing ['keyspace_hits', 'evicted_keys']" in details


def test_refused_writes_are_caught(tmp_path: Path, launch: Launcher) -> None:
    """min-replicas-to-write 1 on a server without replicas: every write gets NOREPLICAS, while
    PING, INFO and CONFIG look fine (health, config and auth used to pass)."""
    target = launch(COMPLETE, "staging", extra_args=("--min-replicas-to-write", "1"))
    password = target.endpoint.password.reveal()
    result = attach_health(target.endpoint.port, password, tmp_path, "-m", "health or config or auth")
    assert result.status == 1, result.output[-2000:]
    assert failed(result) == {"test_writes_are_accepted"}, result.output[-2000:]
    details = result.case("test_writes_are_accepted").details
    assert "SET refused: NOREPLICAS Not enough good replicas to write." in details
    assert "set min-replicas-to-write 0" in details
    assert "live min-replicas-max-lag=10, min-replicas-to-write=1" in details
    assert target.client().keys("nself-harness:*") == []


# A service whose healthcheck authenticates with a password the server does not take.
WRONG_PASSWORD_HEALTHCHECK = (
    "services:\n"
    "  redis:\n"
    "    image: redis:7-alpine\n"
    '    user: "999:999"\n'
    "    command: redis-server --requirepass ${{REDIS_PASSWORD}}\n"
    "    healthcheck:\n"
    '      test: ["CMD", "redis-cli", {flags}"-a", "wrong-pw-5e1d", "ping"]\n'
    "      interval: 1s\n"
    "      retries: 1\n"
)
HEALTHCHECK_TEST = ("-m", "health", "-k", "test_container_healthcheck_passes")


def test_a_failing_healthcheck_fails_with_its_exit_status_and_output(
    tmp_path: Path, docker_engine: None
) -> None:
    compose = WRONG_PASSWORD_HEALTHCHECK.format(flags='"-e", ')
    project = make_project(tmp_path / "project", compose=compose)
    result = run_suites(
        project, tmp_path, "--nself-env", "staging", "--nself-target", "docker", *HEALTHCHECK_TEST
    )
    assert result.status == 1, result.output[-3000:]
    case = result.case("test_container_healthcheck_passes")
    assert case.outcome == "failed"
    assert (
        "Promise: the container's healthcheck (redis-cli -e ping, every 1 s; docker-compose.yml:7) passes"
        in (case.details)
    )
    assert (
        "Broken: the probe (run once at launch) exits 1 and says: Warning: Using a password" in case.details
    )
    assert "/ AUTH failed: WRONGPASS invalid username-password pair" in case.details
    assert "compose marks the container unhealthy" in case.details
    assert "wrong-pw-5e1d" not in result.output
    assert all("wrong-pw-5e1d" not in path.read_text() for path in result.reports.iterdir())


def test_a_healthcheck_healthy_by_exit_status_only_is_a_warning(tmp_path: Path, docker_engine: None) -> None:
    project = make_project(tmp_path / "project", compose=WRONG_PASSWORD_HEALTHCHECK.format(flags=""))
    result = run_suites(
        project, tmp_path, "--nself-env", "staging", "--nself-target", "docker", *HEALTHCHECK_TEST
    )
    assert result.status == 0, result.explain()
    assert result.case("test_container_healthcheck_passes").outcome == "passed"
    assert "PromiseWarning" in result.output
    # redis-cli's warning (stderr) and its reply (stdout) reach Docker's health log in either order.
    assert "healthy by its exit status only: the probe printed: " in result.output
    assert "Warning: Using a password" in result.output
    assert "AUTH failed: WRONGPASS invalid username-password pair" in result.output
    assert "; not PONG (redis-cli exits 0 on an error reply)" in result.output
    assert "wrong-pw-5e1d" not in result.output


def test_the_healthcheck_runs_on_docker_and_is_named_as_not_run_on_process(
    tmp_path: Path, target_kind: str
) -> None:
    result = run_suites(NSELF_14, tmp_path, "--nself-target", target_kind, *HEALTHCHECK_TEST)
    assert result.status == 0, result.explain()
    case = result.case("test_container_healthcheck_passes")
    if target_kind == "docker":
        assert case.outcome == "passed"
    else:
        assert case.outcome == "skipped"
        assert (
            "the process target runs no container, so the healthcheck (docker-compose.yml:21) does not run"
            in (case.message)
        )
