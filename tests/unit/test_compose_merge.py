"""The redis service of several compose files merged as Compose merges them, each value
citing the file that set it; which files a project uses; the 1.4 example's service."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.compose.service import load_compose_service
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.errors import ComposeError, ProjectError
from pytest_nself_redis.project.model import NselfProject
from tests.harness import NSELF_099, NSELF_14

BASE = """services:
  redis:
    image: redis:7-alpine
    user: "999:999"
    command: ["redis-server", "--appendonly", "yes"]
    environment:
      - A=base
      - B=base
    volumes:
      - redis_data:/data
      - ./conf:/etc/redis
    ports:
      - "127.0.0.1:6379:6379"
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 10s
      retries: 5
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    tmpfs: /tmp
    deploy:
      resources:
        limits: {memory: 512M, cpus: "0.5"}
  web:
    image: nginx
"""
OVERRIDE = """services:
  redis:
    image: redis:7.2-alpine
    command: redis-server --appendonly no
    environment:
      B: override
      C: override
    volumes:
      - other_data:/data
      - ./extra:/extra
    ports:
      - "127.0.0.1:6379:6379"
      - "127.0.0.1:16379:6379"
    healthcheck:
      test: ["CMD-SHELL", "redis-cli ping | grep PONG"]
      timeout: 3s
    cap_drop: [ALL, NET_RAW]
    security_opt: ["no-new-privileges:true"]
    tmpfs: [/run]
    deploy:
      resources:
        limits:
          memory: 1g
"""


def _write(directory: Path, files: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        (directory / name).write_text(text)
        paths.append(directory / name)
    return paths


def test_two_files_merge_by_composes_rules_and_every_value_cites_its_file(tmp_path: Path) -> None:
    paths = _write(tmp_path, {"docker-compose.yml": BASE, "docker-compose.override.yml": OVERRIDE})
    service = load_compose_service(paths, {})
    runtime = service.runtime
    # scalars: the later file
    assert service.image == "redis:7.2-alpine"
    assert service.user == "999:999"
    assert str(runtime.user.source) == "docker-compose.yml:4"  # type: ignore[union-attr]
    # command and healthcheck.test: replaced whole, never appended
    assert service.command == ("redis-server", "--appendonly", "no")
    assert str(service.command_source) == "docker-compose.override.yml:4"
    assert service.healthcheck == ("CMD-SHELL", "redis-cli ping | grep PONG")
    assert str(service.healthcheck_source) == "docker-compose.override.yml:15"
    # the rest of the healthcheck merges key by key
    health = runtime.healthcheck
    assert health is not None
    assert (health.interval.cite(), health.timeout.cite(), health.retries.cite()) == (  # type: ignore[union-attr]
        "10s (docker-compose.yml:16)",
        "3s (docker-compose.override.yml:16)",
        "5 (docker-compose.yml:17)",
    )
    # environment: by name, the later file's value winning
    assert dict(service.environment) == {"A": "base", "B": "override", "C": "override"}
    # volumes: one per target path, the later taking the earlier's place; new ones appended
    assert service.volumes == ("other_data:/data", "./conf:/etc/redis", "./extra:/extra")
    # ports: one per {ip, published, target, protocol}, new ones appended
    assert [port.text for port in service.ports] == ["127.0.0.1:6379:6379", "127.0.0.1:16379:6379"]
    assert [str(port.source) for port in service.ports] == [
        "docker-compose.override.yml:12",
        "docker-compose.override.yml:13",
    ]
    # cap_drop, tmpfs: one per value; security_opt: appended as it is
    assert [value.cite() for value in runtime.cap_drop] == [
        "ALL (docker-compose.override.yml:17)",
        "NET_RAW (docker-compose.override.yml:17)",
    ]
    assert [value.text for value in runtime.tmpfs] == ["/tmp", "/run"]
    assert [value.text for value in runtime.security_opt] == ["no-new-privileges:true"] * 2
    # deploy.resources.limits: by key
    assert runtime.memory is not None
    assert runtime.memory.value == 1024**3
    assert runtime.memory.cite() == "1g (docker-compose.override.yml:23)"
    assert runtime.cpu is not None
    assert runtime.cpu.cite() == "0.5 (docker-compose.yml:23)"
    assert service.describe() == (
        "service `redis` of docker-compose.yml:3, merged with docker-compose.override.yml:3"
    )
    assert service.compose_files == tuple(paths)
    assert service.compose_file == paths[0]


def test_the_order_of_the_files_decides(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        {name: f"services:\n  redis:\n    image: redis:{name[0]}\n" for name in ("a.yml", "b.yml", "c.yml")},
    )
    assert load_compose_service(paths, {}).image == "redis:c"
    assert load_compose_service(paths[::-1], {}).image == "redis:a"
    assert str(load_compose_service(paths, {}).source) == "a.yml:3"


def test_a_file_without_the_redis_service_takes_no_part(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        {
            "a.yml": "services:\n  redis:\n    image: redis:a\n",
            "b.yml": "networks:\n  n: {}\n",
            "c.yml": "services:\n  web:\n    image: nginx\n",
        },
    )
    assert load_compose_service(paths, {}).image == "redis:a"
    with pytest.raises(ComposeError) as caught:
        load_compose_service(paths[1:], {})
    assert str(caught.value).startswith(
        "none of b.yml, c.yml has a `redis` service (b.yml: no services; c.yml: web); "
    )


def test_an_empty_file_reads_as_one_without_services(tmp_path: Path) -> None:
    paths = _write(tmp_path, {"a.yml": "", "b.yml": "services:\n  web:\n    image: nginx\n"})
    with pytest.raises(ComposeError) as caught:
        load_compose_service(paths, {})
    assert str(caught.value).startswith(
        "none of a.yml, b.yml has a `redis` service (a.yml: no services; b.yml: web)"
    )
    with pytest.raises(ComposeError, match=r"^a.yml has no `services:` section$"):
        load_compose_service(paths[:1], {})


def test_reset_and_override_tags(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        {
            "a.yml": BASE,
            "b.yml": "services:\n  redis:\n    ports: !reset []\n    environment: !override\n      Z: only\n",
        },
    )
    service = load_compose_service(paths, {})
    assert service.ports == ()
    assert dict(service.environment) == {"Z": "only"}


def test_null_in_a_later_file_keeps_the_earlier_value(tmp_path: Path) -> None:
    paths = _write(tmp_path, {"a.yml": BASE, "b.yml": "services:\n  redis:\n    user:\n"})
    assert load_compose_service(paths, {}).user == "999:999"


def test_unique_keys_are_read_after_interpolation(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        {
            "a.yml": 'services:\n  redis:\n    image: r\n    ports: ["127.0.0.1:${P}:6379"]\n',
            "b.yml": 'services:\n  redis:\n    ports: ["127.0.0.1:6380:6379"]\n',
        },
    )
    assert [port.text for port in load_compose_service(paths, {"P": "6380"}).ports] == ["127.0.0.1:6380:6379"]
    assert len(load_compose_service(paths, {"P": "6381"}).ports) == 2


def _project(directory: Path, files: dict[str, str]) -> NselfProject:
    _write(directory, {".env": "REDIS_ENABLED=true\n", **files})
    return NselfProject.open(directory, environ={})


ONE = "services:\n  redis:\n    image: redis:one\n"
TWO = "services:\n  redis:\n    image: redis:two\n"


def test_0_9_reads_docker_compose_yml_and_its_override(tmp_path: Path) -> None:
    project = _project(tmp_path, {"docker-compose.yml": ONE, "docker-compose.override.yml": TWO})
    context = load_env_context(project, "dev")
    assert context.service.image == "redis:two"
    assert context.compose_files is not None
    assert context.compose_files.chosen_by == "docker-compose.yml with docker-compose.override.yml"


def test_1x_reads_the_files_compose_files_txt_lists_in_its_order(tmp_path: Path) -> None:
    files = {
        ".nself/compose-files.txt": "# generated\ncompose/two.yml\n\ndocker-compose.yml\n",
        "docker-compose.yml": ONE,
        "compose/two.yml": TWO,
        "docker-compose.override.yml": "services:\n  redis:\n    image: redis:not-listed\n",
    }
    (tmp_path / ".nself").mkdir()
    (tmp_path / "compose").mkdir()
    context = load_env_context(_project(tmp_path, files), "dev")
    assert context.service.image == "redis:one"
    sources = [str(source) for source in context.service.sources]
    assert sources == ["compose/two.yml:3", "docker-compose.yml:3"]
    assert context.compose_files is not None
    assert context.compose_files.chosen_by == ".nself/compose-files.txt"


def test_a_file_compose_files_txt_lists_must_exist(tmp_path: Path) -> None:
    (tmp_path / ".nself").mkdir()
    files = {".nself/compose-files.txt": "docker-compose.yml\nmissing.yml\n", "docker-compose.yml": ONE}
    with pytest.raises(ComposeError) as caught:
        load_env_context(_project(tmp_path, files), "dev")
    assert str(caught.value).startswith(".nself/compose-files.txt:2: missing.yml does not exist")


def test_1x_without_a_list_reads_the_default_files_and_0_9_ignores_the_list(tmp_path: Path) -> None:
    (tmp_path / ".nself").mkdir()
    project = _project(tmp_path, {"docker-compose.yml": ONE, "docker-compose.override.yml": TWO})
    assert load_env_context(project, "dev").service.image == "redis:two"
    _write(tmp_path, {".nself/compose-files.txt": "docker-compose.yml\n"})
    assert load_env_context(NselfProject.open(tmp_path, environ={}), "dev").service.image == "redis:one"
    forced = NselfProject.open(tmp_path, "0", environ={})
    assert load_env_context(forced, "dev").service.image == "redis:two"


def test_nself_compose_names_the_files_and_their_order(tmp_path: Path) -> None:
    files = {"docker-compose.yml": ONE, "b.yml": TWO, "docker-compose.override.yml": TWO}
    project = _project(tmp_path, files)
    assert load_env_context(project, "dev", "b.yml,docker-compose.yml").service.image == "redis:one"
    assert load_env_context(project, "dev", "docker-compose.yml, b.yml").service.image == "redis:two"
    assert load_env_context(project, "dev", "docker-compose.yml").service.image == "redis:one"
    assert load_env_context(project, "dev", "render").service.origin == "rendered"
    with pytest.raises(ComposeError) as caught:
        load_env_context(project, "dev", "docker-compose.yml,nope.yml")
    assert str(caught.value).startswith("--nself-compose nope.yml: no such file (relative paths are read")


def test_file_mode_without_any_compose_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="has no compose file"):
        load_env_context(_project(tmp_path, {}), "dev", "file")


def test_the_1_4_example_service() -> None:
    context = load_env_context(NselfProject.open(NSELF_14, environ={}), "dev")
    service, runtime = context.service, context.service.runtime
    assert service.describe() == "service `redis` of docker-compose.yml:12"
    assert service.image == "redis:7-alpine"
    assert service.args.value("maxclients") == "50"
    assert service.args.value("appendonly") == "yes"
    assert service.args.value("maxmemory") is None
    assert service.args.value("requirepass") == context.settings.password.value.reveal()
    assert [(port.host_ip, port.host_port, port.container_port) for port in service.ports] == [
        ("127.0.0.1", 6379, 6379)
    ]
    assert service.volumes == ("redis_data:/data",)
    assert runtime.user is not None
    assert runtime.user.cite() == "999:999 (docker-compose.yml:15)"
    assert runtime.memory is not None
    assert (runtime.memory.value, runtime.memory.cite()) == (512 * 1024**2, "512M (docker-compose.yml:25)")
    assert runtime.cpu is not None
    assert (runtime.cpu.value, str(runtime.cpu.source)) == (0.5, "docker-compose.yml:25")
    assert runtime.pids is not None
    assert runtime.pids.cite() == "100 (docker-compose.yml:30)"
    assert runtime.read_only is not None
    assert runtime.read_only.value is True
    assert [value.text for value in runtime.tmpfs] == ["/tmp"]
    assert [value.text for value in runtime.cap_drop] == ["ALL"]
    assert [value.text for value in runtime.security_opt] == ["no-new-privileges:true"]
    health = runtime.healthcheck
    assert health is not None
    assert health.test is not None
    assert health.test[:3] == ("CMD", "redis-cli", "-a")
    assert (health.interval.value, health.timeout.value, health.retries.value) == (10.0, 5.0, 5)  # type: ignore[union-attr]
    assert health.start_period is None
    assert [(found.where, str(found.source)) for found in service.literal_passwords] == [
        ("the command's --requirepass", "docker-compose.yml:17"),
        ("the healthcheck's -a", "docker-compose.yml:21"),
    ]
    assert all(found.value == context.settings.password.value for found in service.literal_passwords)
    assert context.settings.password.value.reveal() in context.redactor.values


def test_a_referenced_password_is_no_literal() -> None:
    context = load_env_context(NselfProject.open(NSELF_099, environ={}), "staging")
    assert context.service.literal_passwords == ()


def test_literal_passwords_in_the_environment_and_in_fallbacks(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        {
            "docker-compose.yml": "services:\n  redis:\n    image: r\n"
            "    command: redis-server --requirepass ${REDIS_PASSWORD}\n"
            "    environment:\n"
            "      REDIS_PASSWORD: Wm4kR9sLq2Tz7Xc5Bn8V\n"
            "      REDISCLI_AUTH: ${REDIS_PASSWORD}\n"
            "      OTHER: plain\n",
        },
    )
    service = load_compose_service(paths, {"REDIS_PASSWORD": "from-env-files-123"})
    assert [(found.where, str(found.source)) for found in service.literal_passwords] == [
        ("environment REDIS_PASSWORD", "docker-compose.yml:6")
    ]
    assert "Wm4kR9sLq2Tz7Xc5Bn8V" in service.secret_values()
    assert "Wm4kR9sLq2Tz7Xc5Bn8V" not in repr(service.literal_passwords)


def test_fallbacks_and_assignments_in_the_command_and_healthcheck_are_literal_passwords(
    tmp_path: Path,
) -> None:
    """A ${VAR:-value} fallback writes a password into the file too, and so does REDISCLI_AUTH=value
    in a shell healthcheck; $$VAR (for the container's shell) and ${VAR} do not."""
    paths = _write(
        tmp_path,
        {
            "docker-compose.yml": "services:\n  redis:\n    image: r\n"
            "    command: redis-server --requirepass ${REDIS_PASSWORD:-Fallback-pw-0123}\n"
            "    healthcheck:\n"
            '      test: ["CMD-SHELL", "REDISCLI_AUTH=Shell-pw-4567 redis-cli ping"]\n'
            "  other:\n    image: r\n",
            "docker-compose.override.yml": "services:\n  redis:\n"
            "    environment:\n"
            "      REDISCLI_AUTH: $$REDIS_PASSWORD\n",
        },
    )
    service = load_compose_service(paths, {})
    assert [literal.describe() for literal in service.literal_passwords] == [
        "the command's --requirepass is a literal fallback (${VAR:-value}) (docker-compose.yml:4)",
        "the healthcheck's REDISCLI_AUTH= is a literal value (docker-compose.yml:6)",
    ]
    assert [literal.value.reveal() for literal in service.literal_passwords] == [
        "Fallback-pw-0123",
        "Shell-pw-4567",
    ]
    with_variable = load_compose_service(paths, {"REDIS_PASSWORD": "from-env-files-123"})
    assert with_variable.literal_passwords[0].value.reveal() == "from-env-files-123"
