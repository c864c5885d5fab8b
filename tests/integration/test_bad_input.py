"""Bad input ends with one readable message, the right exit status, no traceback,
and nothing left behind (SPEC §8)."""

from __future__ import annotations

import shutil
import socket
import socketserver
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_nself_redis.errors import ExitStatus
from tests.conftest import Launcher
from tests.harness import (
    COMPLETE,
    NSELF_14,
    STAGING_APPENDED,
    RunResult,
    assert_nothing_left,
    compose_file,
    make_project,
    run_cli,
    run_suites,
    without_file_access,
)

USAGE = 4  # pytest's usage-error status, used for every "cannot start" case


def assert_clear_failure(
    result: RunResult, fragment: str, status: int = USAGE, hidden: str | None = None
) -> None:
    """One ``nself-redis:`` message holding ``fragment``, the status, no traceback; ``hidden``
    (a secret) in no output and no report."""
    output = result.output
    assert result.status == status, output[-2000:]
    assert fragment in output, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    assert output.count("nself-redis: ") == 1, output[-2000:]
    if hidden is not None:
        assert hidden not in output
        if result.reports.is_dir():
            assert all(hidden not in path.read_text() for path in result.reports.iterdir())


def run(
    project: Path,
    cwd: Path,
    run_id: str,
    *args: str,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> RunResult:
    return run_suites(
        project, cwd, *args, "-m", "health", env={"NSELF_RUN_ID": run_id, **(env or {})}, prefix=prefix
    )


# Flags as each front end names them, for the messages of a Bad case.
PLUGIN_FLAGS = {"url": "--nself-redis-url", "ca": "--nself-redis-ca"}
DOCTOR_FLAGS = {"url": "--redis-url", "ca": "--redis-ca"}
SECRET = "s3cret-pw-0e1f"
STAGING_PASSWORD = "stg-redis-7f3a91c04e2b6d58"  # REDIS_PASSWORD of examples/complete/.env.staging


@dataclass(frozen=True)
class Bad:
    """One piece of bad input and what the one message about it must say.

    Run through the plugin, then through ``nself-redis doctor`` (``doctor`` is its extra
    arguments; None where doctor does not read the input) or ``nself-redis check``
    (``check`` is what goes on to pytest). ``fragment`` may name ``{url}``, ``{ca}`` (the
    flag as that front end spells it) and ``{project}``."""

    fragment: str
    env_files: Mapping[str, str] = field(default_factory=dict)
    compose: str | bytes | None = None
    layout: Callable[[Path], Path] | None = None
    plugin: tuple[str, ...] = ()
    doctor: tuple[str, ...] | None = ()
    check: tuple[str, ...] | None = None
    hidden: str | None = None
    no_file_access: bool = False
    # The process environment of every front end (e.g. NSELF_LEGACY_ENV_ORDER).
    environ: Mapping[str, str] = field(default_factory=dict)

    def project(self, directory: Path) -> Path:
        if self.layout is not None:
            return self.layout(directory)
        return make_project(directory, env_files=self.env_files, compose=self.compose)


def _cli_result(completed: subprocess.CompletedProcess[str], cwd: Path) -> RunResult:
    return RunResult(completed.returncode, completed.stdout, completed.stderr, cwd / "reports")


def assert_refused(bad: Bad, tmp_path: Path, run_id: str) -> None:
    """The plugin and the CLI each end with the one message, their status, and nothing left."""
    project = bad.project(tmp_path / "project")
    prefix = without_file_access() if bad.no_file_access else ()
    base = ("--nself-env", "staging", "--nself-target", "process")
    plugin = run(project, tmp_path, run_id, *base, *bad.plugin, env=dict(bad.environ), prefix=prefix)
    assert_clear_failure(plugin, bad.fragment.format(project=project, **PLUGIN_FLAGS), USAGE, bad.hidden)
    assert_nothing_left(run_id, docker=False)
    if bad.doctor is not None:
        args = ["doctor", "--project", str(project), "--env", "staging", "--timeout", "1", *bad.doctor]
        doctor = _cli_result(run_cli(args, tmp_path, env=bad.environ, prefix=prefix), tmp_path)
        fragment = bad.fragment.format(project=project, **DOCTOR_FLAGS)
        assert_clear_failure(doctor, fragment, int(ExitStatus.USAGE), bad.hidden)
    if bad.check is not None:
        args = ["check", "--project", str(project), "--env", "staging", "--target", "process", "--"]
        completed = run_cli(
            [*args, "-m", "health", *bad.check],
            tmp_path,
            env={"NSELF_RUN_ID": run_id, **bad.environ},
            prefix=prefix,
        )
        fragment = bad.fragment.format(project=project, **PLUGIN_FLAGS)
        assert_clear_failure(_cli_result(completed, tmp_path), fragment, USAGE, bad.hidden)
        assert_nothing_left(run_id, docker=False)


def _missing(directory: Path) -> Path:
    return directory / "nowhere"


def _empty(directory: Path) -> Path:
    directory.mkdir()
    return directory


def _a_file(directory: Path) -> Path:
    directory.write_text("not a directory\n")
    return directory


def _complete(directory: Path) -> Path:
    return COMPLETE


def _replaced_by_a_directory(name: str) -> Callable[[Path], Path]:
    def layout(directory: Path) -> Path:
        make_project(directory, compose=compose_file() if name == "docker-compose.yml" else None)
        (directory / name).unlink()
        (directory / name).mkdir()
        return directory

    return layout


def _unreadable(name: str) -> Callable[[Path], Path]:
    def layout(directory: Path) -> Path:
        make_project(directory, compose=compose_file())
        (directory / name).chmod(0)
        return directory

    return layout


def _nself_14(extra: Mapping[str, str] | None = None) -> Callable[[Path], Path]:
    """A copy of the nself 1.4 example (its .nself/ folder too), files of ``extra`` written over."""

    def layout(directory: Path) -> Path:
        shutil.copytree(NSELF_14, directory)
        for name, text in (extra or {}).items():
            (directory / name).write_text(text)
        return directory

    return layout


NSELF_14_PASSWORD = "CVZuM9eCXed6Kd6zkVGldHqlxYcb"  # written in examples/nself-1.4's compose file


def _latin1_env(directory: Path) -> Path:
    make_project(directory)
    with (directory / ".env.staging").open("ab") as handle:
        handle.write(b"REDIS_MAXMEMORY=128mb\nREDIS_PASSWORD=caf\xe9-s3cret\n")
    return directory


def _certificates(directory: Path) -> Path:
    make_project(directory)
    (directory / "not-a-cert.pem").write_text("hello, I am not a certificate\n")
    (directory / "certs").mkdir()
    return directory


def redis_service(body: str) -> str:
    """A compose file whose redis service goes on with ``body`` from line 4."""
    return f"services:\n  redis:\n    image: redis:7-alpine\n{body}"


def _nested_defaults(depth: int) -> str:
    return "${A:-" * depth + "1mb" + "}" * depth


def url_case(fragment: str, url: str, ca: str | None = None, hidden: str | None = None) -> Bad:
    plugin: tuple[str, ...] = ("--nself-target", "attach", "--nself-redis-url", url, "--nself-timeout", "1")
    doctor: tuple[str, ...] = ("--redis-url", url)
    if ca is not None:
        plugin += ("--nself-redis-ca", ca)
        doctor += ("--redis-ca", ca)
    return Bad(fragment, layout=_certificates, plugin=plugin, doctor=doctor, hidden=hidden)


def option_case(fragment: str, *args: str) -> Bad:
    return Bad(fragment, layout=_complete, plugin=args, doctor=None, check=args)


BAD_INPUT = {
    # the project itself
    "missing": Bad("nself project directory {project} does not exist", layout=_missing),
    "a-file": Bad("nself project {project} is not a directory", layout=_a_file),
    "empty": Bad("holds no .env files", layout=_empty),
    "unknown-env": Bad(
        "unknown env 'stagin': this project knows dev, staging, prod",
        layout=_complete,
        plugin=("--nself-env", "stagin"),
        doctor=("--env", "stagin"),
    ),
    "bogus-target": Bad(
        "--nself-target='bogus': choose one of auto, docker",
        layout=_complete,
        plugin=("--nself-target", "bogus"),
        doctor=None,
    ),
    # env files
    "malformed": Bad(
        f".env.staging:{STAGING_APPENDED}: expected KEY=VALUE", env_files={".env.staging": "oops"}
    ),
    "unclosed-quote": Bad(
        f'.env.staging:{STAGING_APPENDED}: the value opens a " quote that is never closed',
        env_files={".env.staging": f'REDIS_PASSWORD="{SECRET}'},
        hidden=SECRET,
    ),
    "not-utf8-env": Bad(
        f".env.staging:{STAGING_APPENDED + 1}: not UTF-8 text", layout=_latin1_env, hidden="s3cret"
    ),
    "env-is-a-directory": Bad(
        ".env.staging: cannot be read (Is a directory)", layout=_replaced_by_a_directory(".env.staging")
    ),
    "unreadable-env": Bad(
        ".env.staging: cannot be read (Permission denied)",
        layout=_unreadable(".env.staging"),
        no_file_access=True,
    ),
    # settings
    "invalid-policy": Bad(
        f"REDIS_MAXMEMORY_POLICY=lru (.env.staging:{STAGING_APPENDED}): "
        "valid choices: noeviction, allkeys-lru",
        env_files={".env.staging": "REDIS_MAXMEMORY_POLICY=lru"},
    ),
    "size-unit": Bad(
        f"REDIS_MAXMEMORY=12xb (.env.staging:{STAGING_APPENDED}): expected a whole number of bytes",
        env_files={".env.staging": "REDIS_MAXMEMORY=12xb"},
    ),
    "size-negative": Bad(
        f"REDIS_MAXMEMORY=-1 (.env.staging:{STAGING_APPENDED}): expected a whole number of bytes",
        env_files={".env.staging": "REDIS_MAXMEMORY=-1"},
    ),
    "size-huge": Bad(
        f"REDIS_MAXMEMORY=99999999999999999999gb (.env.staging:{STAGING_APPENDED}): "
        "larger than Redis accepts (2^64 - 1 bytes)",
        env_files={".env.staging": "REDIS_MAXMEMORY=99999999999999999999gb"},
    ),
    "disabled": Bad("REDIS_ENABLED is not true for env staging", env_files={".env": "REDIS_ENABLED=false"}),
    # the compose file
    "no-redis": Bad(
        "docker-compose.yml has no `redis` service (it has: web)",
        compose="services:\n  web:\n    image: nginx\n",
    ),
    "invalid-yaml": Bad(
        "docker-compose.yml:4: not valid YAML", compose="services:\n  redis:\n    image: [\n"
    ),
    "not-utf8-compose": Bad(
        "docker-compose.yml:3: not UTF-8 text", compose=b"services:\n  redis:\n    image: caf\xe9\n"
    ),
    "compose-is-a-directory": Bad(
        "docker-compose.yml: cannot be read (Is a directory)",
        layout=_replaced_by_a_directory("docker-compose.yml"),
    ),
    "unreadable-compose": Bad(
        "docker-compose.yml: cannot be read (Permission denied)",
        layout=_unreadable("docker-compose.yml"),
        no_file_access=True,
    ),
    "list-as-key": Bad(
        "docker-compose.yml:4: a mapping key should be a string, found a list",
        compose=redis_service("    ? [a, b]\n    : 1\n"),
    ),
    "mapping-as-key": Bad(
        "docker-compose.yml:2: a mapping key should be a string, found a mapping",
        compose="services:\n  ? {redis: 1}\n  : x\n",
    ),
    "services-a-list": Bad(
        "docker-compose.yml:2: services should be a mapping of service names, found a list",
        compose="services:\n  - redis\n",
    ),
    "service-a-string": Bad(
        "docker-compose.yml:2: the redis service should be a mapping, found a string",
        compose="services:\n  redis: redis:7-alpine\n",
    ),
    "command-a-number": Bad(
        "docker-compose.yml:4: command should be a string or a list, found a number",
        compose=redis_service("    command: 5\n"),
    ),
    "command-a-mapping": Bad(
        "docker-compose.yml:4: command should be a string or a list, found a mapping",
        compose=redis_service("    command: {redis-server: 1}\n"),
    ),
    "ports-a-mapping": Bad(
        "docker-compose.yml:4: ports should be a list, found a mapping",
        compose=redis_service("    ports: {6379: 6379}\n"),
    ),
    "environment-a-string": Bad(
        "docker-compose.yml:4: environment should be a mapping or a list, found a string",
        compose=redis_service("    environment: FOO\n"),
    ),
    "environment-value-a-mapping": Bad(
        "docker-compose.yml:6: environment A should be a string, found a mapping",
        compose=redis_service("    environment:\n      A:\n        b: 1\n"),
    ),
    "volumes-a-number": Bad(
        "docker-compose.yml:4: volumes should be a list, found a number",
        compose=redis_service("    volumes: 5\n"),
    ),
    "yaml-too-deep": Bad(
        "docker-compose.yml:4: nests deeper than 64 levels",
        compose=redis_service("    labels: " + "[" * 200 + "]" * 200 + "\n"),
    ),
    # compose interpolation
    "defaults-too-deep": Bad(
        "docker-compose.yml:5: ${{...}} defaults nest deeper than 32 levels",
        compose=compose_file(command=f"redis-server --maxmemory {_nested_defaults(2000)}"),
    ),
    "required-variable": Bad(
        "docker-compose.yml:5: required variable NOPE is not set (set NOPE first)",
        compose=compose_file(command="redis-server --maxmemory ${NOPE:?set NOPE first}"),
    ),
    "required-variable-bare": Bad(
        "docker-compose.yml:5: required variable NOPE is not set",
        compose=compose_file(command="redis-server --maxmemory ${NOPE?}"),
    ),
    "unterminated": Bad(
        "docker-compose.yml:5: '${{' is never closed in '${{REDIS_MAXMEMORY'",
        compose=compose_file(command=f"redis-server --requirepass {SECRET} --maxmemory ${{REDIS_MAXMEMORY"),
        hidden=SECRET,
    ),
    "invalid-name": Bad(
        "docker-compose.yml:5: '${{' must be followed by a variable name in '${{1A}}'",
        compose=compose_file(command=f"redis-server --requirepass {SECRET} --maxmemory ${{1A}}"),
        hidden=SECRET,
    ),
    "unterminated-default-holding-the-password": Bad(
        "docker-compose.yml:5: '${{' is never closed in '${{X:-********'",
        compose=compose_file(command=f"redis-server --maxmemory ${{X:-{STAGING_PASSWORD}"),
        hidden=STAGING_PASSWORD,
    ),
    "compose-file-missing": Bad(
        "{project} has no compose file (looked for docker-compose.yml, docker-compose.yaml, "
        "compose.yml, compose.yaml)",
        plugin=("--nself-compose", "file"),
        doctor=None,
        check=("--nself-compose", "file"),
    ),
    # nself 1.x projects and the choice of generation
    "compose-files-txt-lists-a-missing-file": Bad(
        ".nself/compose-files.txt:2: missing.yml does not exist (the paths listed are relative to the "
        "project {project}",
        layout=_nself_14({".nself/compose-files.txt": "docker-compose.yml\nmissing.yml\n"}),
        hidden=NSELF_14_PASSWORD,
    ),
    "custom-env-name-invalid": Bad(
        "env 'qa.1' is not a name nself 1.x accepts: a custom env name is 1 to 63 characters",
        layout=_nself_14(),
        plugin=("--nself-env", "qa.1"),
        doctor=("--env", "qa.1"),
    ),
    "custom-env-without-its-file": Bad(
        "unknown env 'qa': this project knows dev, staging, prod, local",
        layout=_nself_14(),
        plugin=("--nself-env", "qa"),
        doctor=("--env", "qa"),
    ),
    "legacy-order-neither-true-nor-false": Bad(
        "NSELF_LEGACY_ENV_ORDER='maybe' (environment): expected true or false",
        layout=_nself_14(),
        environ={"NSELF_LEGACY_ENV_ORDER": "maybe"},
    ),
    "legacy-order-read-when-1x-is-forced": Bad(
        "NSELF_LEGACY_ENV_ORDER='maybe' (environment): expected true or false",
        layout=_complete,
        environ={"NSELF_LEGACY_ENV_ORDER": "maybe"},
        plugin=("--nself-version", "1"),
        doctor=("--nself-version", "1"),
    ),
    "version-not-a-choice": option_case(
        "--nself-version='2': choose one of auto, 0, 1", "--nself-version", "2"
    ),
    "limit-memory-not-a-size": Bad(
        "docker-compose.yml:7: deploy.resources.limits.memory '512X': not a size: expected a number of bytes",
        compose=redis_service("    deploy:\n      resources:\n        limits:\n          memory: 512X\n"),
    ),
    "limit-memory-not-a-size-1x": Bad(
        "docker-compose.yml:25: deploy.resources.limits.memory '512 MB RAM': not a size",
        layout=_nself_14(
            {
                "docker-compose.yml": (NSELF_14 / "docker-compose.yml")
                .read_text()
                .replace("memory: 512M", "memory: 512 MB RAM")
            }
        ),
        hidden=NSELF_14_PASSWORD,
    ),
    "healthcheck-interval-without-a-unit": Bad(
        "docker-compose.yml:6: healthcheck.interval '10': expected a duration",
        compose=redis_service("    healthcheck:\n      test: [CMD, redis-cli, ping]\n      interval: 10\n"),
    ),
    "compose-list-names-a-missing-file": Bad(
        "--nself-compose nope.yml: no such file (relative paths are read from the project {project}",
        compose=compose_file(),
        plugin=("--nself-compose", "docker-compose.yml,nope.yml"),
        doctor=None,
        check=("--nself-compose", "docker-compose.yml,nope.yml"),
    ),
    # the process target
    "command-not-redis-server": Bad(
        "the compose command (docker-compose.yml:5) runs 'sh', not redis-server; the process target "
        "runs only redis-server commands (also behind a one-line `sh -c 'exec redis-server ...'`): "
        "use --nself-target docker",
        compose=compose_file(command='["sh", "-c", "sleep 1000"]'),
        doctor=None,
        check=(),
    ),
    "command-valkey": Bad(
        "runs 'valkey-server', not redis-server",
        compose=compose_file(command="valkey-server --port 6379"),
        doctor=None,
        check=(),
    ),
    # plugin options
    "timeout-nan": option_case(
        "--nself-timeout='nan': expected seconds, more than 0 and at most 86400", "--nself-timeout", "nan"
    ),
    "timeout-inf": option_case(
        "--nself-timeout='inf': expected seconds, more than 0 and at most 86400", "--nself-timeout", "inf"
    ),
    "timeout-zero": option_case(
        "--nself-timeout='0': expected seconds, more than 0 and at most 86400", "--nself-timeout", "0"
    ),
    "startup-timeout-nan": option_case(
        "--nself-startup-timeout='nan': expected seconds", "--nself-startup-timeout", "nan"
    ),
    "startup-timeout-inf": option_case(
        "--nself-startup-timeout='1e400': expected seconds", "--nself-startup-timeout", "1e400"
    ),
    "port-out-of-range": option_case(
        "--nself-port='70000': expected a port from 0 to 65535 (0 picks a free one)", "--nself-port", "70000"
    ),
    # attaching: URL and CA
    "url-port-not-a-number": url_case(
        "{url} redis://:********@host:notaport is not a valid URL: the port must be a number from 1 to 65535",
        f"redis://:{SECRET}@host:notaport",
        hidden=SECRET,
    ),
    "url-port-out-of-range": url_case(
        "{url} redis://host:99999 is not a valid URL: the port must be a number from 1 to 65535",
        "redis://host:99999",
    ),
    "url-port-out-of-range-with-password": url_case(
        "{url} redis://:********@host:99999/0 is not a valid URL",
        f"redis://:{SECRET}@host:99999/0",
        hidden=SECRET,
    ),
    "url-not-redis": url_case(
        "{url} http://:********@x is not a redis:// or rediss:// URL with a host",
        f"http://:{SECRET}@x",
        hidden=SECRET,
    ),
    "url-no-host": url_case("{url} redis:// is not a redis:// or rediss:// URL with a host", "redis://"),
    "url-empty-credentials": url_case("is not a redis:// or rediss:// URL with a host", "redis://:@"),
    "url-path-not-a-db": url_case(
        "{url} redis://:********@host/abc: the path must be a db number",
        f"redis://:{SECRET}@host/abc",
        hidden=SECRET,
    ),
    "url-broken-ipv6": url_case(
        "{url} redis://:********@[::1 is not a valid URL (Invalid IPv6 URL)",
        f"redis://:{SECRET}@[::1",
        hidden=SECRET,
    ),
    "url-empty": url_case("{url} is empty: expected redis[s]://[:password@]host:port[/db]", ""),
    "ca-missing": url_case(
        "{ca} project/missing.pem: no such file", "rediss://127.0.0.1:1", "project/missing.pem"
    ),
    "ca-a-directory": url_case(
        "{ca} project/certs: a directory, not a certificate file", "rediss://127.0.0.1:1", "project/certs"
    ),
    "ca-not-a-certificate": url_case(
        "{ca} project/not-a-cert.pem: holds no PEM certificate",
        "rediss://127.0.0.1:1",
        "project/not-a-cert.pem",
    ),
    "ca-with-plain-url": url_case(
        "{ca} applies only to a rediss:// {url} (TLS); redis://127.0.0.1:1 is not one",
        "redis://127.0.0.1:1",
        "project/not-a-cert.pem",
    ),
    "ca-without-url": Bad(
        "{ca} applies only to a rediss:// {url} (TLS)",
        layout=_certificates,
        plugin=("--nself-redis-ca", "project/not-a-cert.pem"),
        doctor=("--redis-ca", "project/not-a-cert.pem"),
    ),
}


@pytest.mark.parametrize("bad", list(BAD_INPUT.values()), ids=list(BAD_INPUT))
def test_bad_input_is_refused_with_one_message(tmp_path: Path, run_id: str, bad: Bad) -> None:
    assert_refused(bad, tmp_path, run_id)


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


def test_a_container_setting_docker_refuses(tmp_path: Path, run_id: str, docker_engine: None) -> None:
    # Redis asks for vm.overcommit_memory=1, but no container may set it: it is not namespaced.
    compose = (
        "services:\n"
        "  redis:\n"
        "    image: redis:7-alpine\n"
        "    command: redis-server --requirepass ${REDIS_PASSWORD}\n"
        "    sysctls:\n"
        "      vm.overcommit_memory: 1\n"
    )
    project = make_project(tmp_path / "project", compose=compose)
    result = run(project, tmp_path, run_id, "--nself-env", "staging", "--nself-target", "docker")
    assert_clear_failure(
        result,
        "this Docker engine refuses sysctls vm.overcommit_memory=1 (docker-compose.yml:6), set by "
        'service `redis` of docker-compose.yml:3: sysctl "vm.overcommit_memory" is not in a separate '
        "kernel namespace",
        hidden=STAGING_PASSWORD,
    )
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
    assert_clear_failure(result, "rejected the password from the URL (WRONGPASS)", hidden=wrong)


def test_a_db_the_server_does_not_have(tmp_path: Path, run_id: str, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    url = f"redis://:{STAGING_PASSWORD}@127.0.0.1:{target.endpoint.port}/99"
    plugin = run(COMPLETE, tmp_path, run_id, "--nself-env", "staging", "--nself-redis-url", url)
    fragment = "has no db 99 (its `databases` setting is lower): use a smaller db number in the path of"
    assert_clear_failure(plugin, f"{fragment} --nself-redis-url", hidden=STAGING_PASSWORD)
    completed = run_cli(
        ["doctor", "--project", str(COMPLETE), "--env", "staging", "--redis-url", url], tmp_path
    )
    doctor = _cli_result(completed, tmp_path)
    assert_clear_failure(doctor, f"{fragment} --redis-url", int(ExitStatus.USAGE), STAGING_PASSWORD)


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
