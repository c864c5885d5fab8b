"""Secrets never appear in reports, logs or terminal output (SPEC §7)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
import redis

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.process import ProcessTarget
from pytest_nself_redis.targets.select import make_target
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS, compose_file, make_project, run_pytest, run_suites
from tests.tls_proxy import LOOPBACK, TlsInterceptor, self_signed, signed_for_another_host

LEAKY_TESTS = """
import logging

import pytest


def test_assertion_shows_the_password(nself_settings):
    password = nself_settings.password.value.reveal()
    assert password == "something else"


def test_log_and_print_the_password(nself_settings, nself_target):
    password = nself_settings.password.value.reveal()
    logging.getLogger("app").warning("connecting with %s", password)
    print("password is", password, "url", f"redis://:{password}@127.0.0.1:6379/0")
    raise RuntimeError(f"boom {password}")


def test_other_secret_keys(nself_context):
    value = nself_context.resolved.get("API_TOKEN")
    pytest.fail(f"token was {value}")


@pytest.mark.destructive
def test_skip_reason_mentions(nself_settings):
    pytest.skip("skipping because " + nself_settings.password.value.reveal())
"""


def leaked(secret: str, result_output: str, reports: Path) -> list[str]:
    places = ["terminal"] if secret in result_output else []
    places += [
        str(path)
        for path in reports.rglob("*")
        if path.is_file() and secret in path.read_text(errors="replace")
    ]
    return places


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_no_secret_in_any_output(tmp_path: Path, workers: tuple[str, ...]) -> None:
    """Under -n too: the workers scrub what they send, as the controller knows no secret."""
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.staging": "API_TOKEN=tok-9d8e7f6a5b4c"}
    )
    password = NselfProject.open(project).settings("staging").password.value.reveal()
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    result = run_pytest(
        [
            "test_leaky.py",
            "--nself-project",
            str(project),
            "--nself-env",
            "staging",
            "--nself-target",
            "process",
            "-rA",
            "-v",
            "--log-level",
            "DEBUG",
            "--tb",
            "long",
            "--showlocals",
            *workers,
        ],
        tmp_path,
    )
    assert result.status == 1, result.output[-2000:]
    outcomes = result.outcomes("staging")
    assert outcomes["test_assertion_shows_the_password"] == "failed"
    assert outcomes["test_skip_reason_mentions"] == "skipped"
    assert "********" in result.output  # the places where it would have been
    assert leaked(password, result.output, result.reports) == []
    assert leaked("tok-9d8e7f6a5b4c", result.output, result.reports) == []


def test_attach_url_password_is_never_shown(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "staging")
    password = target.endpoint.password.reveal()
    result = run_pytest(
        [
            "--pyargs",
            "pytest_nself_redis.suites",
            "--nself-project",
            str(COMPLETE_WITHOUT_TLS),
            "--nself-env",
            "staging",
            "--nself-target",
            "attach",
            "-m",
            "health or config",
            "--nself-redis-url",
            f"redis://:{password}@127.0.0.1:{target.endpoint.port}",
            "-v",
            "-rA",
        ],
        tmp_path,
    )
    assert result.status == 0, result.output[-2000:]
    assert "attach redis://:********@127.0.0.1" in result.output
    assert leaked(password, result.output, result.reports) == []


def tls_project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.staging": "REDIS_TLS_ENABLED=true"}
    )


def tls_files(target: Target) -> Path:
    """The CA of a launched TLS server (ca.key lies beside it)."""
    assert target.endpoint.tls
    assert target.server_tls is not None
    assert target.endpoint.ca_file == str(target.server_tls.ca_cert)
    return target.server_tls.ca_cert


def test_attach_sends_nothing_to_a_certificate_it_does_not_trust(tmp_path: Path, launch: Launcher) -> None:
    """No --nself-redis-ca: the system's CAs (here SSL_CERT_FILE, the run's CA) vouch for the
    real server, which gets the first connection; every later connection meets a self-signed
    certificate. Not one check may send it a byte, AUTH least of all."""
    project = tls_project(tmp_path)
    target = launch(project, "staging")
    ca_cert, password = tls_files(target), target.endpoint.password.reveal()
    cert, key = self_signed(tmp_path)
    with TlsInterceptor((LOOPBACK, target.endpoint.port), ca_cert, cert, key, forward=1) as mitm:
        result = run_suites(
            project,
            tmp_path,
            "--nself-env",
            "staging",
            "--nself-target",
            "attach",
            "--nself-redis-url",
            f"rediss://:{password}@127.0.0.1:{mitm.port}",
            "-m",
            "auth or tls",
            env={"SSL_CERT_FILE": str(ca_cert)},
        )
    assert mitm.forwarded == 1, result.output[-2000:]
    mitm.assert_sent_nothing()
    accepts = result.case("test_accepts_tls_clients", "staging")
    assert accepts.outcome == "failed", result.output[-2000:]
    assert "speaks TLS but its certificate was not accepted" in accepts.details
    assert leaked(password, result.output, result.reports) == []


def test_attach_checks_the_host_name(tmp_path: Path, launch: Launcher) -> None:
    """A certificate from the right CA for another host is refused before anything is sent."""
    project = tls_project(tmp_path)
    target = launch(project, "staging")
    ca_cert, password = tls_files(target), target.endpoint.password.reveal()
    cert, key = signed_for_another_host(tmp_path, ca_cert.parent)
    with TlsInterceptor((LOOPBACK, target.endpoint.port), ca_cert, cert, key, forward=0) as mitm:
        result = run_suites(
            project,
            tmp_path,
            "--nself-env",
            "staging",
            "--nself-target",
            "attach",
            "--nself-redis-url",
            f"rediss://:{password}@127.0.0.1:{mitm.port}",
            "--nself-redis-ca",
            str(ca_cert),
            "-m",
            "health or auth",
        )
    assert result.status == 4, result.output[-2000:]
    assert "presented a TLS certificate this run does not trust" in result.output
    assert "127.0.0.1" in result.output
    assert "Traceback" not in result.output
    mitm.assert_sent_nothing()
    assert password not in result.output


def test_insecure_is_explicit_and_reported_in_red(tmp_path: Path, launch: Launcher) -> None:
    """Without a trusted CA the run refuses the server; --nself-redis-insecure reaches it and
    every report says verification was off."""
    project = tls_project(tmp_path)
    target = launch(project, "staging")
    password = target.endpoint.password.reveal()
    args = [
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"rediss://:{password}@127.0.0.1:{target.endpoint.port}",
        "-m",
        "health or tls",
    ]
    for name in ("refused", "insecure"):
        (tmp_path / name).mkdir()
    refused = run_suites(project, tmp_path / "refused", *args)
    assert refused.status == 4, refused.output[-2000:]
    assert "presented a TLS certificate this run does not trust" in refused.output
    result = run_suites(project, tmp_path / "insecure", *args, "--nself-redis-insecure", "--color=yes")
    outcomes = result.outcomes("staging")
    assert outcomes["test_answers_ping"] == "passed", result.output[-2000:]
    assert outcomes["test_accepts_tls_clients"] == "passed", result.output[-2000:]
    red = re.search(r"\x1b\[31m(\x1b\[1m)?\s*TLS verification OFF \(--nself-redis-insecure", result.stdout)
    assert red is not None, result.stdout[-2000:]
    html = (result.reports / "report-staging.html").read_text()
    assert "nself-alert" in html
    assert "TLS verification OFF (--nself-redis-insecure / doctor --insecure)" in html
    junit = (result.reports / "junit-staging.xml").read_text()
    assert (
        'name="TLS verification" value="TLS verification OFF (--nself-redis-insecure / doctor --insecure)'
        in junit
    )
    assert leaked(password, result.output, result.reports) == []


HOSTILE = 'k9Vq/x7Rw#m2Zt@p4Ly:"c8Hn\\üé€Jd5'
HOSTILE_PIECES = ("k9Vq", "x7Rw", "m2Zt", "p4Ly", "c8Hn", "Jd5")


def test_a_url_password_full_of_url_characters_is_read_whole_and_never_shown(
    tmp_path: Path, launch: Launcher
) -> None:
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.secrets": f"REDIS_PASSWORD={HOSTILE}"}
    )
    target = launch(project, "prod")
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "prod",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://:{HOSTILE}@127.0.0.1:{target.endpoint.port}",
        "-m",
        "health or auth",
        "-v",
        "-rA",
    )
    assert result.case("test_answers_ping", "prod").outcome == "passed", result.output[-2000:]
    assert "attach redis://:********@127.0.0.1" in result.output
    for piece in HOSTILE_PIECES:
        assert leaked(piece, result.output, result.reports) == [], piece


def test_a_malformed_secret_line_is_not_quoted(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={".env.secrets": "REDIS_PASSWORD Sup3r-s3cret-9x"},
    )
    result = run_suites(project, tmp_path, "--nself-env", "prod", "--nself-target", "process", "-m", "health")
    assert result.status == 4, result.output[-2000:]
    assert ".env.secrets:" in result.output
    assert leaked("Sup3r", result.output, result.reports) == []


def test_attach_takes_the_password_from_the_environment(tmp_path: Path, launch: Launcher) -> None:
    password = "env-only-Pw-83be01d4c6f7"
    target = launch(COMPLETE_WITHOUT_TLS, "staging", REDIS_PASSWORD=password)
    args = [
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://127.0.0.1:{target.endpoint.port}",
        "-m",
        "health or auth",
    ]
    result = run_suites(COMPLETE_WITHOUT_TLS, tmp_path, *args, env={"NSELF_REDIS_PASSWORD": password})
    assert result.case("test_answers_ping", "staging").outcome == "passed", result.output[-2000:]
    assert result.case("test_right_password_works", "staging").outcome == "passed", result.output[-2000:]
    assert leaked(password, result.output, result.reports) == []
    help_text = run_pytest(["--help"], tmp_path).stdout
    assert "NSELF_REDIS_PASSWORD" in help_text


def test_the_process_target_keeps_passwords_off_its_command_line(tmp_path: Path, launch: Launcher) -> None:
    """/proc/<pid>/cmdline is readable by every local user: passwords go to a 0600 file.
    (set-proc-title no keeps the command line as exec'd; by default Redis overwrites it once
    started, which leaves the first milliseconds and every restart exposed.)"""
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.secrets": f"REDIS_PASSWORD={HOSTILE}"}
    )
    masterauth = "master-Pw-1c9e77d3"
    target = launch(project, "prod", extra_args=("--masterauth", masterauth, "--set-proc-title", "no"))
    assert isinstance(target, ProcessTarget)
    for _ in range(2):  # as launched, then after a restart
        assert target.process is not None
        cmdline = Path(f"/proc/{target.process.pid}/cmdline").read_bytes().decode()
        for secret in (HOSTILE, masterauth, *HOSTILE_PIECES):
            assert secret not in cmdline, cmdline
        config = Path(cmdline.split("\x00")[1])
        assert config.is_file()
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
        client = target.client()
        assert client.ping() is True  # the password, quotes and backslash included, arrived whole
        assert client.config_get("masterauth") == {"masterauth": masterauth}
        with pytest.raises(redis.exceptions.AuthenticationError):
            target.connect().ping()  # and it is required
        target.restart()


def test_the_deployments_own_config_file_is_still_read(tmp_path: Path, run_id: str) -> None:
    """redis-server reads one config file: the secrets file includes the deployment's first, so
    its directives hold and the command line's --requirepass still wins over it."""
    command = "redis-server /usr/local/etc/redis/redis.conf --requirepass ${REDIS_PASSWORD}"
    compose = compose_file(command).replace(
        "      - redis_data:/data",
        "      - redis_data:/data\n      - ./redis.conf:/usr/local/etc/redis/redis.conf",
    )
    project = make_project(tmp_path / "project", COMPLETE_WITHOUT_TLS, compose=compose)
    (project / "redis.conf").write_text('hz 17\nrequirepass "from-the-file-xyz"\n')
    context = load_env_context(NselfProject.open(project), "prod")
    target = make_target("process", context, TargetOptions(run_id=run_id))
    try:
        target.start()
        client = target.client()
        assert client.config_get("hz") == {"hz": "17"}
        assert client.ping() is True  # REDIS_PASSWORD, not the file's
    finally:
        target.stop()


def test_tls_keys_are_private_and_readable_by_the_server_only(
    tmp_path: Path, launch: Launcher, target_kind: str
) -> None:
    """0600 keys in a 0700 folder; for docker the folder and key belong to the container's user
    (compose user 999:999), so the server still reads them through the bind mount."""
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.prod": "REDIS_TLS_ENABLED=true"}
    )
    target = launch(project, "prod", target_kind)
    assert target.endpoint.tls
    assert target.server_tls is not None
    key = target.server_tls.key
    assert key is not None
    folder = key.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "ca.key").stat().st_mode) == 0o600
    owner = (999, 999) if target_kind == "docker" else (os.getuid(), os.getgid())
    assert (key.stat().st_uid, key.stat().st_gid) == owner
    assert folder.stat().st_uid == owner[0]
    assert (folder / "ca.key").stat().st_uid == os.getuid()  # the CA key never leaves us
    assert target.client().ping() is True  # the server read its key


def test_literal_passwords_in_the_compose_file_are_never_shown(tmp_path: Path) -> None:
    """The compose file writes its own password (not REDIS_PASSWORD) into the command, the
    environment and the healthcheck: the auth suite reports the literals, and none is shown."""
    command_literal, env_literal, health_literal = (
        "cmd-Literal-Pw-4e1d9a",
        "env-Literal-Pw-7b2c",
        "hc-Literal-Pw-0f3e",
    )
    compose = compose_file(f"redis-server --appendonly yes --requirepass {command_literal}").replace(
        "    volumes:",
        "    environment:\n"
        f"      BACKUP_PASSWORD: {env_literal}\n"
        "    healthcheck:\n"
        f'      test: ["CMD-SHELL", "redis-cli -a {health_literal} ping"]\n'
        "    volumes:",
    )
    project = make_project(tmp_path / "project", COMPLETE_WITHOUT_TLS, compose=compose)
    (tmp_path / "test_leaky.py").write_text(LEAKY_COMPOSE_TESTS)
    result = run_pytest(
        [
            "test_leaky.py",
            "--pyargs",
            "pytest_nself_redis.suites",
            "--nself-project",
            str(project),
            "--nself-env",
            "staging",
            "--nself-target",
            "process",
            "-k",
            "test_print_the_literals or test_auth or test_config",
            "-v",
            "-rA",
            "--tb",
            "long",
            "--showlocals",
        ],
        tmp_path,
    )
    assert result.case("test_compose_holds_no_literal_password", "staging").outcome == "failed", (
        result.output[-3000:]
    )
    assert result.case("test_print_the_literals", "staging").outcome == "failed"
    for literal in (command_literal, env_literal, health_literal):
        assert leaked(literal, result.output, result.reports) == [], literal


LEAKY_COMPOSE_TESTS = """
def test_print_the_literals(nself_service):
    print("command", nself_service.command, "env", dict(nself_service.environment))
    assert nself_service.healthcheck == ()
"""


def test_endpoints_for_our_own_clients_keep_the_password_hidden() -> None:
    """The ServerAddress our own sockets, the sampler and Node connect with holds a Secret: repr
    (and so assertion rewriting, --showlocals, logs) and describe() never show it; only the code
    that sends it reveals it."""
    client = redis.Redis(host="127.0.0.1", port=1, password="endpoint-Pw-93ad51", username="app")
    endpoint = ServerAddress.of(client)
    for shown in (repr(endpoint), str(endpoint), endpoint.describe(), endpoint.where()):
        assert "endpoint-Pw-93ad51" not in shown
    assert endpoint.password.reveal() == "endpoint-Pw-93ad51"
    assert endpoint.redis_kwargs()["password"] == "endpoint-Pw-93ad51"
    client.close()
