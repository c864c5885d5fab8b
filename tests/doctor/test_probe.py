"""`nself-redis probe`: exit 0 on a healthy server, 1 on anything else (never 2, which Docker
reserves), one line of at most 4096 bytes, bounded by its timeout, the password never on its
command line, and light enough to run every few seconds."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS, base_env, make_project

MAX_OUTPUT = 4096
RUNS = 20
PROBE = [sys.executable, "-m", "pytest_nself_redis.cli", "probe"]
HEAVY = ("redis", "yaml", "pytest", "_pytest", "docker", "ssl")


def probe(*args: str, timeout: float = 30, **environ: str) -> subprocess.CompletedProcess[str]:
    command = [*PROBE, *args]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=base_env(**environ)
    )
    assert len((completed.stdout + completed.stderr).encode()) <= MAX_OUTPUT
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


def local(port: int) -> str:
    return f"redis://127.0.0.1:{port}"


def test_healthy_from_the_url_and_from_the_project(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    port = target.endpoint.port
    by_url = probe("--redis-url", local(port), NSELF_REDIS_PASSWORD=password)
    assert by_url.returncode == 0, by_url.stdout
    assert by_url.stdout.startswith(f"healthy: PONG from 127.0.0.1:{port} in ")
    assert by_url.stdout.count("\n") == 1
    by_redis_cli_variable = probe("--redis-url", local(port), REDISCLI_AUTH=password)
    assert by_redis_cli_variable.returncode == 0, by_redis_cli_variable.stdout
    # The project's env files give port and password, as doctor reads them.
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.prod": f"REDIS_PORT={port}"}
    )
    by_project = probe("--project", str(project), "--env", "prod")
    assert by_project.returncode == 0, by_project.stdout
    assert password not in by_url.stdout + by_project.stdout


def test_a_write_round_trip_leaves_no_key(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = target.client()
    completed = probe(
        "--redis-url",
        local(target.endpoint.port),
        "--write",
        NSELF_REDIS_PASSWORD=target.endpoint.password.reveal(),
    )
    assert completed.returncode == 0, completed.stdout
    assert "PONG and a write round trip" in completed.stdout
    assert list(client.scan_iter("nself-harness:*")) == []
    assert client.info("stats")["total_commands_processed"] > 0


def test_a_server_refusing_writes_fails_only_the_write_probe(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = target.client()
    client.config_set("min-replicas-to-write", 1)  # no replica: every write is refused (NOREPLICAS)
    password = target.endpoint.password.reveal()
    assert probe("--redis-url", local(target.endpoint.port), NSELF_REDIS_PASSWORD=password).returncode == 0
    refused = probe("--redis-url", local(target.endpoint.port), "--write", NSELF_REDIS_PASSWORD=password)
    assert refused.returncode == 1
    assert "answered SET with -NOREPLICAS" in refused.stdout


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("wrong-Pw-4d1c9e", "rejected the password from environment variable NSELF_REDIS_PASSWORD"),
        ("", "requires a password and none was given"),
    ],
    ids=["wrong", "none"],
)
def test_a_refused_password_is_unhealthy(launch: Launcher, password: str, reason: str) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    completed = probe("--redis-url", local(target.endpoint.port), NSELF_REDIS_PASSWORD=password)
    assert completed.returncode == 1
    assert completed.stdout.startswith("unhealthy: ")
    assert reason in completed.stdout
    assert not password or password not in completed.stdout


def test_a_stopped_server_is_unhealthy(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    port = target.endpoint.port
    password = target.endpoint.password.reveal()
    target.stop()
    completed = probe("--redis-url", local(port), NSELF_REDIS_PASSWORD=password)
    assert completed.returncode == 1
    assert f"nothing answers as Redis at 127.0.0.1:{port} (from --redis-url)" in completed.stdout


def test_a_hanging_server_is_unhealthy_within_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        completed = probe("--redis-url", local(silent.getsockname()[1]), "--timeout", "0.5")
        elapsed = time.monotonic() - started
    assert completed.returncode == 1
    assert "did not answer" in completed.stdout
    assert elapsed < 5, elapsed  # 0.5 s of probe; the rest is starting Python on a loaded machine


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--bogus",), "unrecognized arguments: --bogus"),
        (("--sentinel-url", "redis://127.0.0.1:26379"), "unrecognized arguments: --sentinel-url"),
        (("--timeout", "0"), "--timeout '0'"),
        (("--nself-version", "7"), "invalid choice: '7'"),
        (("--redis-url", "http://127.0.0.1:1"), "is not a redis:// or rediss:// URL"),
        (("--project", "/nonexistent-project"), "does not exist"),
        (("--redis-ca", "/etc/hostname"), "applies only to a rediss://"),
    ],
    ids=[
        "unknown-option",
        "sentinel-url-is-doctors",
        "zero-timeout",
        "bad-version",
        "not-redis-url",
        "no-project",
        "ca-without-tls",
    ],
)
def test_bad_arguments_are_unhealthy_never_2(args: tuple[str, ...], message: str) -> None:
    completed = probe(*args)
    assert completed.returncode == 1, completed
    assert message in completed.stdout + completed.stderr


def test_the_password_is_never_taken_from_the_command_line(launch: Launcher) -> None:
    """A probe runs every few seconds; its command line is shown by ps and docker inspect."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    in_url = probe("--redis-url", f"redis://:{password}@127.0.0.1:{target.endpoint.port}")
    assert in_url.returncode == 1
    assert "--redis-url holds a password" in in_url.stdout
    assert password not in in_url.stdout + in_url.stderr
    # What a healthcheck runs instead: the same command line without it, the password in the env.
    command = [
        sys.executable,
        "-m",
        "pytest_nself_redis.cli",
        "probe",
        "--redis-url",
        local(target.endpoint.port),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env=base_env(NSELF_REDIS_PASSWORD=password)
    )
    try:
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
    except FileNotFoundError:
        argv = " ".join(command)  # it ended already
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0, stdout
    assert password not in argv


def test_it_loads_neither_redis_py_nor_yaml_nor_pytest(launch: Launcher, tmp_path: Path) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={".env.prod": f"REDIS_PORT={target.endpoint.port}"},
    )
    for args in (("--redis-url", local(target.endpoint.port)), ("--project", str(project), "--env", "prod")):
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "pytest_nself_redis.cli", "probe", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=base_env(NSELF_REDIS_PASSWORD=password),
        )
        assert completed.returncode == 0, completed.stdout
        imported = {
            line.rpartition("|")[2].strip()
            for line in completed.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert "pytest_nself_redis.doctor.probe" in imported, "the import trace was not read"
        heavy = sorted(
            name
            for name in imported
            if name.split(".")[0] in ("redis", "yaml", "pytest", "_pytest", "docker", "ssl")
        )
        assert not heavy, f"probe {' '.join(args)} imported {heavy}"


def test_wall_time(launch: Launcher) -> None:
    """Printed, not asserted: the machine's load decides it. Bare Python opening a socket is the floor."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    env = base_env(NSELF_REDIS_PASSWORD=target.endpoint.password.reveal())
    floor = [
        sys.executable,
        "-c",
        f"import socket; socket.create_connection(('127.0.0.1', {target.endpoint.port})).close()",
    ]
    command = [
        sys.executable,
        "-m",
        "pytest_nself_redis.cli",
        "probe",
        "--redis-url",
        local(target.endpoint.port),
    ]
    for label, argv in (("python + socket", floor), ("nself-redis probe", command)):
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True, timeout=30, env=env)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{label}: median {statistics.median(times):.0f} ms, min {min(times):.0f} ms over {RUNS} runs")
