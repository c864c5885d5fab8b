"""The container settings of the compose service, typed as Docker and Compose read them,
and one located message for each value they would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.compose.runtime import RuntimeLimits, parse_duration
from pytest_nself_redis.compose.service import load_compose_service
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.sizes import parse_docker_size

HEAD = "services:\n  redis:\n    image: redis:7-alpine\n"  # the service's keys start on line 4


def runtime(tmp_path: Path, body: str, variables: dict[str, str] | None = None) -> RuntimeLimits:
    (tmp_path / "docker-compose.yml").write_text(HEAD + body)
    return load_compose_service(tmp_path / "docker-compose.yml", variables or {}).runtime


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512 * 1024**2),
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1G", 1024**3),
        ("1gb", 1024**3),
        ("1GiB", 1024**3),
        ("64k", 64 * 1024),
        ("1024", 1024),
        ("1024b", 1024),
        ("1.5g", 3 * 1024**3 // 2),
        ("2 m", 2 * 1024**2),
        ("1t", 1024**4),
    ],
)
def test_sizes_read_as_docker_reads_them(text: str, size: int) -> None:
    assert parse_docker_size(text) == size


@pytest.mark.parametrize("text", ["", "M", "-1", "512X", "1ib", "1mm", "1.2.3", "1  m", "1kbb"])
def test_sizes_docker_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_docker_size(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("0", 0.0),
        ("1.5s", 1.5),
        ("2us", 2e-6),
    ],
)
def test_durations_read_as_compose_reads_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "s", "10x", "1m 30s", "-5s", "10s5"])
def test_durations_compose_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_every_runtime_property_is_read_with_its_line(tmp_path: Path) -> None:
    limits = runtime(
        tmp_path,
        "    user: ${UID}:999\n"  # 4
        "    mem_limit: 256m\n"  # 5
        "    cpus: 1.5\n"  # 6
        "    pids_limit: 100\n"  # 7
        "    read_only: 'true'\n"  # 8
        "    tmpfs:\n"  # 9
        "      - /tmp:size=64m\n"  # 10
        "      - /run\n"  # 11
        "    cap_add: [SYS_RESOURCE]\n"  # 12
        "    cap_drop: [ALL]\n"  # 13
        "    security_opt: [no-new-privileges:true, seccomp:unconfined]\n"  # 14
        "    ulimits:\n"  # 15
        "      nproc: 65535\n"  # 16
        "      nofile: {soft: 20000, hard: 40000}\n"  # 17
        "    sysctls:\n"  # 18
        "      - net.core.somaxconn=1024\n"  # 19
        "    healthcheck:\n"  # 20
        "      test: redis-cli ping\n"  # 21
        "      interval: 1m30s\n"  # 22
        "      timeout: 500ms\n"  # 23
        "      retries: 3\n"  # 24
        "      start_period: 5s\n"  # 25
        "      start_interval: 1s\n",  # 26
        {"UID": "1000"},
    )
    assert limits.user is not None
    assert limits.user.cite() == "1000:999 (docker-compose.yml:4)"
    assert limits.memory is not None
    assert limits.memory.cite() == "256m (docker-compose.yml:5)"
    assert limits.memory.value == 256 * 1024**2
    assert limits.cpu is not None
    assert limits.cpu.value == 1.5
    assert limits.pids is not None
    assert limits.pids.cite() == "100 (docker-compose.yml:7)"
    assert limits.read_only is not None
    assert limits.read_only.value is True
    assert [value.cite() for value in limits.tmpfs] == [
        "/tmp:size=64m (docker-compose.yml:10)",
        "/run (docker-compose.yml:11)",
    ]
    assert [value.text for value in limits.cap_add] == ["SYS_RESOURCE"]
    assert [value.text for value in limits.security_opt] == ["no-new-privileges:true", "seccomp:unconfined"]
    assert [(u.name, u.soft, u.hard, str(u.source)) for u in limits.ulimits] == [
        ("nproc", 65535, 65535, "docker-compose.yml:16"),
        ("nofile", 20000, 40000, "docker-compose.yml:17"),
    ]
    assert {name: value.cite() for name, value in limits.sysctls.items()} == {
        "net.core.somaxconn": "1024 (docker-compose.yml:19)"
    }
    health = limits.healthcheck
    assert health is not None
    assert health.test == ("CMD-SHELL", "redis-cli ping")
    assert str(health.test_source) == "docker-compose.yml:21"
    assert [v.value if v else None for v in (health.interval, health.timeout, health.start_period)] == [
        90.0,
        0.5,
        5.0,
    ]
    assert health.retries is not None
    assert health.retries.value == 3
    assert health.start_interval is not None
    assert health.start_interval.cite() == "1s (docker-compose.yml:26)"
    assert not health.disabled


def test_deploy_limits_are_in_effect_over_the_service_keys(tmp_path: Path) -> None:
    limits = runtime(
        tmp_path,
        "    mem_limit: 1g\n    cpus: 2\n    pids_limit: 50\n"
        "    deploy:\n      resources:\n        limits: {memory: 512M, cpus: '0.5', pids: 100}\n",
    )
    assert limits.mem_limit is not None
    assert limits.mem_limit.value == 1024**3
    assert (limits.memory.value, limits.cpu.value, limits.pids.value) == (512 * 1024**2, 0.5, 100)  # type: ignore[union-attr]
    assert runtime(tmp_path, "    cpus: 2\n").cpu.cite() == "2 (docker-compose.yml:4)"  # type: ignore[union-attr]


def test_a_service_without_any_has_none(tmp_path: Path) -> None:
    limits = runtime(tmp_path, "")
    assert limits == RuntimeLimits()
    assert (limits.memory, limits.cpu, limits.pids, limits.healthcheck) == (None, None, None, None)


@pytest.mark.parametrize(
    "test", ["[NONE]", "[CMD, redis-cli, ping]\n      disable: true"], ids=["NONE", "disable"]
)
def test_a_disabled_healthcheck(tmp_path: Path, test: str) -> None:
    health = runtime(tmp_path, f"    healthcheck:\n      test: {test}\n").healthcheck
    assert health is not None
    assert health.disabled


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    deploy:\n      resources:\n        limits:\n          memory: 512X\n",
            "docker-compose.yml:7: deploy.resources.limits.memory '512X': not a size: expected a number of "
            "bytes, optionally with b, k, m, g, t or p",
        ),
        ("    mem_limit: lots\n", "docker-compose.yml:4: mem_limit 'lots': not a size"),
        (
            "    mem_limit: " + "9" * 400 + "\n",
            "docker-compose.yml:4: mem_limit '" + "9" * 40 + "...': larger than any machine's memory",
        ),
        ("    cpus: half\n", "docker-compose.yml:4: cpus 'half': expected a number of CPUs, e.g. 0.5 or 2"),
        ("    cpus: -1\n", "docker-compose.yml:4: cpus '-1': expected a number of CPUs"),
        ("    cpus: .nan\n", "docker-compose.yml:4: cpus 'nan': expected a number of CPUs"),
        ("    pids_limit: many\n", "docker-compose.yml:4: pids_limit 'many': expected a whole number >= -1"),
        ("    read_only: maybe\n", "docker-compose.yml:4: read_only 'maybe': expected true or false"),
        ("    tmpfs: {a: 1}\n", "docker-compose.yml:4: tmpfs should be a string or a list, found a mapping"),
        ("    cap_drop: ALL\n", "docker-compose.yml:4: cap_drop should be a list, found a string"),
        ("    cap_drop: [[a]]\n", "docker-compose.yml:4: cap_drop item should be a string, found a list"),
        ("    security_opt: [[a]]\n", "docker-compose.yml:4: security_opt item should be a string"),
        ("    deploy: [1]\n", "docker-compose.yml:4: deploy should be a mapping, found a list"),
        ("    deploy:\n      resources: 1\n", "docker-compose.yml:5: deploy.resources should be a mapping"),
        ("    ulimits:\n      nofile: {soft: 1}\n", "docker-compose.yml:5: ulimits.nofile needs both soft"),
        ("    ulimits:\n      nofile: x\n", "docker-compose.yml:5: ulimits.nofile 'x': expected a whole"),
        (
            "    healthcheck:\n      interval: 10\n",
            "docker-compose.yml:5: healthcheck.interval '10': expected a duration: a number with a unit",
        ),
        ("    healthcheck:\n      retries: -1\n", "docker-compose.yml:5: healthcheck.retries '-1': expected"),
        ("    healthcheck: 5\n", "docker-compose.yml:4: healthcheck should be a mapping, found a number"),
        ("    sysctls: 5\n", "docker-compose.yml:4: sysctls should be a mapping or a list, found a number"),
    ],
)
def test_a_value_docker_would_refuse_is_one_located_message(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ComposeError) as caught:
        runtime(tmp_path, body)
    assert str(caught.value).startswith(message), str(caught.value)
