"""The queue suite fails (or warns) on servers that are not fit for BullMQ, naming the cause;
BullMQ itself, run for real, agrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult, Status
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.attach import AttachTarget
from pytest_nself_redis.targets.base import Target, TargetOptions
from tests.conftest import Launcher
from tests.data.conftest import add_user, attach_args, attach_url, harness_keys
from tests.data.proxy import InfoRewritingProxy, set_field
from tests.harness import COMPLETE_WITHOUT_TLS, REPO, make_project, run_cli, run_suites
from tests.latency.proxy import DelayProxy
from tests.tls_proxy import LOOPBACK, TlsInterceptor, self_signed, signed_for_another_host


def failed_tests(outcomes: dict[str, str]) -> set[str]:
    return {name for name, outcome in outcomes.items() if outcome == "failed"}


@pytest.mark.parametrize(
    "case",
    [
        ("dev", {}, "allkeys-lru", "an evicted job key is a lost job", "(.env.dev:5)"),
        (
            "prod",
            {"REDIS_MAXMEMORY_POLICY": "volatile-lru"},
            "volatile-lru",
            "BullMQ's job locks carry TTLs",
            "REDIS_MAXMEMORY_POLICY=noeviction (.env.prod:8)",
        ),
    ],
    ids=["allkeys-lru", "volatile-lru"],
)
def test_an_evicting_policy_fails_readiness_with_bullmqs_words(
    tmp_path: Path,
    launch: Launcher,
    node_env: dict[str, str],
    case: tuple[str, dict[str, str], str, str, str],
) -> None:
    env, overrides, policy, why, source = case
    target = launch(COMPLETE_WITHOUT_TLS, env, "process", (), **overrides)
    if env == "dev":
        # dev declares no queue (REDIS_QUEUES): a queue found on the server makes it a promise.
        target.client().hset("bull:mail:meta", mapping={"opts.maxLenEvents": 10000})
    result = run_suites(
        COMPLETE_WITHOUT_TLS, tmp_path, *attach_args(attach_url(target), env, "queue"), env=node_env
    )
    assert failed_tests(result.outcomes(env)) == {"test_eviction_policy_is_noeviction"}, result.output[-3000:]
    details = result.case("test_eviction_policy_is_noeviction").details
    assert f'IMPORTANT! Eviction policy is {policy}. It should be "noeviction"' in details
    assert why in details
    assert source in details
    assert "Set REDIS_MAXMEMORY_POLICY=noeviction" in details
    assert (
        "queues run here: BullMQ keys found (bull:mail:meta)"
        if env == "dev"
        else "queues run here: REDIS_QUEUES=true (.env.staging:7)"
    ) in details
    # BullMQ, run for real, printed the same warning; the jobs still went round.
    assert result.case("test_bullmq_round_trip").outcome == "passed"
    assert f"BullMQ said: IMPORTANT! Eviction policy is {policy}" in result.output
    assert target.endpoint.password.reveal() not in result.output
    assert harness_keys(target) == []


def test_a_cache_policy_without_queues_is_a_warning(tmp_path: Path, launch: Launcher) -> None:
    """dev keeps nself's default allkeys-lru and runs no queue: the readiness check warns and
    says why it does not fail (it used to fail the run)."""
    target = launch(COMPLETE_WITHOUT_TLS, "dev")
    result = run_suites(
        COMPLETE_WITHOUT_TLS,
        tmp_path,
        *attach_args(attach_url(target), "dev", "queue"),
        "-k",
        "eviction_policy",
    )
    assert result.case("test_eviction_policy_is_noeviction").outcome == "passed", result.output[-3000:]
    output = " ".join(result.output.split())
    assert "PromiseWarning" in output
    assert "Eviction policy is allkeys-lru" in output
    assert (
        "no queue here: REDIS_QUEUES=false (harness default) and no BullMQ key in the whole keyspace"
        in output
    )


def test_lua_denied_by_acl_fails_readiness(
    tmp_path: Path, launch: Launcher, node_env: dict[str, str]
) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    add_user(target, "noscript", "noscript-Pw-31c8", "-@scripting")
    url = attach_url(target, "noscript", "noscript-Pw-31c8")
    result = run_suites(COMPLETE_WITHOUT_TLS, tmp_path, *attach_args(url, "prod", "queue"), env=node_env)
    assert failed_tests(result.outcomes("prod")) == {
        "test_lua_libraries_available",
        "test_bullmq_round_trip",
    }, result.output[-3000:]
    lua = result.case("test_lua_libraries_available").details
    assert "refused by ACL (NOPERM this user has no permissions to run the 'eval' command)" in lua
    assert "BullMQ runs every queue operation as a script" in lua
    bullmq = result.case("test_bullmq_round_trip").details
    assert "NOPERM this user has no permissions to run the 'eval' command" in bullmq
    assert "noscript-Pw-31c8" not in result.output
    assert harness_keys(target) == []


def test_streams_blocking_pops_and_client_denied_fail_readiness(
    tmp_path: Path, launch: Launcher, node_env: dict[str, str]
) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    add_user(target, "limited", "limited-Pw-77aa", "-@stream", "-bzpopmin", "-client")
    url = attach_url(target, "limited", "limited-Pw-77aa")
    result = run_suites(COMPLETE_WITHOUT_TLS, tmp_path, *attach_args(url, "prod", "queue"), env=node_env)
    assert failed_tests(result.outcomes("prod")) == {
        "test_streams_work",
        "test_bzpopmin_with_subsecond_timeout",
        "test_client_commands_allowed",
        "test_bullmq_round_trip",
    }, result.output[-3000:]
    for test, command in (
        ("test_streams_work", "xadd"),
        ("test_bzpopmin_with_subsecond_timeout", "bzpopmin"),
        ("test_client_commands_allowed", "client|setname"),
    ):
        assert f"no permissions to run the '{command}' command" in result.case(test).details, test
    assert "NOPERM" in result.case("test_bullmq_round_trip").details


@pytest.mark.parametrize(
    "case",
    [
        ("4.0.14", "failed", "Redis version needs to be greater or equal than 5.0.0 Current: 4.0.14"),
        ("6.0.16", "passed", "It is highly recommended to use a minimum Redis version of 6.2.0"),
    ],
    ids=["below-5.0", "below-6.2"],
)
def test_an_old_version_is_refused_or_warned(
    tmp_path: Path, launch: Launcher, node_env: dict[str, str], case: tuple[str, str, str]
) -> None:
    """INFO rewritten by a loopback proxy: every command still reaches the real server."""
    version, outcome, words = case
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    with InfoRewritingProxy(target.endpoint.port, set_field("redis_version", version)) as proxy:
        url = attach_url(target, port=proxy.port)
        result = run_suites(COMPLETE_WITHOUT_TLS, tmp_path, *attach_args(url, "prod", "queue"), env=node_env)
    version_case = result.case("test_version_is_supported")
    assert version_case.outcome == outcome, result.output[-3000:]
    message = version_case.details if outcome == "failed" else result.output
    assert f"redis_version={version}" in message
    assert words in message
    # BullMQ reads the same INFO and refuses (or warns) the same way.
    bullmq = result.case("test_bullmq_round_trip")
    assert bullmq.outcome == outcome
    assert words in (bullmq.details if outcome == "failed" else result.output)
    expected_failures = (
        {"test_version_is_supported", "test_bullmq_round_trip"} if outcome == "failed" else set()
    )
    assert failed_tests(result.outcomes("prod")) == expected_failures


@pytest.mark.parametrize(
    ("overrides", "seen"),
    [
        ({"REDIS_AOF_ENABLED": "false"}, "aof_enabled=0: jobs added since the last RDB snapshot are lost"),
        ({"REDIS_AOF_FSYNC": "no"}, "AOF on but appendfsync=no"),
    ],
    ids=["aof-off", "fsync-no"],
)
def test_weak_durability_warns(
    tmp_path: Path, launch: Launcher, overrides: dict[str, str], seen: str
) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", "process", (), **overrides)
    result = run_suites(
        COMPLETE_WITHOUT_TLS, tmp_path, *attach_args(attach_url(target), "prod", "queue"), "-k", "aof"
    )
    assert result.case("test_aof_is_on").outcome == "passed", result.output[-3000:]
    assert "PromiseWarning" in result.output
    assert seen in result.output


def test_missing_node_skips_with_the_reason_or_fails_when_required(tmp_path: Path) -> None:
    args = ("--nself-env", "prod", "--nself-target", "process", "-m", "queue", "-k", "bullmq", "-rs")
    missing = {"NSELF_NODE": str(tmp_path / "no-such-node")}
    for name in ("skip", "nomodules", "required"):
        (tmp_path / name).mkdir()
    result = run_suites(COMPLETE_WITHOUT_TLS, tmp_path / "skip", *args, env=missing)
    case = result.case("test_bullmq_round_trip")
    assert case.outcome == "skipped", result.output[-3000:]
    assert "node not found on PATH" in case.message + case.details

    empty = {"NSELF_NODE_DIR": str(tmp_path / "empty")}
    result = run_suites(COMPLETE_WITHOUT_TLS, tmp_path / "nomodules", *args, env=empty)
    case = result.case("test_bullmq_round_trip")
    assert case.outcome == "skipped"
    assert "are not installed in" in case.message + case.details
    assert "nself-redis node-setup" in case.message + case.details

    result = run_suites(
        COMPLETE_WITHOUT_TLS, tmp_path / "required", *args, env={**missing, "NSELF_REQUIRE_NODE": "1"}
    )
    case = result.case("test_bullmq_round_trip")
    assert case.outcome == "failed"
    assert "NSELF_REQUIRE_NODE is set" in case.details


def test_node_setup_check_says_what_is_missing(tmp_path: Path) -> None:
    completed = run_cli(["node-setup", "--check", "--dir", str(tmp_path / "nothing")], REPO)
    assert completed.returncode == 1
    assert "not ready" in completed.stdout
    assert "nself-redis node-setup" in completed.stdout


# -- TLS: Node connects as the Python clients do, never in plaintext, never unverified ---------------


def tls_server(tmp_path: Path, launch: Launcher) -> tuple[Path, Target, Path]:
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.prod": "REDIS_TLS_ENABLED=true"}
    )
    target = launch(project, "prod")
    assert target.endpoint.tls
    assert target.server_tls is not None
    assert target.endpoint.ca_file == str(target.server_tls.ca_cert)
    return project, target, target.server_tls.ca_cert


def bullmq_through(
    project: Path, url: str, ca_cert: str | None = None, insecure: bool = False
) -> CheckResult:
    """queue.bullmq run in this process against a server attached by URL (as doctor or
    --nself-redis-url would), so the endpoint Node gets comes from the attached client."""
    context = load_env_context(NselfProject.open(project), "prod")
    target = AttachTarget(context, TargetOptions(redis_url=url, redis_ca=ca_cert, insecure=insecure))
    target.start()
    try:
        return REGISTRY.run("queue.bullmq", CheckContext.of(target))
    finally:
        target.stop()


@pytest.fixture
def node_in_process(node_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in node_env.items():
        monkeypatch.setenv(key, value)


def test_bullmq_uses_tls_for_rediss_verified_by_the_system_cas(
    tmp_path: Path, launch: Launcher, node_in_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rediss:// without a CA file: TLS against the system's CAs (here SSL_CERT_FILE, which
    OpenSSL, Python and Node with --use-openssl-ca all read), host name 127.0.0.1 checked."""
    project, target, ca_cert = tls_server(tmp_path, launch)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_cert))
    password = target.endpoint.password.reveal()
    result = bullmq_through(project, f"rediss://:{password}@127.0.0.1:{target.endpoint.port}")
    assert result.status is Status.OK, result.message
    assert password not in result.message


def test_bullmq_sends_nothing_to_an_untrusted_certificate(
    tmp_path: Path, launch: Launcher, node_in_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, target, ca_cert = tls_server(tmp_path, launch)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_cert))
    password = target.endpoint.password.reveal()
    cert, key = self_signed(tmp_path)
    with TlsInterceptor((LOOPBACK, target.endpoint.port), ca_cert, cert, key, forward=1) as mitm:
        result = bullmq_through(project, f"rediss://:{password}@127.0.0.1:{mitm.port}")
    assert result.status is Status.ERROR, result.message
    mitm.assert_sent_nothing()
    # Only the explicit insecure option lets Node past it (and then the interceptor reads all).
    with TlsInterceptor((LOOPBACK, target.endpoint.port), ca_cert, cert, key, forward=1) as mitm:
        insecure = bullmq_through(project, f"rediss://:{password}@127.0.0.1:{mitm.port}", insecure=True)
    # The jobs go round; a connection the interceptor answers itself may make BullMQ complain
    # ("Protocol error"), which is a warning, not a refusal.
    assert insecure.status in (Status.OK, Status.WARNING), (insecure.message, mitm.handshakes)
    assert "Kept: 20/20 jobs came back right" in insecure.message
    assert password.encode() in bytes(mitm.received)


def test_bullmq_checks_the_host_name(tmp_path: Path, launch: Launcher, node_in_process: None) -> None:
    """The run's CA signed the certificate, but for another host: Node must refuse it."""
    project, target, ca_cert = tls_server(tmp_path, launch)
    password = target.endpoint.password.reveal()
    cert, key = signed_for_another_host(tmp_path, ca_cert.parent)
    with TlsInterceptor((LOOPBACK, target.endpoint.port), ca_cert, cert, key, forward=1) as mitm:
        result = bullmq_through(project, f"rediss://:{password}@127.0.0.1:{mitm.port}", str(ca_cert))
    assert result.status is Status.ERROR, result.message
    mitm.assert_sent_nothing()


def test_an_xadd_that_lands_before_the_blocked_read_still_wakes_it(launch: Launcher) -> None:
    """The blocked readers' connections (the second and third the check opens) are slow, so the
    read reaches the server after the XADD meant to wake it: read after the last entry seen, as
    QueueEvents reads, it still gets that entry (read from "$" it was missed: seen in CI, where a
    loaded TLS server took longer than the writer's 50 ms to set up the reader's connection)."""
    target = launch(COMPLETE_WITHOUT_TLS, "staging")
    with DelayProxy(target.endpoint.port, delay=0.2, delayed_connections={2, 3}) as proxy:
        client = target.client(port=proxy.port)
        result = REGISTRY.run("queue.streams", CheckContext.of(target, client))
        assert proxy.connections >= 3
    assert result.status is Status.OK, result.message
    assert "wakes on XADD" in result.message
    assert harness_keys(target) == []
