"""The override `nself-redis fix` writes: every promised flag, the base command's other
directives, no secret, maxmemory within 75 % of the container's memory limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.compose.override import MARK, MemoryFit, override_path, plan_override, written_by_fix
from pytest_nself_redis.compose.runtime import ComposeValue
from pytest_nself_redis.compose.service import load_compose_service
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.project.provenance import Source
from tests.harness import compose_file, make_project

MIB = 1024**2


def _limit(megabytes: int) -> ComposeValue[int]:
    return ComposeValue(megabytes * MIB, f"{megabytes}M", Source(Path("docker-compose.yml"), 9))


@pytest.mark.parametrize(
    ("promised", "limit", "value", "fits"),
    [
        (512 * MIB, None, 512 * MIB, True),  # no container limit: the promise as it is
        (256 * MIB, 512, 256 * MIB, True),
        (384 * MIB, 512, 384 * MIB, True),  # exactly 75 %
        (385 * MIB, 512, 384 * MIB, False),
        (0, 512, 384 * MIB, False),  # no cap at all in a limited container
        (100 * MIB, 100, 75 * MIB, False),
    ],
)
def test_maxmemory_keeps_a_quarter_of_the_container_limit(
    promised: int, limit: int | None, value: int, fits: bool
) -> None:
    fit = MemoryFit(promised, _limit(limit) if limit else None)
    assert (fit.value, fit.fits) == (value, fits)


def test_the_smallest_limit_that_fits_a_promise() -> None:
    assert MemoryFit(768 * MIB, _limit(512)).needed_limit() == "1024M"
    assert MemoryFit(300 * MIB, _limit(256)).needed_limit() == "400M"


def test_tls_other_directives_and_secrets(tmp_path: Path) -> None:
    command = (
        "redis-server --io-threads 4 --masterauth ${REDIS_PASSWORD} --maxclients 50 --tls-port 6380 "
        "--requirepass literal-password-123"
    )
    project = make_project(
        tmp_path / "p",
        env_files={".env.staging": "REDIS_TLS_ENABLED=true"},
        compose=compose_file(command),
    )
    context = load_env_context(NselfProject.open(project), "staging")
    override = plan_override(context.settings, context.service)
    text = override.text("nself-redis test")
    assert text.startswith(MARK)
    assert "--io-threads 4" in text  # carried over
    assert "--tls-port 6380" in text  # the deployment's own TLS, kept
    assert "--maxclients 50" not in text
    assert "--masterauth" in override.dropped
    assert "Not carried over from the base command (a secret): --masterauth." in text
    assert "literal-password-123" not in text
    assert context.settings.password.value.reveal() not in text


def test_tls_promised_but_not_deployed_adds_the_flags_and_the_mount(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p", env_files={".env.staging": "REDIS_TLS_ENABLED=true"}, compose=compose_file()
    )
    context = load_env_context(NselfProject.open(project), "staging")
    text = plan_override(context.settings, context.service).text("nself-redis test")
    assert "--port 0 --tls-port 6379 --tls-cert-file /tls/redis.crt" in " ".join(text.split())
    assert "./tls:/tls:ro" in text
    assert "redis-cli --tls --cacert /tls/ca.crt ping" in text


def test_no_password_no_environment_and_a_plain_healthcheck(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", env_files={".env": "REDIS_PASSWORD="}, compose=compose_file())
    context = load_env_context(NselfProject.open(project), "staging")
    text = plan_override(context.settings, context.service).text("nself-redis test")
    assert "requirepass" not in text
    assert "environment:" not in text
    assert "- >-\n          redis-cli ping | grep -q PONG" in text


def test_the_file_is_the_override_compose_reads_and_it_knows_its_own(tmp_path: Path) -> None:
    assert override_path(tmp_path / "docker-compose.yml") == tmp_path / "docker-compose.override.yml"
    assert override_path(tmp_path / "compose.yaml") == tmp_path / "compose.override.yml"
    mine, theirs = tmp_path / "mine.yml", tmp_path / "theirs.yml"
    mine.write_text(f"{MARK} written by fix\nservices: {{}}\n")
    theirs.write_text("services:\n  redis:\n    command: redis-server\n")
    assert written_by_fix(mine)
    assert not written_by_fix(theirs)
    assert not written_by_fix(tmp_path / "absent.yml")


def test_the_override_parses_as_compose_and_merges(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", compose=compose_file())
    context = load_env_context(NselfProject.open(project), "staging")
    path = tmp_path / "p" / "docker-compose.override.yml"
    path.write_text(plan_override(context.settings, context.service).text("nself-redis test"))
    variables = context.resolved.compose_variables()
    merged = load_compose_service([project / "docker-compose.yml", path], variables)
    assert merged.raw_healthcheck is not None
    assert "$$REDIS_PASSWORD" in merged.raw_healthcheck
    assert merged.environment["REDIS_PASSWORD"] == context.settings.password.value.reveal()
    assert merged.args.value("maxmemory") == str(context.settings.maxmemory.value)
