"""The auth and tls suites fail on deliberately broken deployments, naming the cause.

Each case builds a project (the complete example plus appended env lines and/or a
compose file), runs the suite in a real pytest process on the process target, and
asserts exactly which tests failed and what their messages say. No run may print
a password.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_nself_redis.project.model import NselfProject
from tests.conftest import Launcher
from tests.harness import (
    COMPLETE,
    NSELF_099,
    NSELF_14,
    STAGING_COMMAND,
    RunResult,
    appended_line,
    compose_file,
    make_project,
    run_suites,
)

PASSWORDS = {
    env: NselfProject.open(COMPLETE).settings(env).password.value.reveal()
    for env in ("dev", "staging", "prod")
}
LITERAL = "s3cr3t-literal-0123456789"


def no_secret_leaked(result: RunResult, *secrets: str) -> None:
    shown = [secret for secret in secrets if secret and secret in result.output]
    assert not shown, "a password reached the terminal output"
    for path in result.reports.iterdir():
        text = path.read_text(errors="replace")
        assert not [secret for secret in secrets if secret and secret in text], (
            f"a password is in {path.name}"
        )


def failed_tests(result: RunResult) -> list[str]:
    return sorted(name for name, outcome in result.outcomes().items() if outcome == "failed")


@dataclass
class Broken:
    """A broken deployment: what to write, which tests must fail, what each message must say."""

    env: str
    env_files: dict[str, str] = field(default_factory=dict)
    compose: str | None = None
    marker: str = "auth"
    failed: dict[str, list[str]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


STAGING = appended_line(".env.staging")
BROKEN = {
    "no password (staging)": Broken(
        "staging",
        {".env.staging": "REDIS_PASSWORD="},
        failed={
            "test_password_is_set": [
                f"REDIS_PASSWORD=(empty) (.env.staging:{STAGING})",
                "no password for env staging",
                "nself build refuses an empty password outside dev",
            ]
        },
    ),
    "password promised but the compose command sets none": Broken(
        "staging",
        compose=compose_file(STAGING_COMMAND.replace(" --requirepass ${REDIS_PASSWORD}", "")),
        failed={
            "test_noauth_before_auth": ["unauthenticated PING", "got +PONG", "sets no --requirepass"],
            "test_wrong_password_is_refused": [
                "-ERR AUTH",
                "the server has no password",
                "sets no --requirepass",
            ],
            "test_right_password_works": ["-ERR AUTH", "sets no --requirepass"],
            "test_url_form_works": ["PING through it got"],
            # test_oversized_unauthenticated_request_is_refused is skipped: the header would make a
            # server without a password reserve 100 MB (auth.noauth reports the missing password)
        },
        secrets=(PASSWORDS["staging"],),
    ),
    "password promised but nself 0.9.9's no-password command deployed": Broken(
        "staging",
        compose=compose_file("redis-server --appendonly yes --protected-mode no"),
        failed={
            "test_noauth_before_auth": ["got +PONG", "sets no --requirepass (docker-compose.yml:5)"],
            "test_wrong_password_is_refused": ["the server has no password"],
            "test_right_password_works": ["the server has no password"],
            "test_url_form_works": ["PING through it got"],
            "test_protected_mode_without_password": [
                "the running server answers without one",
                "sets --protected-mode no (docker-compose.yml:5)",
            ],
        },
        secrets=(PASSWORDS["staging"],),
    ),
    "weak password (one nself rejects, any case)": Broken(
        "dev",
        {".env.dev": "REDIS_PASSWORD=ChangeMe"},
        failed={
            "test_password_is_not_rejected": [
                f"REDIS_PASSWORD=******** (.env.dev:{appended_line('.env.dev')}) is one of them",
                "values nself rejects as insecure",
            ]
        },
        secrets=("ChangeMe", "changeme"),
    ),
    "password too short for prod": Broken(
        "prod",
        {".env.secrets": "REDIS_PASSWORD=Kq83-short-pw"},
        failed={
            "test_password_is_long_enough": [
                "prod passwords have at least 20 characters (the prod default",
                f"REDIS_PASSWORD=******** (.env.secrets:{appended_line('.env.secrets')}) has 13 characters",
            ]
        },
        secrets=("Kq83-short-pw",),
    ),
    "the password written literally in the compose command": Broken(
        "staging",
        compose=compose_file(STAGING_COMMAND.replace("${REDIS_PASSWORD}", PASSWORDS["staging"])),
        failed={
            "test_compose_holds_no_literal_password": [
                "Broken: the command's --requirepass is a literal value (docker-compose.yml:5); anyone who "
                "can read the file (or its git history) has the password, and so does anyone who can run "
                "`docker inspect` on the container",
                "Write ${REDIS_PASSWORD} and keep the value in .env.secrets",
            ]
        },
        secrets=(PASSWORDS["staging"],),
    ),
    "another password written literally in the compose command": Broken(
        "staging",
        compose=compose_file(STAGING_COMMAND.replace("${REDIS_PASSWORD}", LITERAL)),
        failed={
            "test_compose_holds_no_literal_password": [
                "the command's --requirepass is a literal value (docker-compose.yml:5)"
            ],
            "test_right_password_works": ["-WRONGPASS", "requires a different password than REDIS_PASSWORD"],
            "test_url_form_works": ["PING through it got AuthenticationError"],
        },
        secrets=(PASSWORDS["staging"], LITERAL),
    ),
    "port published on every interface (6379:6379)": Broken(
        "staging",
        compose=compose_file(port="6379:6379"),
        failed={
            "test_host_port_is_loopback_only": [
                "publishes 6379:6379 (docker-compose.yml:9) on every interface",
                "other machines reach the port",
            ]
        },
    ),
    "port published on 0.0.0.0": Broken(
        "staging",
        compose=compose_file(port="0.0.0.0:${REDIS_PORT}:6379"),
        failed={
            "test_host_port_is_loopback_only": [
                "publishes 0.0.0.0:6379:6379 (docker-compose.yml:9) on every interface"
            ]
        },
    ),
    "REDIS_PORT=0 but the compose file publishes a port": Broken(
        "staging",
        {".env.staging": "REDIS_PORT=0"},
        compose=compose_file(port="127.0.0.1:${REDIS_PORT:-6379}:6379"),
        failed={
            "test_port_zero_publishes_none": [
                f"no host port is published (REDIS_PORT=0 (.env.staging:{STAGING}))",
                "still publishes 127.0.0.1:0:6379 (docker-compose.yml:9)",
                "host port 0 makes Docker pick a free port",
            ]
        },
    ),
    "protected mode off without a password (nself 0.9.9's no-password command)": Broken(
        "dev",
        {".env.dev": "REDIS_PASSWORD="},
        compose=compose_file("redis-server --appendonly yes --protected-mode no"),
        failed={
            "test_protected_mode_without_password": [
                f"without a password (REDIS_PASSWORD=(empty) (.env.dev:{appended_line('.env.dev')}))",
                "Broken at the deployment layer",
                "sets --protected-mode no (docker-compose.yml:5)",
                "live protected-mode=no",
            ]
        },
    ),
    "TLS promised but the server speaks plaintext": Broken(
        "staging",
        {".env.staging": "REDIS_TLS_ENABLED=true"},
        compose=compose_file(),
        marker="tls",
        failed={
            "test_accepts_tls_clients": [
                f"REDIS_TLS_ENABLED=true (.env.staging:{STAGING})",
                "a TLS handshake with 127.0.0.1:",
                "failed (",
                "sets no --tls-port (docker-compose.yml:5)",
            ],
            "test_refuses_plaintext": ["got -NOAUTH", "the server speaks plain TCP there"],
        },
        secrets=(PASSWORDS["staging"],),
    ),
}


def run_broken(tmp_path: Path, broken: Broken, kind: str) -> RunResult:
    project = make_project(tmp_path / "project", env_files=broken.env_files, compose=broken.compose)
    return run_suites(
        project, tmp_path, "--nself-env", broken.env, "--nself-target", kind, "-m", broken.marker
    )


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_each_broken_deployment_is_caught(tmp_path: Path, case: str) -> None:
    broken = BROKEN[case]
    result = run_broken(tmp_path, broken, "process")
    assert result.status == 1, result.output[-3000:]
    assert failed_tests(result) == sorted(broken.failed), result.output[-3000:]
    for name, fragments in broken.failed.items():
        details = result.case(name).details
        for fragment in fragments:
            assert fragment in details, f"{name}: {fragment!r} not in {details!r}"
    no_secret_leaked(result, *broken.secrets, *PASSWORDS.values())


# The server probes go through docker-proxy on the docker target: they must see the same.
# (A server without password keeps protected mode on by default and then refuses connections
# that come through docker-proxy, so the docker case deploys nself 0.9.9's no-password command.)
ON_DOCKER = (
    "password promised but nself 0.9.9's no-password command deployed",
    "TLS promised but the server speaks plaintext",
)


@pytest.mark.docker
@pytest.mark.parametrize("case", ON_DOCKER, ids=ON_DOCKER)
def test_server_probes_catch_the_same_on_docker(tmp_path: Path, case: str, docker_engine: None) -> None:
    broken = BROKEN[case]
    result = run_broken(tmp_path, broken, "docker")
    assert result.status == 1, result.output[-3000:]
    assert failed_tests(result) == sorted(broken.failed), result.output[-3000:]
    for name, fragments in broken.failed.items():
        details = result.case(name).details
        for fragment in fragments:
            assert fragment in details, f"{name}: {fragment!r} not in {details!r}"
    no_secret_leaked(result, *broken.secrets, *PASSWORDS.values())


def test_no_password_skips_what_needs_one_and_only_warns_in_dev(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", env_files={".env.dev": "REDIS_PASSWORD="})
    result = run_suites(project, tmp_path, "--nself-env", "dev", "--nself-target", "process", "-m", "auth")
    assert result.status == 0, result.explain()
    outcomes = result.outcomes("dev")
    for name in (
        "test_noauth_before_auth",
        "test_wrong_password_is_refused",
        "test_right_password_works",
        "test_url_form_works",
        "test_oversized_unauthenticated_request_is_refused",
        "test_password_is_not_rejected",
        "test_password_is_long_enough",
    ):
        assert outcomes[name] == "skipped", (name, outcomes)
        assert "no password is promised (REDIS_PASSWORD=(empty) (.env.dev:" in result.case(name).message
    assert outcomes["test_password_is_set"] == "passed"
    assert "PromiseWarning" in result.output
    assert "no password for env dev" in result.output
    assert "nself builds dev without a password only with --allow-insecure" in result.output
    # the rendered service keeps protected mode on: the check is kept, not skipped
    assert outcomes["test_protected_mode_without_password"] == "passed"


def test_the_minimum_length_is_configurable(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", env_files={".env.secrets": "REDIS_PASSWORD=Kq83-short-pw"})
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "prod",
        "--nself-target",
        "process",
        "-m",
        "auth",
        env={"REDIS_PASSWORD_MIN_LENGTH_PROD": "12"},
    )
    assert result.status == 0, result.explain()
    assert result.outcomes("prod")["test_password_is_long_enough"] == "passed"
    no_secret_leaked(result, "Kq83-short-pw")


def test_nself_099_healthcheck_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    result = run_suites(
        NSELF_099, tmp_path, "--nself-env", "staging", "--nself-target", "process", "-m", "auth or tls"
    )
    assert result.status == 0, result.explain()
    assert result.outcomes("staging")["test_healthcheck_keeps_password_off_the_command_line"] == "passed"
    assert "PromiseWarning" in result.output
    assert "the healthcheck (docker-compose.yml:25) runs redis-cli -a <password>" in result.output
    staging = NselfProject.open(NSELF_099).settings("staging").password.value.reveal()
    no_secret_leaked(result, staging)


def test_protected_mode_turned_off_at_run_time_breaks_the_live_layer(
    tmp_path: Path, launch: Launcher
) -> None:
    target = launch(COMPLETE, "dev", REDIS_PASSWORD="")
    target.client().config_set("protected-mode", "no")
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "dev",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://127.0.0.1:{target.endpoint.port}",
        "-m",
        "auth",
    )
    case = result.case("test_protected_mode_without_password")
    assert case.outcome == "failed", result.output[-3000:]
    assert "the running server answers without one" in case.details
    assert "Broken at the live layer" in case.details
    assert "running server reports protected-mode=no" in case.details
    # the env files promise a password the server does not ask for: the server probes fail too
    assert result.case("test_noauth_before_auth").outcome == "failed"
    no_secret_leaked(result, *PASSWORDS.values())


def test_an_acl_user_without_a_password_is_caught(tmp_path: Path, launch: Launcher) -> None:
    """A second way in: an enabled ACL user with nopass and +@all. The default user still needs
    the password, so every other auth check passes; this one names the user."""
    from tests.doctor.test_doctor import as_json, by_id, doctor

    target = launch(COMPLETE, "staging")
    target.client().execute_command("ACL", "SETUSER", "backdoor", "on", "nopass", "~*", "&*", "+@all")
    password = target.endpoint.password.reveal()
    url = f"redis://:{password}@127.0.0.1:{target.endpoint.port}"
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        url,
        "-m",
        "auth",
    )
    assert failed_tests(result) == ["test_no_acl_user_without_a_password"], result.output[-3000:]
    details = result.case("test_no_acl_user_without_a_password").details
    assert "ACL user backdoor is enabled with nopass" in details
    assert "ACL SETUSER backdoor" in details
    no_secret_leaked(result, password)
    checks = by_id(as_json(doctor("--redis-url", url, "--json", env="staging", project=COMPLETE)))
    assert checks["auth.acl_nopass"]["status"] == "error"
    assert "backdoor" in checks["auth.acl_nopass"]["message"]


def test_acl_users_are_not_judged_where_acl_is_refused(launch: Launcher) -> None:
    from pytest_nself_redis.checks import CheckContext, Status, auth

    target = launch(COMPLETE, "staging")
    target.client().execute_command(
        "ACL", "SETUSER", "app", "on", ">app-Pw-0123456789", "~*", "&*", "+@all", "-@admin"
    )
    context = CheckContext.of(target, target.connect(password="app-Pw-0123456789", username="app"))
    result = auth.no_acl_user_without_a_password(context)
    assert result.status is Status.SKIPPED, result.message
    assert "ACL LIST" in result.message
    assert "no permissions" in result.message


NSELF_14_PASSWORD = "CVZuM9eCXed6Kd6zkVGldHqlxYcb"  # written in examples/nself-1.4's compose file


def test_nself_14_writes_the_password_where_docker_inspect_shows_it(tmp_path: Path) -> None:
    result = run_suites(NSELF_14, tmp_path, "--nself-target", "process", "-m", "auth")
    assert result.status == 1, result.output[-3000:]
    assert failed_tests(result) == ["test_compose_holds_no_literal_password"]
    details = result.case("test_compose_holds_no_literal_password").details
    assert (
        "Broken: the command's --requirepass is a literal value (docker-compose.yml:17); "
        "the healthcheck's -a is a literal value (docker-compose.yml:21); anyone who can read the file"
    ) in details
    assert "`docker inspect` on the container, whose config keeps its command, healthcheck" in details
    assert "nself 1.x writes every value into the file on each build, the password too" in details
    assert "REDIS_PASSWORD=******** (.env.secrets:3)" in details
    assert "the healthcheck (docker-compose.yml:21) runs redis-cli -a <password>" in result.output
    assert "`docker inspect` shows the probe's argv" in result.output
    no_secret_leaked(result, NSELF_14_PASSWORD)


# The redis service nself 1.x writes for a project without REDIS_PASSWORD.
NSELF_1X_NO_PASSWORD = """services:
  redis:
    image: redis:7-alpine
    user: "999:999"
    command: redis-server --appendonly yes --protected-mode no --maxclients 50
    volumes: [redis_data:/data]
    ports: ["127.0.0.1:6379:6379"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
    deploy: {resources: {limits: {memory: 512M, cpus: "0.5"}}}
    cap_drop: [ALL]
    read_only: true
    tmpfs: [/tmp]
volumes:
  redis_data:
"""


def test_nself_1x_without_a_password_turns_protected_mode_off(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(NSELF_14, project)
    (project / "docker-compose.yml").write_text(NSELF_1X_NO_PASSWORD)
    (project / ".env.secrets").write_text("REDIS_PASSWORD=\n")
    result = run_suites(project, tmp_path, "--nself-target", "process", "-m", "auth")
    assert result.status == 1, result.output[-3000:]
    assert failed_tests(result) == ["test_protected_mode_without_password"]
    details = result.case("test_protected_mode_without_password").details
    assert "without a password (REDIS_PASSWORD=(empty) (.env.secrets:1))" in details
    assert "sets --protected-mode no (docker-compose.yml:5); live protected-mode=no" in details
    assert "any client that reaches the port gets in" in details
    assert "Cause: nself 1.x writes --protected-mode no whenever REDIS_PASSWORD is empty" in details
    assert result.outcomes("dev")["test_healthcheck_keeps_password_off_the_command_line"] == "skipped"
