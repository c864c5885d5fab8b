"""The docker target runs the compose service with every container setting it has (limits,
hardening, ulimits, sysctls, healthcheck), as `docker inspect` and the server itself show;
the healthcheck's result reaches the reports; the process target says what it cannot apply."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_nself_redis.context import load_env_context, open_project
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.docker import DockerTarget
from pytest_nself_redis.targets.docker_engine import LABEL
from pytest_nself_redis.targets.select import make_target
from tests.conftest import Launcher
from tests.harness import COMPLETE, NSELF_14, assert_nothing_left, make_project, run_suites
from tests.integration.test_reports import html_data

NSELF_14_PASSWORD = "CVZuM9eCXed6Kd6zkVGldHqlxYcb"
MIB = 1024**2
# The limit the container's kernel enforces, cgroup v2 or v1.
CGROUP_MEMORY = (
    "f=/sys/fs/cgroup/memory.max; [ -r $f ] || f=/sys/fs/cgroup/memory/memory.limit_in_bytes; grep . $f"
)


def docker(target: Target) -> DockerTarget:
    assert isinstance(target, DockerTarget)
    assert target.container is not None
    return target


def run_in(target: DockerTarget, script: str) -> tuple[int, str]:
    """A shell script run in the container as its user (the image has /bin/sh)."""
    assert target.container is not None
    code, output = target.container.exec_run(["sh", "-c", script])
    return int(code), bytes(output).decode("utf-8", "replace").strip()


def test_docker_runs_the_1x_service_with_every_container_setting(
    launch: Launcher, docker_engine: None
) -> None:
    target = docker(launch(NSELF_14, "staging", "docker"))
    assert target.container is not None
    host, config = target.container.attrs["HostConfig"], target.container.attrs["Config"]
    assert host["Memory"] == 512 * MIB
    assert host["MemorySwap"] == 512 * MIB  # no swap on top: the limit is the limit
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 100
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["Tmpfs"] == {"/tmp": ""}
    assert config["User"] == "999:999"
    assert config["Healthcheck"] == {
        "Test": ["CMD", "redis-cli", "-a", NSELF_14_PASSWORD, "ping"],
        "Interval": 10_000_000_000,
        "Timeout": 5_000_000_000,
        "Retries": 5,
    }
    # What the target already guaranteed still holds: loopback port, the run's volume, labels.
    assert host["PortBindings"] == {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(target.host_port)}]}
    assert [mount["Destination"] for mount in target.container.attrs["Mounts"]] == ["/data"]
    assert config["Labels"][LABEL] == target.options.run_id

    client = target.client()
    assert client.ping() is True
    # The root is read-only, yet /data (the run's volume) and /tmp (the tmpfs) take writes.
    client.set("k", "v")
    assert client.save() is True
    code, output = run_in(target, "echo x > /probe")
    assert code != 0
    assert "Read-only file system" in output
    assert run_in(target, "echo x > /tmp/probe && echo ok") == (0, "ok")
    assert run_in(target, CGROUP_MEMORY) == (0, str(512 * MIB))

    health = target.health_now()
    assert health is not None
    assert health.describe() == "healthy (redis-cli ping, every 10 s)"
    assert target.unreproduced() == ()


def test_ulimits_sysctls_cap_add_and_tmpfs_options_are_applied(
    tmp_path: Path, launch: Launcher, docker_engine: None
) -> None:
    compose = (
        "services:\n"
        "  redis:\n"
        "    image: redis:7-alpine\n"
        '    user: "999:999"\n'
        "    command: redis-server --requirepass ${REDIS_PASSWORD}\n"
        '    tmpfs: ["/tmp:size=16m,mode=1777"]\n'
        "    cap_add: [NET_ADMIN]\n"
        "    ulimits:\n"
        "      nofile: {soft: 4096, hard: 4096}\n"
        "    sysctls:\n"
        "      net.core.somaxconn: 1024\n"
        "    healthcheck:\n"
        '      test: ["CMD", "redis-cli", "--version"]\n'
        "      start_interval: 1s\n"  # 14
    )
    target = docker(launch(make_project(tmp_path / "project", compose=compose), "staging", "docker"))
    # The Docker SDK cannot pass start_interval: the target says so rather than drop it silently.
    assert target.unreproduced() == ("healthcheck.start_interval 1s (docker-compose.yml:14)",)
    assert target.container is not None
    host = target.container.attrs["HostConfig"]
    assert host["Ulimits"] == [{"Name": "nofile", "Hard": 4096, "Soft": 4096}]
    assert host["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert host["CapAdd"] == ["NET_ADMIN"]
    assert host["Tmpfs"] == {"/tmp": "size=16m,mode=1777"}
    # Inside, they are real: Redis fits maxclients under the file limit (4096 - 32 reserved).
    assert target.client().config_get("maxclients") == {"maxclients": "4064"}
    # grep, not the shell's read: a /proc/sys file read a byte at a time gives its first byte only.
    assert run_in(target, "grep . /proc/sys/net/core/somaxconn") == (0, "1024")


def test_a_refusal_naming_no_setting_is_traced_by_trying_each_alone(
    tmp_path: Path, run_id: str, docker_engine: None
) -> None:
    compose = (
        "services:\n"
        "  redis:\n"
        "    image: redis:7-alpine\n"
        "    command: redis-server\n"
        "    sysctls:\n"
        "      net.core.somaxconn: 1024\n"
        "      vm.overcommit_memory: 1\n"
    )
    project = make_project(tmp_path / "project", compose=compose)
    context = load_env_context(open_project(project), "staging")
    target = DockerTarget(context, TargetOptions(run_id=run_id))
    try:
        refused = target.refused_settings("the engine said nothing useful", {LABEL: run_id})
        assert [setting.shown for setting in refused] == [
            "sysctls vm.overcommit_memory=1 (docker-compose.yml:7)"
        ]
    finally:
        target.stop()
    assert_nothing_left(run_id, docker=True)


HEALTHCHECK = (
    "services:\n"
    "  redis:\n"
    "    image: redis:7-alpine\n"
    '    user: "999:999"\n'
    "    command: redis-server --requirepass ${{REDIS_PASSWORD}}\n"
    "    healthcheck:\n"
    '      test: ["CMD", "redis-cli", {flags}"-a", "wrong-pw-5e1d", "ping"]\n'
    "      interval: 1s\n"
    "      timeout: 3s\n"
    "      retries: 1\n"
)


def test_a_healthcheck_with_a_wrong_password_is_unhealthy_and_its_output_redacted(
    tmp_path: Path, launch: Launcher, docker_engine: None
) -> None:
    project = make_project(tmp_path / "project", compose=HEALTHCHECK.format(flags='"-e", '))
    target = docker(launch(project, "staging", "docker"))
    first = target.health_now()  # at launch: the same probe, run by the harness
    assert first is not None
    assert (first.status, first.by) == ("unhealthy", "harness")
    assert "WRONGPASS" in first.output
    seen = target.health(wait=20)  # Docker's own verdict, after its first probe
    assert seen is not None
    assert (seen.status, seen.by) == ("unhealthy", "docker")
    assert "WRONGPASS" in seen.output
    for health in (first, seen):
        assert "wrong-pw-5e1d" not in health.output
        assert health.describe().startswith("unhealthy: ")
        assert "wrong-pw-5e1d" not in health.describe()
        assert health.describe().endswith("(redis-cli -e ping, every 1 s)")


def test_redis_cli_without_e_is_healthy_by_exit_status_only(
    tmp_path: Path, launch: Launcher, docker_engine: None
) -> None:
    # nself's own form: redis-cli exits 0 on an error reply, so Docker calls a wrong password healthy.
    project = make_project(tmp_path / "project", compose=HEALTHCHECK.format(flags=""))
    target = docker(launch(project, "staging", "docker"))
    seen = target.health(wait=20)
    assert seen is not None
    assert seen.status == "healthy"
    assert seen.healthy_without_pong
    assert seen.describe().startswith("healthy by its exit status only: the probe printed ")
    assert "NOAUTH" in seen.describe()
    assert "wrong-pw-5e1d" not in seen.describe()


@pytest.mark.parametrize(("version", "cpus"), [("0", 0), ("1", 500_000_000)])
def test_a_rendered_service_runs_with_the_limits_nself_would_write(
    run_id: str, docker_engine: None, version: str, cpus: int
) -> None:
    # examples/complete sets REDIS_MEMORY=1G and no REDIS_CPU: 0.9 limits memory only, 1.x
    # adds its 0.5 CPU default. The rendered healthcheck is a shell command: it runs too.
    context = load_env_context(open_project(COMPLETE, version), "staging")
    with make_target("docker", context, TargetOptions(run_id=run_id)) as target:
        container = docker(target).container
        assert container is not None
        assert container.attrs["HostConfig"]["Memory"] == 1024 * MIB
        assert container.attrs["HostConfig"]["NanoCpus"] == cpus
        health = target.health_now()
        assert health is not None
        assert health.status == "healthy", health.describe()
    assert_nothing_left(run_id, docker=True)


def _properties(reports: Path, env: str) -> dict[str, str]:
    suite = ET.parse(reports / f"junit-{env}.xml").getroot().find("testsuite")
    assert suite is not None
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


NOT_REPRODUCED = (
    "process target does not reproduce: memory 512M (docker-compose.yml:25), cpus 0.5 "
    "(docker-compose.yml:25), pids 100 (docker-compose.yml:30), read_only true (docker-compose.yml:28), "
    "cap_drop ALL (docker-compose.yml:26), security_opt no-new-privileges:true (docker-compose.yml:27), "
    "user 999:999 (docker-compose.yml:15), healthcheck redis-cli ping, every 10 s (docker-compose.yml:21) "
    "— use --nself-target docker"
)


def test_the_process_target_says_what_it_does_not_reproduce(tmp_path: Path, run_id: str) -> None:
    context = load_env_context(open_project(NSELF_14), "staging")
    with make_target("process", context, TargetOptions(run_id=run_id)) as target:
        assert target.unreproduced()[:2] == (
            "memory 512M (docker-compose.yml:25)",
            "cpus 0.5 (docker-compose.yml:25)",
        )
        assert target.health_now() is None

    args = ("--nself-env", "staging", "--nself-target", "process", "-m", "health", "-k", "test_answers_ping")
    result = run_suites(NSELF_14, tmp_path, *args, env={"NSELF_RUN_ID": run_id})
    assert result.status == 0, result.explain()
    assert f"  {NOT_REPRODUCED}" in result.output
    assert _properties(result.reports, "staging")["not reproduced"] == NOT_REPRODUCED
    assert (
        html_data(result.reports / "report-staging.html")["environment"]["not reproduced"] == NOT_REPRODUCED
    )
    assert "container health" not in result.output
    assert_nothing_left(run_id, docker=False)


def test_the_container_health_reaches_the_reports(tmp_path: Path, run_id: str, docker_engine: None) -> None:
    args = ("--nself-env", "staging", "--nself-target", "docker", "-m", "health", "-k", "test_answers_ping")
    result = run_suites(NSELF_14, tmp_path, *args, env={"NSELF_RUN_ID": run_id})
    assert result.status == 0, result.explain()
    assert "  container health: healthy (redis-cli ping, every 10 s)" in result.output
    assert (
        _properties(result.reports, "staging")["container health"] == "healthy (redis-cli ping, every 10 s)"
    )
    environment = html_data(result.reports / "report-staging.html")["environment"]
    assert environment["container health"] == "healthy (redis-cli ping, every 10 s)"
    assert "does not reproduce" not in result.output
    assert NSELF_14_PASSWORD not in result.output
    assert all(NSELF_14_PASSWORD not in path.read_text() for path in result.reports.iterdir())
    assert_nothing_left(run_id, docker=True)
