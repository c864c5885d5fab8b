"""The compose service's container settings as the docker target applies them (Docker SDK
arguments), as the process target lists them, and which one a Docker refusal names."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pytest_nself_redis.compose.render import render_service
from pytest_nself_redis.compose.service import load_compose_service
from pytest_nself_redis.context import load_env_context, open_project
from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.settings import settings_from_env
from pytest_nself_redis.targets.container_settings import (
    ContainerSetting,
    container_settings,
    docker_arguments,
    refused_by_message,
)
from pytest_nself_redis.targets.docker_engine import unique_name
from pytest_nself_redis.targets.health import ContainerHealth
from tests.harness import COMPLETE, NSELF_14, make_project

HEAD = "services:\n  redis:\n    image: redis:7-alpine\n"  # the service's keys start on line 4
EVERYTHING = (
    '    user: "999:999"\n'  # 4
    "    mem_limit: 256m\n"  # 5
    "    cpus: 1.5\n"  # 6
    "    pids_limit: 100\n"  # 7
    "    read_only: true\n"  # 8
    "    tmpfs:\n"  # 9
    "      - /tmp:size=64m,mode=1777\n"  # 10
    "      - /run\n"  # 11
    "    cap_add: [NET_ADMIN, SYS_RESOURCE]\n"  # 12
    "    cap_drop: [ALL]\n"  # 13
    "    security_opt: [no-new-privileges:true]\n"  # 14
    "    ulimits:\n"  # 15
    "      nproc: 512\n"  # 16
    "      nofile: {soft: 10000, hard: 12000}\n"  # 17
    "    sysctls:\n"  # 18
    "      net.core.somaxconn: 1024\n"  # 19
    "      vm.overcommit_memory: 1\n"  # 20
    "    healthcheck:\n"  # 21
    '      test: ["CMD", "redis-cli", "-a", "pw-in-the-file", "--no-auth-warning", "ping"]\n'  # 22
    "      interval: 1m30s\n"  # 23
    "      timeout: 500ms\n"  # 24
    "      retries: 3\n"  # 25
    "      start_period: 5s\n"  # 26
)


def settings_of(tmp_path: Path, body: str) -> tuple[ContainerSetting, ...]:
    (tmp_path / "docker-compose.yml").write_text(HEAD + body)
    return container_settings(load_compose_service(tmp_path / "docker-compose.yml", {}).runtime)


def test_every_setting_becomes_docker_arguments(tmp_path: Path) -> None:
    arguments = docker_arguments(settings_of(tmp_path, EVERYTHING))
    assert arguments == {
        "user": "999:999",
        # The swap limit equals the memory limit: no swap beyond it, so the limit holds.
        "mem_limit": 256 * 1024**2,
        "memswap_limit": 256 * 1024**2,
        "nano_cpus": 1_500_000_000,
        "pids_limit": 100,
        "read_only": True,
        "tmpfs": {"/tmp": "size=64m,mode=1777", "/run": ""},
        "cap_add": ["NET_ADMIN", "SYS_RESOURCE"],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "ulimits": [
            {"name": "nproc", "soft": 512, "hard": 512},
            {"name": "nofile", "soft": 10000, "hard": 12000},
        ],
        "sysctls": {"net.core.somaxconn": "1024", "vm.overcommit_memory": "1"},
        "healthcheck": {
            "test": ["CMD", "redis-cli", "-a", "pw-in-the-file", "--no-auth-warning", "ping"],
            "interval": 90_000_000_000,
            "timeout": 500_000_000,
            "start_period": 5_000_000_000,
            "retries": 3,
        },
    }


def test_each_setting_cites_its_line_and_never_the_healthcheck_password(tmp_path: Path) -> None:
    shown = [setting.shown for setting in settings_of(tmp_path, EVERYTHING)]
    assert shown == [
        "memory 256m (docker-compose.yml:5)",
        "cpus 1.5 (docker-compose.yml:6)",
        "pids 100 (docker-compose.yml:7)",
        "read_only true (docker-compose.yml:8)",
        "tmpfs /tmp:size=64m,mode=1777 (docker-compose.yml:10)",
        "tmpfs /run (docker-compose.yml:11)",
        "cap_add NET_ADMIN (docker-compose.yml:12)",
        "cap_add SYS_RESOURCE (docker-compose.yml:12)",
        "cap_drop ALL (docker-compose.yml:13)",
        "security_opt no-new-privileges:true (docker-compose.yml:14)",
        "ulimits nproc 512:512 (docker-compose.yml:16)",
        "ulimits nofile 10000:12000 (docker-compose.yml:17)",
        "sysctls net.core.somaxconn=1024 (docker-compose.yml:19)",
        "sysctls vm.overcommit_memory=1 (docker-compose.yml:20)",
        "user 999:999 (docker-compose.yml:4)",
        "healthcheck redis-cli ping, every 90 s (docker-compose.yml:22)",
    ]


def test_no_limit_values_apply_nothing(tmp_path: Path) -> None:
    body = "    mem_limit: 0\n    cpus: 0\n    pids_limit: 0\n    read_only: false\n"
    assert settings_of(tmp_path, body) == ()


def test_a_disabled_healthcheck_is_applied_as_none_and_start_interval_is_reported(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, "    healthcheck:\n      disable: true\n      start_interval: 1s\n")
    assert docker_arguments(settings) == {"healthcheck": {"test": ["NONE"]}}
    # The Docker SDK has no way to pass start_interval: it is listed as not reproduced.
    assert [(setting.shown, setting.unapplied) for setting in settings] == [
        ("healthcheck disabled (docker-compose.yml:5)", False),
        ("healthcheck.start_interval 1s (docker-compose.yml:6)", True),
    ]


# What this machine's engine (Docker 20.10, runc) answered when refusing each setting.
REFUSALS = {
    'runc create failed: sysctl "vm.overcommit_memory" is not in a separate kernel namespace': [
        "sysctls vm.overcommit_memory=1 (docker-compose.yml:20)"
    ],
    "error during container init: open /proc/sys/net/core/somaxconn: no such file or directory": [
        "sysctls net.core.somaxconn=1024 (docker-compose.yml:19)"
    ],
    "error during container init: error setting rlimits for ready process: error setting rlimit type 7: "
    "operation not permitted": ["ulimits nofile 10000:12000 (docker-compose.yml:17)"],
    "runc create failed: wrong rlimit value: RLIMIT_NPROC": ["ulimits nproc 512:512 (docker-compose.yml:16)"],
    'invalid CapAdd: unknown capability: "CAP_SYS_RESOURCE"': [
        "cap_add SYS_RESOURCE (docker-compose.yml:12)"
    ],
    # Names no capability: every cap_add is a candidate (the target then tries each alone).
    "unable to start container process: unable to apply caps: operation not permitted": [
        "cap_add NET_ADMIN (docker-compose.yml:12)",
        "cap_add SYS_RESOURCE (docker-compose.yml:12)",
    ],
    "Minimum memory limit allowed is 6MB": ["memory 256m (docker-compose.yml:5)"],
    "Memory limit should be smaller than already set memoryswap limit": [
        "memory 256m (docker-compose.yml:5)"
    ],
    "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available": [
        "cpus 1.5 (docker-compose.yml:6)"
    ],
    'invalid --security-opt 2: "no-new-privileges:true"': [
        "security_opt no-new-privileges:true (docker-compose.yml:14)"
    ],
    'error mounting "tmpfs" to rootfs at "/run": invalid argument': ["tmpfs /run (docker-compose.yml:11)"],
    "unable to find user 999: no matching entries in passwd file": ["user 999:999 (docker-compose.yml:4)"],
    "Bind for 127.0.0.1:6379 failed: port is already allocated": [],
}


@pytest.mark.parametrize("message", list(REFUSALS))
def test_a_refusal_is_traced_to_the_setting_it_names(tmp_path: Path, message: str) -> None:
    settings = settings_of(tmp_path, EVERYTHING)
    assert [setting.shown for setting in refused_by_message(settings, message)] == REFUSALS[message]


def test_a_rendered_1x_service_gets_nself_1x_limits() -> None:
    # examples/complete sets REDIS_MEMORY in .env; read as nself 1.x, REDIS_CPU is its default.
    context = load_env_context(open_project(COMPLETE, "1"), "staging")
    assert context.service.origin == "rendered"
    runtime = context.service.runtime
    assert runtime.memory is not None
    assert runtime.memory.cite() == f"1G (.env:{_line_of(COMPLETE / '.env', 'REDIS_MEMORY=')})"
    assert runtime.cpu is not None
    assert runtime.cpu.cite() == "0.5 (the nself 1.x default of REDIS_CPU)"
    assert runtime.cpu.value == 0.5


def test_a_rendered_09_service_gets_only_the_limits_its_env_files_set(tmp_path: Path) -> None:
    context = load_env_context(open_project(COMPLETE), "staging")
    assert str(context.generation).startswith("0.9.x")
    assert context.service.runtime.memory is not None
    assert context.service.runtime.memory.value == 1024**3
    assert context.service.runtime.cpu is None  # REDIS_CPU is set nowhere: nself 0.9 writes no limit
    settings = settings_from_env("dev", {})
    assert render_service(settings, {}).runtime.memory is None
    assert render_service(settings, {}, is_1x=True).runtime.memory is not None


def test_a_rendered_limit_that_is_no_size_names_the_setting(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", env_files={".env": "REDIS_MEMORY=lots"})  # 0.9: .env wins
    with pytest.raises(ProjectError, match=r"REDIS_MEMORY=lots \(\.env:\d+\): not a size"):
        load_env_context(open_project(project), "staging")


def test_the_1x_example_lists_what_a_process_cannot_reproduce() -> None:
    context = load_env_context(open_project(NSELF_14), "staging")
    outside = [
        setting.shown for setting in container_settings(context.service.runtime) if setting.matters_outside
    ]
    assert outside == [
        "memory 512M (docker-compose.yml:25)",
        "cpus 0.5 (docker-compose.yml:25)",
        "pids 100 (docker-compose.yml:30)",
        "read_only true (docker-compose.yml:28)",
        "cap_drop ALL (docker-compose.yml:26)",
        "security_opt no-new-privileges:true (docker-compose.yml:27)",
        "user 999:999 (docker-compose.yml:15)",
        "healthcheck redis-cli ping, every 10 s (docker-compose.yml:21)",
    ]


@pytest.mark.parametrize(
    ("health", "described"),
    [
        (
            ContainerHealth("healthy", "PONG", 0, "redis-cli ping, every 10 s"),
            "healthy (redis-cli ping, every 10 s)",
        ),
        (
            ContainerHealth("unhealthy", "AUTH failed: WRONGPASS\n", 1, "redis-cli -e ping, every 1 s"),
            "unhealthy: AUTH failed: WRONGPASS (redis-cli -e ping, every 1 s)",
        ),
        # redis-cli exits 0 on an error reply: Docker calls that healthy.
        (
            ContainerHealth("healthy", "NOAUTH Authentication required.\n", 0, "redis-cli ping, every 10 s"),
            "healthy by its exit status only: the probe printed 'NOAUTH Authentication required.', "
            "not PONG (redis-cli ping, every 10 s)",
        ),
        (
            ContainerHealth("starting", "", None, "redis-cli ping, every 10 s"),
            "starting: no probe has run yet (redis-cli ping, every 10 s)",
        ),
    ],
)
def test_health_is_described_in_one_line(health: ContainerHealth, described: str) -> None:
    assert health.describe() == described


def _line_of(path: Path, prefix: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith(prefix):
            return number
    raise AssertionError(f"{prefix} not in {path}")


def test_container_names_are_never_given_twice() -> None:
    """Names came from id(target) % 100000: two targets alive at once (checks run ahead, a
    container still being removed) could get one name, and Docker refused the second
    ("Conflict. The container name ... is already in use")."""
    names: list[str] = []

    def take() -> None:
        names.extend(unique_name("r1", "staging") for _ in range(100))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == len(names) == 800
    assert all(name.startswith(f"nself-redis-r1-staging-{os.getpid()}-") for name in names)
