"""The pure parts of Sentinel support: what the complete example promises, the plan a
topology is built from (addresses, passwords, quorum), and the parsing of Sentinel's and
INFO's replies."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis

from pytest_nself_redis.checks import REGISTRY, CheckContext, Status
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.sentinel.readings import LAG_BOUND_S, flags_of, replication_lag
from pytest_nself_redis.targets.topology.plan import (
    MIN_FAILOVER_TIMEOUT_MS,
    TopologyPlan,
    node_directives,
    sentinel_directives,
)
from tests.harness import COMPLETE


def test_the_complete_example_promises_sentinel_in_prod_only() -> None:
    project = NselfProject.open(COMPLETE)
    prod = load_env_context(project, "prod").settings
    assert prod.sentinel_enabled.value is True
    assert (prod.sentinel_quorum.value, prod.sentinel_count.value, prod.replicas.value) == (2, 3, 1)
    assert prod.sentinel_down_after_ms.value < prod.sentinel_failover_budget_ms.value
    assert str(prod.sentinel_enabled.source).startswith(".env.prod:")
    for env in ("dev", "staging"):
        assert load_env_context(project, env).settings.sentinel_enabled.value is False


def _plan(password: str = "s3cret") -> TopologyPlan:
    settings = load_env_context(NselfProject.open(COMPLETE), "prod").settings
    return TopologyPlan.of(settings, Secret(password), [7001, 7002], [7101, 7102, 7103])


def test_the_plan_follows_the_settings() -> None:
    plan = _plan()
    assert plan.master_name == "mymaster"
    assert (plan.quorum, plan.down_after_ms) == (2, 3000)
    assert plan.failover_timeout_ms == max(MIN_FAILOVER_TIMEOUT_MS, 9000)
    assert [(node.port, node.replica_of) for node in plan.nodes] == [(7001, None), (7002, 7001)]
    assert [(sentinel.port, sentinel.monitor_port) for sentinel in plan.sentinels] == [
        (7101, 7001),
        (7102, 7001),
        (7103, 7001),
    ]
    assert plan.ports == [7001, 7002, 7101, 7102, 7103]


def test_every_node_announces_loopback_and_its_own_port_with_the_password() -> None:
    plan = _plan()
    replica = dict((name, values) for name, values in node_directives(plan, plan.nodes[1]))
    assert replica["replica-announce-ip"] == ["127.0.0.1"]
    assert replica["replica-announce-port"] == ["7002"]
    assert replica["replicaof"] == ["127.0.0.1", "7001"]
    assert replica["masterauth"] == ["s3cret"]
    primary = dict(node_directives(plan, plan.nodes[0]))
    assert "replicaof" not in primary
    assert primary["masterauth"] == ["s3cret"], "after a failover the old primary is a replica"
    lines = [
        " ".join([name, *values]) for name, values in sentinel_directives(plan, plan.sentinels[0], "/d", "/t")
    ]
    assert "sentinel announce-ip 127.0.0.1" in lines
    assert "sentinel announce-port 7101" in lines
    assert "sentinel monitor mymaster 127.0.0.1 7001 2" in lines
    assert "sentinel down-after-milliseconds mymaster 3000" in lines
    assert "sentinel auth-pass mymaster s3cret" in lines
    assert "requirepass s3cret" in lines
    assert "sentinel sentinel-pass s3cret" in lines
    assert "bind 127.0.0.1" in lines


def test_a_tampered_plan_changes_one_part_only() -> None:
    plan = _plan()
    broken = plan.with_sentinel(2, auth_pass=Secret("wrong")).with_node(1, masterauth=Secret("wrong"))
    assert dict(node_directives(broken, broken.nodes[1]))["masterauth"] == ["wrong"]
    assert dict(node_directives(broken, broken.nodes[0]))["masterauth"] == ["s3cret"]
    lines = [" ".join([n, *v]) for n, v in sentinel_directives(broken, broken.sentinels[2], "/d", "/t")]
    assert "sentinel auth-pass mymaster wrong" in lines
    assert "sentinel auth-pass mymaster s3cret" in [
        " ".join([n, *v]) for n, v in sentinel_directives(broken, broken.sentinels[0], "/d", "/t")
    ]


def test_a_tls_plan_serves_tls_only_and_replicates_over_it() -> None:
    plan = replace(_plan(), tls=True)
    lines = [" ".join([n, *v]) for n, v in sentinel_directives(plan, plan.sentinels[0], "/d", "/t")]
    for expected in (
        "port 0",
        "tls-port 7101",
        "tls-cert-file /t/redis.crt",
        "tls-key-file /t/redis.key",
        "tls-ca-cert-file /t/ca.crt",
        "tls-replication yes",
        "sentinel announce-port 7101",
    ):
        assert expected in lines, lines
    assert "port 7101" not in lines
    assert dict(node_directives(plan, plan.nodes[1]))["tls-replication"] == ["yes"]
    plaintext = plan.with_node(1, tls_replication=False)
    assert dict(node_directives(plaintext, plaintext.nodes[1]))["tls-replication"] == ["no"]
    assert "tls-replication" not in dict(node_directives(_plan(), _plan().nodes[1]))
    assert not any(
        line.startswith("tls-")
        for line in (
            " ".join([n, *v]) for n, v in sentinel_directives(_plan(), _plan().sentinels[0], "/d", "/t")
        )
    )


def test_without_a_password_sentinels_reachable_through_docker_need_protected_mode_off() -> None:
    plan = _plan(password="")
    directives = dict(sentinel_directives(plan, plan.sentinels[0], "/d", "/t", bind="0.0.0.0"))
    assert directives["protected-mode"] == ["no"]
    assert directives["bind"] == ["0.0.0.0"]
    assert "requirepass" not in directives
    assert "masterauth" not in dict(node_directives(plan, plan.nodes[1]))


def test_flags_and_replication_lag_are_read_from_both_reply_forms() -> None:
    assert flags_of({"flags": "master,s_down,o_down"}) == {"master", "s_down", "o_down"}
    assert flags_of({"flags": {"master"}}) == {"master"}
    assert flags_of({}) == frozenset()
    info = {
        "role": "master",
        "master_repl_offset": 1000,
        "slave0": {"ip": "127.0.0.1", "port": 7002, "state": "online", "offset": 900, "lag": 0},
        "slave1": {"ip": "127.0.0.1", "port": 7003, "state": "wait_bgsave", "offset": 0, "lag": 0},
        "slave2": {
            "ip": "127.0.0.1",
            "port": 7004,
            "state": "online",
            "offset": 1000,
            "lag": LAG_BOUND_S + 1,
        },
    }
    role, replicas = replication_lag(info)
    assert role == "master"
    assert [(item.where, item.offset_lag, item.ok) for item in replicas] == [
        ("127.0.0.1:7002", 100, True),
        ("127.0.0.1:7003", 1000, False),
        ("127.0.0.1:7004", 0, False),
    ]


SENTINEL_CHECKS = [check_id for check_id in REGISTRY if check_id.startswith("sentinel.")]


@pytest.mark.parametrize("check_id", SENTINEL_CHECKS)
def test_every_sentinel_check_skips_when_not_promised_or_out_of_reach(check_id: str) -> None:
    """Nothing is touched: an env without Sentinel, or one whose deployment cannot be reached
    (attach without a sentinel's URL), skips with the reason and the setting's source."""
    project = NselfProject.open(COMPLETE)
    client = redis.Redis(port=1)  # never used: the checks skip before any read
    for env, deployment, reason in (
        ("staging", None, "this env promises no Sentinel (REDIS_SENTINEL_ENABLED=false (harness default))"),
        ("prod", None, "give a sentinel's URL (--nself-sentinel-url, doctor --sentinel-url)"),
    ):
        context = load_env_context(project, env)
        checks = CheckContext(context.settings, context.service, client, lambda **_: client, env=context)
        result = REGISTRY.run(check_id, checks, sentinel=deployment)
        assert result.status is Status.SKIPPED, result.message
        assert reason in result.message


def test_the_sentinel_checks_run_on_the_deployment_not_the_env_server() -> None:
    """An error there is never blamed on a root cause of the env's own server."""
    assert all(REGISTRY[check_id].launches for check_id in SENTINEL_CHECKS)
    assert len(SENTINEL_CHECKS) == 8
    safe = sorted(check_id for check_id in SENTINEL_CHECKS if REGISTRY[check_id].safe)
    assert safe == [
        "sentinel.counts",
        "sentinel.down_after",
        "sentinel.primary",
        "sentinel.quorum",
        "sentinel.replication",
    ]
