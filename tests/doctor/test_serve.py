"""`nself-redis serve`: real HTTP against a real server process. 200 with doctor's JSON while no
check errs, 503 when one does or doctor cannot look, on /health and /healthz, each answer
bounded by doctor's deadline and reused for --cache seconds, on the loopback unless told."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import Launcher
from tests.doctor.test_doctor import SCHEMA
from tests.harness import COMPLETE_WITHOUT_TLS, base_env, make_project

STARTUP = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port

    def get(
        self, path: str = "/health", accept: str = "", timeout: float = 60
    ) -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as failure:
            return failure.code, dict(failure.headers), json.loads(failure.read())


@contextlib.contextmanager
def serve(
    *args: str, project: Path = COMPLETE_WITHOUT_TLS, env: str = "prod", **environ: str
) -> Iterator[Served]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "pytest_nself_redis.cli",
        "serve",
        "--project",
        str(project),
        "--env",
        env,
        "--port",
        str(port),
        *args,
    ]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=base_env(**environ)
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # "listening on ..." once the socket is bound
        assert "listening on http://127.0.0.1:" in line, line + process.stderr.read()
        yield Served(process, port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STARTUP)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def listening_address(port: int) -> str:
    """The local address of the socket listening on ``port`` (from /proc/net/tcp, tcp6)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                return address
    raise AssertionError(f"nothing listens on {port}")


def test_healthy_server_answers_200_on_both_paths(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    url = f"redis://127.0.0.1:{target.endpoint.port}"
    with serve("--redis-url", url, NSELF_REDIS_PASSWORD=password) as served:
        assert listening_address(served.port) == "0100007F"  # 127.0.0.1: the loopback only
        started = time.monotonic()
        status, headers, body = served.get("/health")
        first = time.monotonic() - started
        assert status == 200, body
        assert headers["Content-Type"] == "application/json"
        jsonschema.validate(body, SCHEMA)
        assert body["status"] in ("ok", "warning")
        started = time.monotonic()
        status, headers, again = served.get("/healthz")
        cached = time.monotonic() - started
        assert status == 200
        assert again == body, "within --cache seconds the same answer is reused"
        status, headers, health = served.get("/healthz?verbose=1", accept="application/health+json")
        assert status == 200
        assert headers["Content-Type"] == "application/health+json"
        assert health["status"] in ("pass", "warn")
        assert served.get("/metrics")[0] == 404
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        connection.request("HEAD", "/healthz")
        head = connection.getresponse()
        assert (head.status, head.read()) == (200, b"")
        assert int(head.getheader("Content-Length", "0")) == len(json.dumps(body, indent=2)) + 1
        connection.close()
        print(f"serve: first answer {first * 1000:.0f} ms (a doctor run), cached {cached * 1000:.1f} ms")
        assert password not in json.dumps(body) + json.dumps(health)
    assert served.process.returncode == 0  # stopped by SIGTERM: its normal end


def test_a_failing_check_answers_503(tmp_path: Path, launch: Launcher) -> None:
    policy = {".env.prod": "REDIS_MAXMEMORY_POLICY=allkeys-lru"}  # queues run in prod
    project = make_project(tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files=policy)
    target = launch(project, "prod")
    url = f"redis://127.0.0.1:{target.endpoint.port}"
    with serve(
        "--redis-url", url, project=project, NSELF_REDIS_PASSWORD=target.endpoint.password.reveal()
    ) as served:
        status, _, body = served.get("/healthz")
        assert status == 503
        jsonschema.validate(body, SCHEMA)
        failing = {check["id"] for check in body["checks"] if check["status"] == "error"}
        assert "queue.eviction_policy" in failing
        status, _, health = served.get("/health", accept="application/health+json")
        assert (status, health["status"]) == (503, "fail")


def test_a_server_doctor_cannot_reach_answers_503_with_the_reason() -> None:
    with serve("--redis-url", "redis://127.0.0.1:1", "--cache", "0.1") as served:
        status, _, body = served.get("/health")
        assert status == 503
        assert body["status"] == "error"
        assert "nothing answers as Redis at 127.0.0.1:1" in body["error"]


def test_each_answer_is_bounded_by_the_deadline() -> None:
    """A server that accepts and never answers: the request still ends, after about --deadline."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}"
        with serve("--redis-url", url, "--deadline", "2", "--timeout", "1", "--cache", "0.1") as served:
            for _ in range(2):  # a second run (not cached) is bounded too
                started = time.monotonic()
                status, _, body = served.get("/health", timeout=30)
                elapsed = time.monotonic() - started
                assert status == 503, body
                assert elapsed < 5, elapsed
                time.sleep(0.2)


def test_a_probe_storm_runs_doctor_once(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = target.client()
    url = f"redis://127.0.0.1:{target.endpoint.port}"
    with serve(
        "--redis-url",
        url,
        "--suite",
        "health",
        "--cache",
        "30",
        NSELF_REDIS_PASSWORD=target.endpoint.password.reveal(),
    ) as served:
        served.get("/health")
        client.config_resetstat()
        for _ in range(20):
            assert served.get("/healthz")[0] == 200
        assert client.info("stats")["total_commands_processed"] <= 2  # ours: RESETSTAT and INFO


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--port", "80"), "--port '80': expected a port from 1024 to 65535"),
        (("--redis-url", "redis://:pw-in-argv-5x@127.0.0.1:6379"), "--redis-url holds a password"),
        (("--sentinel-url", "redis://:pw-in-argv-5x@127.0.0.1:26379"), "--sentinel-url holds a password"),
        (("--cache", "never"), "--cache 'never'"),
    ],
    ids=["privileged-port", "password-in-url", "password-in-sentinel-url", "bad-cache"],
)
def test_bad_usage_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_nself_redis.cli",
            "serve",
            "--project",
            str(COMPLETE_WITHOUT_TLS),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=base_env(),
    )
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "pw-in-argv-5x" not in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_taken_port_is_one_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "pytest_nself_redis.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=base_env(),
        )
    assert completed.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in completed.stderr
    assert "Traceback" not in completed.stderr
