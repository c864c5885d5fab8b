"""Bad input ends with one readable message, the right exit status, no traceback,
and nothing left behind (SPEC §8)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Launcher
from tests.harness import (
    COMPLETE,
    STAGING_APPENDED,
    RunResult,
    assert_nothing_left,
    make_project,
    run_cli,
    run_suites,
)

USAGE = 4  # pytest's usage-error status, used for every "cannot start" case


def assert_clear_failure(result: RunResult, fragment: str, status: int = USAGE) -> None:
    output = result.output
    assert result.status == status, output[-2000:]
    assert fragment in output, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    assert output.count("nself-redis: ") == 1, output[-2000:]


def run(project: Path, cwd: Path, run_id: str, *args: str, env: dict[str, str] | None = None) -> RunResult:
    return run_suites(project, cwd, *args, "-m", "health", env={"NSELF_RUN_ID": run_id, **(env or {})})


@pytest.mark.parametrize(
    ("setup", "args", "fragment"),
    [
        ("missing", (), "nself project directory"),
        ("empty", (), "holds no .env files"),
        (
            "complete",
            ("--nself-env", "stagin"),
            "unknown env 'stagin': this project knows dev, staging, prod",
        ),
        (
            "malformed",
            ("--nself-env", "staging"),
            f".env.staging:{STAGING_APPENDED}: expected KEY=VALUE, found 'oops'",
        ),
        (
            "invalid",
            ("--nself-env", "staging"),
            f"REDIS_MAXMEMORY_POLICY=lru (.env.staging:{STAGING_APPENDED}): valid choices: noeviction, "
            "allkeys-lru",
        ),
        ("disabled", ("--nself-env", "staging"), "REDIS_ENABLED is not true for env staging"),
        ("no-redis", ("--nself-env", "staging"), "docker-compose.yml has no `redis` service (it has: web)"),
        ("complete", ("--nself-target", "bogus"), "--nself-target='bogus': choose one of auto, docker"),
    ],
)
def test_project_problems(
    tmp_path: Path, run_id: str, setup: str, args: tuple[str, ...], fragment: str
) -> None:
    project = tmp_path / "project"
    if setup == "empty":
        project.mkdir()
    elif setup == "malformed":
        make_project(project, env_files={".env.staging": "oops"})
    elif setup == "invalid":
        make_project(project, env_files={".env.staging": "REDIS_MAXMEMORY_POLICY=lru"})
    elif setup == "disabled":
        make_project(project, env_files={".env": "REDIS_ENABLED=false"})
    elif setup == "no-redis":
        make_project(project, compose="services:\n  web:\n    image: nginx\n")
    elif setup == "complete":
        project = COMPLETE
    result = run(project, tmp_path, run_id, *args)
    assert_clear_failure(result, fragment)
    assert_nothing_left(run_id, docker=False)


@pytest.mark.docker
def test_docker_not_reachable(tmp_path: Path, run_id: str) -> None:
    result = run(
        COMPLETE,
        tmp_path,
        run_id,
        "--nself-target",
        "docker",
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )
    assert_clear_failure(result, "Docker was asked for but no engine answers")


def test_image_not_present_and_not_pullable(tmp_path: Path, run_id: str, docker_engine: None) -> None:
    compose = "services:\n  redis:\n    image: redis:0.0-not-here\n    command: redis-server\n"
    project = make_project(tmp_path / "project", compose=compose)
    result = run(project, tmp_path, run_id, "--nself-env", "staging", "--nself-target", "docker")
    assert_clear_failure(result, "image redis:0.0-not-here is not present locally and could not be pulled")
    assert "scripts/build-redis-image.sh redis:0.0-not-here" in result.output
    assert_nothing_left(run_id, docker=True)


def test_redis_server_not_found(tmp_path: Path, run_id: str) -> None:
    result = run(
        COMPLETE,
        tmp_path,
        run_id,
        "--nself-target",
        "process",
        "--nself-redis-server",
        str(tmp_path / "redis-server"),
    )
    assert_clear_failure(result, "is not an executable file")
    no_redis_path = run(COMPLETE, tmp_path, run_id, "--nself-target", "process", env={"PATH": "/nonexistent"})
    assert no_redis_path.status == USAGE
    assert "redis-server not found on PATH" in no_redis_path.output


def test_port_taken(tmp_path: Path, run_id: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run(COMPLETE, tmp_path, run_id, "--nself-target", "process", "--nself-port", str(port))
    assert_clear_failure(result, f"port 127.0.0.1:{port} is already taken")
    assert_nothing_left(run_id, docker=False)


def test_wrong_password_on_attach_is_not_printed(tmp_path: Path, run_id: str, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    wrong = "not-the-password-4f81c2"
    result = run(
        COMPLETE,
        tmp_path,
        run_id,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://:{wrong}@127.0.0.1:{target.endpoint.port}",
    )
    assert_clear_failure(result, "rejected the password from the URL (WRONGPASS)")
    assert wrong not in result.output
    assert not list(result.reports.glob("*")) or all(
        wrong not in p.read_text() for p in result.reports.iterdir()
    )


class _Http(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(1024)
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


class _Silent(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(10)
        try:
            while self.request.recv(1024):
                pass
        except OSError:
            pass


@pytest.fixture(params=[_Http, _Silent], ids=["http", "hung"])
def impostor(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), request.param)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield request.param.__name__, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_something_else_on_the_port(tmp_path: Path, run_id: str, impostor: tuple[str, int]) -> None:
    kind, port = impostor
    result = run(
        COMPLETE,
        tmp_path,
        run_id,
        "--nself-target",
        "attach",
        "--nself-timeout",
        "1",
        "--nself-redis-url",
        f"redis://127.0.0.1:{port}",
    )
    expected = (
        "does not speak the Redis protocol"
        if kind == "_Http"
        else "accepted the connection but did not answer within 1.0 s"
    )
    assert_clear_failure(result, expected)


def test_cli_check_passes_pytest_status_through(tmp_path: Path) -> None:
    completed = run_cli(["check", "--project", str(tmp_path / "nowhere"), "-m", "health"], tmp_path)
    assert completed.returncode == USAGE
    assert "nself project directory" in completed.stderr + completed.stdout
    assert "Traceback" not in completed.stderr + completed.stdout


def test_cli_bad_usage(tmp_path: Path) -> None:
    completed = run_cli(["frobnicate"], tmp_path)
    assert completed.returncode == 2
    assert "invalid choice: 'frobnicate'" in completed.stderr
