"""The auth and tls checks called in this process, so their raw (unscrubbed) messages can be
inspected: no message or measured value ever holds a password, and the parts that need no
server (thresholds, compose parsing) behave as documented."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, Status, auth, tls
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.loopback import free_loopback_port
from pytest_nself_redis.project.model import NselfProject
from tests.auth.conftest import ContextMaker
from tests.harness import COMPLETE, make_project

SUITE_CHECKS = sorted(check_id for check_id, entry in REGISTRY.items() if entry.suite in ("auth", "tls"))
URL_HOSTILE = "Zq7@x:y/z?w#v%u[t]s-0123456789"


def run_all(context: CheckContext) -> dict[str, tuple[Status, str, str]]:
    """Every auth and tls check: status, message and measured value as JSON."""
    results = {}
    for check_id in SUITE_CHECKS:
        result = REGISTRY.run(check_id, context)
        results[check_id] = (result.status, result.message, json.dumps(result.measured))
    return results


def test_every_auth_and_tls_check_is_registered_and_safe() -> None:
    assert len([c for c in SUITE_CHECKS if c.startswith("auth.")]) == 14
    assert [c for c in SUITE_CHECKS if c.startswith("tls.")] == [
        "tls.accepts_tls_clients",
        "tls.refuses_plaintext",
    ]
    # All safe for doctor but the oversized request (see the test below).
    unsafe = [check_id for check_id in SUITE_CHECKS if not REGISTRY[check_id].safe]
    assert unsafe == ["auth.oversized_multibulk"]


PASSWORD_CASES = {
    "staging as shipped": ("staging", {}),
    "weak password": ("dev", {"REDIS_PASSWORD": "changeme"}),
    "short password": ("prod", {"REDIS_PASSWORD": "Kq83-short-pw"}),
    "password that needs URL encoding": ("prod", {"REDIS_PASSWORD": URL_HOSTILE}),
    "TLS": ("prod", {"REDIS_TLS_ENABLED": "true"}),
}


@pytest.mark.parametrize("case", list(PASSWORD_CASES), ids=list(PASSWORD_CASES))
def test_no_message_or_measurement_holds_the_password(check_context: ContextMaker, case: str) -> None:
    env, overrides = PASSWORD_CASES[case]
    context = check_context(COMPLETE, env, "process", (), **overrides)
    password = context.settings.password.value.reveal()
    results = run_all(context)
    for check_id, (_status, message, measured) in results.items():
        assert password not in message, check_id
        assert password not in measured, check_id
        assert password.lower() not in message.lower(), check_id


def test_a_password_that_needs_url_encoding_works_encoded_and_warns(check_context: ContextMaker) -> None:
    context = check_context(COMPLETE, "prod", REDIS_PASSWORD=URL_HOSTILE)
    results = run_all(context)
    assert results["auth.right_password"][0] is Status.OK
    status, message, _ = results["auth.url_form"]
    assert status is Status.WARNING, message
    assert "Kept: PING through it got PONG" in message
    assert "redis://:${REDIS_PASSWORD}@redis:6379 unencoded" in message
    assert "<url-encoded password>" in message


def test_tls_with_a_plaintext_listener_beside_it_is_caught(check_context: ContextMaker) -> None:
    plaintext_port = free_loopback_port()
    context = check_context(
        COMPLETE, "staging", extra_args=("--port", str(plaintext_port)), REDIS_TLS_ENABLED="true"
    )
    accepted = tls.accepts_tls_clients(context)
    assert accepted.status is Status.OK, accepted.message
    refused = tls.refuses_plaintext(context)
    assert refused.status is Status.ERROR
    assert (
        f"the running server reports port={plaintext_port}: a plaintext listener is open" in refused.message
    )


def test_tls_checks_measure_the_handshake(check_context: ContextMaker) -> None:
    context = check_context(COMPLETE, "prod", REDIS_TLS_ENABLED="true")
    accepted = tls.accepts_tls_clients(context)
    assert accepted.status is Status.OK, accepted.message
    assert "certificate and host name verified against " in accepted.message
    ca_cert = ServerAddress.of(context.client).ca_file
    assert ca_cert is not None
    assert ca_cert in accepted.message
    assert accepted.measured["tls_version"].startswith("TLSv1.")
    assert accepted.measured["handshake_ms"] < 5000
    refused = tls.refuses_plaintext(context)
    assert refused.status is Status.OK, refused.message
    assert refused.measured["live_port"] == "0"


def test_the_oversized_request_is_refused_at_once(check_context: ContextMaker) -> None:
    context = check_context(COMPLETE, "staging")
    started = time.monotonic()
    result = auth.oversized_unauthenticated_request_is_refused(context)
    elapsed = time.monotonic() - started
    assert result.status is Status.OK, result.message
    assert result.measured == {
        "reply": "-ERR Protocol error: unauthenticated multibulk length",
        "closed": True,
    }
    # Redis answers at once; the bound only matters for a server that accepts the header.
    assert elapsed < auth.REFUSAL_WAIT, elapsed


def test_the_oversized_request_is_never_sent_to_a_server_without_a_password(
    check_context: ContextMaker,
) -> None:
    """The settings promise a password; the server requires none. Sending the header would make
    it reserve 100 MB for the body (it did): the check sends nothing and says why."""
    context = check_context(COMPLETE, "staging", REDIS_PASSWORD="")
    context = dataclasses.replace(context, settings=NselfProject.open(COMPLETE).settings("staging"))
    peak = int(context.client.info("memory")["used_memory_peak"])
    result = auth.oversized_unauthenticated_request_is_refused(context)
    grown = int(context.client.info("memory")["used_memory_peak"]) - peak
    assert grown < 10_000_000, f"the server reserved {grown} bytes"
    assert result.status is Status.SKIPPED, result.message
    assert "the server requires no password (an unauthenticated PING got +PONG)" in result.message
    assert "auth.noauth" in result.message


def test_doctor_never_sends_the_oversized_request() -> None:
    from pytest_nself_redis.doctor.runner import doctor_checks

    assert not REGISTRY["auth.oversized_multibulk"].safe
    assert "auth.oversized_multibulk" not in doctor_checks()


# -- the parts that need no server ----------------------------------------------------


@pytest.mark.parametrize(
    ("env", "environ", "expected"),
    [
        ("dev", {}, 8),
        ("staging", {}, 16),
        ("prod", {}, 20),
        ("qa", {}, 8),
        ("prod", {"REDIS_PASSWORD_MIN_LENGTH_PROD": "32"}, 32),
        ("staging", {"REDIS_PASSWORD_MIN_LENGTH_PROD": "32"}, 16),
        ("qa", {"REDIS_PASSWORD_MIN_LENGTH_DEV": "10"}, 10),
        ("qa", {"REDIS_PASSWORD_MIN_LENGTH_QA": "12", "REDIS_PASSWORD_MIN_LENGTH_DEV": "10"}, 12),
    ],
)
def test_minimum_length_per_env(env: str, environ: dict[str, str], expected: int) -> None:
    assert auth.minimum_length(env, environ)[0] == expected


@pytest.mark.parametrize("bad", ["zero", "0", "-3", "1.5"])
def test_a_bad_minimum_length_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="REDIS_PASSWORD_MIN_LENGTH_PROD"):
        auth.minimum_length("prod", {"REDIS_PASSWORD_MIN_LENGTH_PROD": bad})


COMPOSE_WITH_LITERALS = """services:
  redis:
    image: redis:7-alpine
    command: ["redis-server", "--requirepass", "${REDIS_PASSWORD}"]
    environment:
      REDIS_PASSWORD: plain-literal-0123456789
      REDISCLI_AUTH: ${REDIS_PASSWORD}
    ports:
      - "127.0.0.1:6379:6379"
    healthcheck:
      test: ["CMD", "redis-cli", "-a", "plain-literal-0123456789", "ping"]
"""


def test_literals_in_environment_and_healthcheck_are_found(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", compose=COMPOSE_WITH_LITERALS)
    service = load_env_context(NselfProject.open(project), "staging").service
    findings = auth.literal_password_findings(service, "unrelated-password-value")
    assert findings == [
        "the healthcheck's -a is a literal value (docker-compose.yml:11)",
        "environment REDIS_PASSWORD is a literal value (docker-compose.yml:6)",
    ]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("${REDIS_PASSWORD}", None),
        ("$REDIS_PASSWORD", None),
        ("$$REDIS_PASSWORD", None),
        ("${REDIS_PASSWORD:?set REDIS_PASSWORD}", None),
        ("", None),
        ("s3cr3t", "a literal value"),
        ("${REDIS_PASSWORD:-changeme}", "a literal fallback (${VAR:-value})"),
        ("${REDIS_PASSWORD-changeme}", "a literal fallback (${VAR:-value})"),
    ],
)
def test_literal_kind(value: str, kind: str | None) -> None:
    assert auth.literal_kind(value) == kind


def test_a_literal_fallback_in_the_command_is_found(tmp_path: Path) -> None:
    compose = COMPOSE_WITH_LITERALS.replace(
        '"--requirepass", "${REDIS_PASSWORD}"', '"--requirepass", "${REDIS_PASSWORD:-changeme}"'
    )
    project = make_project(tmp_path / "project", compose=compose)
    service = load_env_context(NselfProject.open(project), "staging").service
    findings = auth.literal_password_findings(service, "unrelated-password-value")
    assert (
        findings[0]
        == "the command's --requirepass is a literal fallback (${VAR:-value}) (docker-compose.yml:4)"
    )


def test_references_are_not_literals(tmp_path: Path) -> None:
    compose = COMPOSE_WITH_LITERALS.replace("plain-literal-0123456789", "${REDIS_PASSWORD}").replace(
        '"-a", "${REDIS_PASSWORD}"', '"-a", "$$REDIS_PASSWORD"'
    )
    project = make_project(tmp_path / "project", compose=compose)
    service = load_env_context(NselfProject.open(project), "staging").service
    assert auth.literal_password_findings(service, "stg-redis-7f3a91c04e2b6d58") == []


@pytest.mark.parametrize(
    ("command", "found"),
    [
        (["redis-cli", "-a", "x", "ping"], ["redis-cli -a <password>"]),
        (["redis-cli", "--pass", "x", "ping"], ["redis-cli --pass <password>"]),
        (
            ["redis-cli", "-u", "redis://:x@localhost:6379", "ping"],
            ["redis-cli -u with the password in the URL"],
        ),
        (["redis-cli", "-u", "redis://localhost:6379", "ping"], []),
        (["redis-cli", "ping"], []),
    ],
)
def test_password_on_command_line(command: list[str], found: list[str]) -> None:
    assert auth.password_on_command_line(command) == found
