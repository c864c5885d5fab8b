"""`nself-redis doctor`: ok on a healthy server, exit 1 naming each fault, exit 2 when it
cannot look, JSON valid against the shipped schema, and harmless on production data."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pty
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis

from pytest_nself_redis.doctor.runner import DEADLINE_MARK, doctor_checks
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS, base_env, make_project
from tests.tls_proxy import LOOPBACK, TlsInterceptor, self_signed

SCHEMA = json.loads((resources.files("pytest_nself_redis") / "doctor" / "schema.json").read_text())
FORBIDDEN = (
    "config|set",
    "config set",
    "flushall",
    "flushdb",
    "debug",
    "shutdown",
    "swapdb",
    "script|flush",
    "function|flush",
    "bgrewriteaof",
    "bgsave",
    "save",
    "replicaof",
    "slaveof",
)


def url(target: Target, password: str | None = None, user: str = "") -> str:
    secret = target.endpoint.password.reveal() if password is None else password
    return f"redis://{user}:{secret}@127.0.0.1:{target.endpoint.port}"


def doctor(
    *args: str,
    project: Path = COMPLETE_WITHOUT_TLS,
    env: str = "prod",
    timeout: float = 60,
    environ: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pytest_nself_redis.cli",
        "doctor",
        "--project",
        str(project),
        "--env",
        env,
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=base_env(**(environ or {}))
    )


def as_json(completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(completed.stdout)
    jsonschema.validate(document, SCHEMA)
    return document


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["id"]: check for check in document["checks"]}


def test_healthy_server(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    started = time.monotonic()
    human = doctor("--redis-url", url(target))
    wall = time.monotonic() - started
    assert human.returncode == 0, human.stdout + human.stderr
    assert "nself-redis doctor · env prod · attach redis://:********@127.0.0.1" in human.stdout
    assert "\033[" not in human.stdout  # not a terminal: no colour
    for line in human.stdout.splitlines():
        if line.startswith("  ⚠"):
            assert "Promise:" in line or "Seen:" in line or ".env.runtime" in line, line
        assert not line.startswith("  ✗"), line
    document = as_json(doctor("--redis-url", url(target), "--json"))
    # Run side by side, reported in the registry's order.
    assert [check["id"] for check in document["checks"]] == doctor_checks()
    assert document["status"] in ("ok", "warning")
    assert document["totals"]["error"] == 0
    assert {check["suite"] for check in document["checks"]} >= {"health", "config", "auth"}
    assert target.endpoint.password.reveal() not in human.stdout + json.dumps(document)
    assert wall < 10  # generous bound for a loaded machine; the measured time is in the JSON
    assert document["duration_ms"] > 0


def test_colour_only_on_a_terminal(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    for no_colour, expect_colour in ((False, True), (True, False)):
        env = base_env()
        if no_colour:
            env["NO_COLOR"] = "1"
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest_nself_redis.cli",
                "doctor",
                "--project",
                str(COMPLETE_WITHOUT_TLS),
                "--env",
                "prod",
                "--suite",
                "health",
                "--redis-url",
                url(target),
            ],
            stdout=follower,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
        os.close(leader)
        output = b"".join(chunks).decode()
        assert ("\033[32m" in output) is expect_colour, output[-500:]


def test_nagios_line(tmp_path: Path, launch: Launcher) -> None:
    # prod runs queues (REDIS_QUEUES=true, from .env.staging): allkeys-lru is unsafe for them.
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={".env.prod": "REDIS_MAXMEMORY_POLICY=allkeys-lru"},
    )
    target = launch(project, "prod")
    completed = doctor("--redis-url", url(target), "--nagios", project=project)
    assert completed.returncode == 2
    (line,) = completed.stdout.splitlines()
    assert line.startswith("REDIS CRITICAL - ")
    assert "Eviction policy is allkeys-lru" in line
    assert "| 'used_memory'=" in line
    assert "'ok'=" in line
    # dev runs no queue: its cache policy is a warning there.
    target = launch(COMPLETE_WITHOUT_TLS, "dev")
    completed = doctor("--redis-url", url(target), "--nagios", env="dev")
    assert completed.returncode == 1, completed.stdout
    assert completed.stdout.startswith("REDIS WARNING - ")


FAULTS = {
    # name: (project env lines, extra server args, launch overrides, failing check id, cause)
    "no password": ({".env.secrets": "REDIS_PASSWORD="}, (), {}, "auth.password_set", "no password"),
    "weak password": (
        {".env.secrets": "REDIS_PASSWORD=changeme"},
        (),
        {},
        "auth.password_not_rejected",
        "is one of them; nself build refuses it",
    ),
    "wrong policy for queues": (
        {},
        (),
        {"REDIS_MAXMEMORY_POLICY": "allkeys-lru"},
        "queue.eviction_policy",
        'It should be "noeviction"',
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_each_fault_is_reported(tmp_path: Path, launch: Launcher, fault: str) -> None:
    env_lines, extra_args, overrides, check_id, cause = FAULTS[fault]
    project = make_project(tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files=env_lines)
    target = launch(project, "prod", extra_args=extra_args, **overrides)
    completed = doctor("--redis-url", url(target), "--json", project=project)
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    check = by_id(as_json(completed))[check_id]
    assert check["status"] == "error", check
    assert cause in check["message"], check["message"]


def test_memory_near_maxmemory(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", extra_args=("--maxmemory", "3mb"))
    client = target.client()
    try:
        for n in range(10_000):
            client.set(f"fill:{n}", "x" * 1000)
    except redis.exceptions.OutOfMemoryError:
        pass
    document = as_json(doctor("--redis-url", url(target), "--json"))
    memory = by_id(document)["health.memory"]
    assert memory["status"] == "error"
    assert "about to act" in memory["message"]


def test_aof_write_error(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = target.client()
    import shutil

    shutil.rmtree(target.data_dir)  # type: ignore[attr-defined]
    with contextlib.suppress(redis.exceptions.ResponseError):
        client.bgrewriteaof()
    deadline = time.monotonic() + 10
    while client.info("persistence")["aof_last_bgrewrite_status"] != "err" and time.monotonic() < deadline:
        time.sleep(0.05)
    completed = doctor("--redis-url", url(target), "--json")
    assert completed.returncode == 1
    aof = by_id(as_json(completed))["health.aof_status"]
    assert aof["status"] == "error"
    assert "aof_last_bgrewrite_status=err" in aof["message"]


def test_aof_missing_while_promised(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", extra_args=("--appendonly", "no"))
    document = as_json(doctor("--redis-url", url(target), "--json"))
    setting = by_id(document)["config.setting.appendonly"]
    assert setting["status"] == "error"
    assert "live appendonly=no" in setting["message"] or "reports appendonly=no" in setting["message"]


def test_cannot_look_exits_2(tmp_path: Path, launch: Launcher) -> None:
    unreachable = doctor("--redis-url", "redis://127.0.0.1:1")
    assert unreachable.returncode == 2
    assert "nothing answers as Redis at 127.0.0.1:1" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    wrong = doctor("--redis-url", url(target, password="wrong-password-0x77"))
    assert wrong.returncode == 2
    assert "rejected the password" in wrong.stderr
    assert "wrong-password-0x77" not in wrong.stdout + wrong.stderr
    usage = doctor("--timeout", "0")
    assert usage.returncode == 2
    nagios = doctor("--redis-url", "redis://127.0.0.1:1", "--nagios")
    assert nagios.returncode == 3
    assert nagios.stdout.startswith("REDIS UNKNOWN - ")


def test_a_hung_server_ends_within_the_timeout() -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        completed = doctor("--redis-url", f"redis://127.0.0.1:{port}", "--timeout", "1")
        elapsed = time.monotonic() - started
    assert completed.returncode == 2
    assert "did not answer within 1.0 s" in completed.stderr
    assert elapsed < 8


def snapshot(client: redis.Redis) -> dict[str, Any]:
    digest = hashlib.sha256()
    keys = sorted(client.scan_iter(count=1000))
    ttls = {}
    for key in keys:
        digest.update(key + b"\0" + (client.dump(key) or b""))
        ttls[key] = client.ttl(key) > 0
    return {
        "dbsize": client.dbsize(),
        "keys": keys,
        "digest": digest.hexdigest(),
        "ttls": ttls,
        "config": client.config_get("*"),
    }


class Monitor:
    """Every command the server runs while doctor looks (MONITOR on a separate connection)."""

    def __init__(self, client: redis.Redis) -> None:
        self.commands: list[str] = []
        self._monitor = client.monitor()
        self._connection = self._monitor.__enter__()
        self._stop = False
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop:
            try:
                self.commands.append(str(self._connection.next_command()["command"]))
            except (redis.exceptions.RedisError, OSError, ValueError):
                return

    def stop(self) -> list[str]:
        self._stop = True
        time.sleep(0.2)
        self._monitor.__exit__(None, None, None)
        return self.commands


def test_production_safety(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = target.client(decode_responses=False)
    client.mset({f"order:{n}": f"payload-{n}" for n in range(1000)})
    for n in range(0, 1000, 3):
        client.expire(f"order:{n}", 7200)
    client.hset("session:xyz", mapping={"user_id": "7"})
    client.xadd("events", {"type": "signup"})
    before = snapshot(client)
    monitor = Monitor(target.client(socket_timeout=30))
    # --local: the server runs here, so the host checks read this machine too.
    completed = doctor("--redis-url", url(target), "--json", "--local")
    commands = monitor.stop()
    assert completed.returncode in (0, 1), completed.stderr
    after = snapshot(client)
    assert after == before
    # Every check doctor runs ran here, each under MONITOR (none cut short by the deadline).
    ran = by_id(as_json(completed))
    assert list(ran) == doctor_checks()
    assert not [check for check in ran.values() if check["measured"] == DEADLINE_MARK]
    lowered = [command.lower() for command in commands]
    assert lowered, "MONITOR saw nothing"
    bad = [
        c
        for c in lowered
        if c.split(" ")[0].strip('"') in ("flushall", "flushdb", "debug", "shutdown")
        or c.startswith('"config" "set"')
    ]
    assert not bad, bad
    written = [
        c
        for c in commands
        if c.lower().startswith(
            (
                '"set"',
                '"del"',
                '"unlink"',
                '"hset"',
                '"xadd"',
                '"lpush"',
                '"rpush"',
                '"zadd"',
                '"sadd"',
                '"expire"',
            )
        )
    ]
    for command in written:
        key = command.split(" ")[1].strip('"')
        assert key.startswith("nself-harness:"), command


def test_a_limited_acl_user_gets_what_it_can(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    admin = target.client()
    admin.acl_setuser(
        "doctor",
        enabled=True,
        passwords=["+doctor-pw-5e1f9a7b3c"],
        commands=[
            "-@all",
            "+@read",
            "+ping",
            "+info",
            "+client|setname",
            "+client|getname",
            "+hello",
            "+auth",
            "+select",
        ],
        keys=["nself-harness:*"],
    )
    completed = doctor("--redis-url", url(target, password="doctor-pw-5e1f9a7b3c", user="doctor"), "--json")
    assert completed.returncode in (0, 1), completed.stderr
    document = as_json(completed)
    statuses = {check["id"]: check["status"] for check in document["checks"]}
    assert statuses["health.ping"] == "ok"
    assert statuses["health.primary"] == "ok"
    skipped = [check for check in document["checks"] if check["status"] == "skipped"]
    assert skipped, statuses
    assert any(
        "not allowed for this user" in check["message"] or "NOPERM" in check["message"] for check in skipped
    ), skipped


def on_a_terminal(*args: str) -> str:
    """Doctor's output when stdout is a terminal (colour on)."""
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "pytest_nself_redis.cli", "doctor", *args]
    process = subprocess.Popen(command, stdout=follower, stderr=follower, env=base_env())
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def tls_target(tmp_path: Path, launch: Launcher) -> tuple[Path, Target, Path]:
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.prod": "REDIS_TLS_ENABLED=true"}
    )
    target = launch(project, "prod")
    assert target.endpoint.tls
    assert target.server_tls is not None
    assert target.endpoint.ca_file == str(target.server_tls.ca_cert)
    return project, target, target.server_tls.ca_cert


def test_sends_nothing_to_a_certificate_it_does_not_trust(tmp_path: Path, launch: Launcher) -> None:
    """The first connection reaches the real server (trusted through the system's CAs, here
    SSL_CERT_FILE); later ones meet a self-signed certificate and must send it nothing."""
    project, target, ca_cert = tls_target(tmp_path, launch)
    password = target.endpoint.password.reveal()
    cert, key = self_signed(tmp_path)
    with TlsInterceptor((LOOPBACK, target.endpoint.port), ca_cert, cert, key, forward=1) as mitm:
        completed = doctor(
            "--redis-url",
            f"rediss://:{password}@127.0.0.1:{mitm.port}",
            "--json",
            project=project,
            environ={"SSL_CERT_FILE": str(ca_cert)},
        )
    assert mitm.forwarded == 1, completed.stderr
    mitm.assert_sent_nothing()
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    document = as_json(completed)
    assert by_id(document)["auth.right_password"]["status"] == "error"
    assert password not in completed.stdout + completed.stderr


def test_insecure_is_explicit_and_said_in_red(tmp_path: Path, launch: Launcher) -> None:
    project, target, _ = tls_target(tmp_path, launch)
    password = target.endpoint.password.reveal()
    where = f"rediss://:{password}@127.0.0.1:{target.endpoint.port}"
    refused = doctor("--redis-url", where, project=project)
    assert refused.returncode == 2
    assert "presented a TLS certificate this run does not trust" in refused.stderr
    # Health only: what is judged is the TLS warning, not latency on a loaded test machine.
    document = as_json(
        doctor("--redis-url", where, "--insecure", "--json", "--suite", "health", project=project)
    )
    assert document["warnings"][0].startswith(
        "TLS verification OFF (--nself-redis-insecure / doctor --insecure)"
    )
    assert document["totals"]["error"] == 0, document
    shown = on_a_terminal(
        "--project", str(project), "--env", "prod", "--suite", "health", "--redis-url", where, "--insecure"
    )
    assert "\033[31m✗ TLS verification OFF (--nself-redis-insecure / doctor --insecure)" in shown, shown[
        -1000:
    ]
    assert password not in shown + json.dumps(document)


# / # @ : " \ and non-ASCII: a URL parser that trusts the port misreads it; JSON escapes " and \.
HOSTILE = 'k9Vq/x7Rw#m2Zt@p4Ly:"c8Hn\\üé€Jd5'
HOSTILE_PIECES = ("k9Vq", "x7Rw", "m2Zt", "p4Ly", "c8Hn", "üé€Jd5", "Jd5")


def test_a_password_full_of_url_characters_never_shows(tmp_path: Path, launch: Launcher) -> None:
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.secrets": f"REDIS_PASSWORD={HOSTILE}"}
    )
    target = launch(project, "prod")
    assert target.endpoint.password.reveal() == HOSTILE
    where = f"redis://:{HOSTILE}@127.0.0.1:{target.endpoint.port}"
    human = doctor("--redis-url", where, project=project)
    assert human.returncode in (0, 1), human.stderr  # reached and authenticated: the URL was read whole
    assert "attach redis://:********@127.0.0.1" in human.stdout
    as_json(doctor("--redis-url", where, "--json", project=project))
    runs = [
        human,
        doctor("--redis-url", where, "--json", project=project),
        doctor("--redis-url", where, "--nagios", project=project),
        doctor("--redis-url", f"redis://:{HOSTILE}@127.0.0.1:1", "--nagios", project=project),
        doctor("--redis-url", f"redis://:{HOSTILE}@127.0.0.1:notaport", project=project),
        doctor("--redis-url", f"redis://:{HOSTILE}@127.0.0.1:1", project=project),
    ]
    assert runs[3].stdout.startswith("REDIS UNKNOWN - nothing answers as Redis at 127.0.0.1:1")
    assert runs[4].returncode == 2
    assert "is not a valid URL" in runs[4].stderr
    for run in runs:
        shown = run.stdout + run.stderr
        assert [piece for piece in HOSTILE_PIECES if piece in shown] == [], shown[-1500:]
        assert json.dumps(HOSTILE)[1:-1] not in shown


def test_a_malformed_secret_line_is_not_quoted(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={".env.secrets": "REDIS_PASSWORD Sup3r-s3cret-9x"},
    )
    for args in ((), ("--nagios",), ("--json",)):
        completed = doctor("--redis-url", "redis://127.0.0.1:1", *args, project=project)
        assert completed.returncode in (2, 3)
        assert ".env.secrets:" in completed.stdout + completed.stderr
        assert "Sup3r" not in completed.stdout + completed.stderr


@pytest.mark.parametrize("variable", ["NSELF_REDIS_PASSWORD", "REDISCLI_AUTH"])
def test_the_password_can_come_from_the_environment(tmp_path: Path, launch: Launcher, variable: str) -> None:
    """Not in argv (ps shows argv): the variable overrides the env files' REDIS_PASSWORD (stale
    here) and fills in a URL without one."""
    password = "env-only-Pw-5f2a9c71e04b"
    target = launch(COMPLETE_WITHOUT_TLS, "prod", REDIS_PASSWORD=password)
    port = target.endpoint.port
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={
            ".env.secrets": "REDIS_PASSWORD=stale-Pw-not-the-servers-1",
            ".env.prod": f"REDIS_PORT={port}",
        },
    )
    for args in ((), ("--redis-url", f"redis://127.0.0.1:{port}")):
        without = doctor(*args, "--json", project=project)
        assert without.returncode == 2, without.stdout[-1000:] + without.stderr
        completed = doctor(*args, "--json", project=project, environ={variable: password})
        assert completed.returncode in (0, 1), completed.stdout[-2000:] + completed.stderr
        right = by_id(as_json(completed))["auth.right_password"]
        assert right["status"] == "ok", right
        assert f"environment variable {variable}" in right["message"]
        assert password not in completed.stdout + completed.stderr
    help_text = doctor("--help").stdout
    assert "NSELF_REDIS_PASSWORD" in help_text
    assert "REDISCLI_AUTH" in help_text


def test_a_project_without_queues_is_not_failed_for_its_cache_policy(
    tmp_path: Path, launch: Launcher
) -> None:
    """dev keeps nself's default allkeys-lru and runs no queue: queue readiness is a warning that
    says why; declared (REDIS_QUEUES=true) or found (BullMQ keys) queues make it an error."""
    target = launch(COMPLETE_WITHOUT_TLS, "dev")
    completed = doctor("--redis-url", url(target), "--json", env="dev")
    policy = by_id(as_json(completed))["queue.eviction_policy"]
    assert policy["status"] == "warning", policy
    assert "no queue here: REDIS_QUEUES=false (harness default) and no BullMQ key" in policy["message"]
    assert completed.returncode == 0, completed.stdout[-3000:]

    declared = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.dev": "REDIS_QUEUES=true"}
    )
    document = as_json(doctor("--redis-url", url(target), "--json", env="dev", project=declared))
    policy = by_id(document)["queue.eviction_policy"]
    assert policy["status"] == "error", policy
    assert "queues run here: REDIS_QUEUES=true (.env.dev:23)" in policy["message"]

    target.client().hset("bull:mail:meta", mapping={"opts.maxLenEvents": 10000})
    found = doctor("--redis-url", url(target), "--json", env="dev")
    assert found.returncode == 1
    policy = by_id(as_json(found))["queue.eviction_policy"]
    assert policy["status"] == "error", policy
    assert "queues run here: BullMQ keys found (bull:mail:meta)" in policy["message"]
