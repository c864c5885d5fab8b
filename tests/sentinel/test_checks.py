"""Every sentinel check fails on a deployment that breaks its promise, and names the cause
(the setting with its file:line, the sentinel or replica at fault); and each passes on the
complete example's prod topology.

Checks run in this process as the suites and doctor run them (``REGISTRY.run`` with the
deployment as the ``sentinel`` input), on topologies launched broken on purpose.
"""

from __future__ import annotations

import time
from dataclasses import replace

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult, Status
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.sentinel.access import LaunchedDeployment
from pytest_nself_redis.sentinel.readings import read_sentinel
from pytest_nself_redis.targets.topology import Topology
from pytest_nself_redis.targets.topology.base import Tamper
from pytest_nself_redis.targets.topology.plan import TopologyPlan
from tests.sentinel.conftest import PROD_PASSWORD, Launch

SAFE = (
    "sentinel.quorum",
    "sentinel.primary",
    "sentinel.counts",
    "sentinel.replication",
    "sentinel.down_after",
)
FAILOVER = ("sentinel.failover", "sentinel.acknowledged_writes", "sentinel.rejoin")


def run(topology: Topology, check_id: str) -> CheckResult:
    context = CheckContext.of(topology.nodes[0], run_id="checks")
    return REGISTRY.run(check_id, context, sentinel=LaunchedDeployment(topology))


def test_a_healthy_topology_keeps_every_promise(topology: Launch, target_kind: str) -> None:
    launched = topology(target_kind, REDIS_SENTINEL_FAILOVER_BUDGET_MS="10000")
    deployment = LaunchedDeployment(launched)
    context = CheckContext.of(launched.nodes[0], run_id="checks")
    results = [REGISTRY.run(check_id, context, sentinel=deployment) for check_id in SAFE + FAILOVER]
    for result in results:
        print(f"\n[{target_kind}] {result.id}: {result.status.value}: {result.message}")
    assert [result.status for result in results] == [Status.OK] * len(results), [
        result.message for result in results if result.status is not Status.OK
    ]
    failover = next(result for result in results if result.id == "sentinel.failover")
    assert failover.measured["failover_ms"] <= 10_000
    assert "+switch-master" in " ".join(event for _, event in failover.measured["timeline"])


def test_a_quorum_higher_than_the_sentinels_is_caught(topology: Launch, target_kind: str) -> None:
    launched = topology(target_kind, settle_timeout=5, REDIS_SENTINEL_QUORUM="4")
    result = run(launched, "sentinel.quorum")
    assert result.status is Status.ERROR, result.message
    assert "REDIS_SENTINEL_QUORUM=4 (variant override)" in result.message
    assert "a quorum of 4 can never be reached by 3 sentinels" in result.message
    assert "NOQUORUM 3 usable Sentinels" in result.message


def _break(index: int, **changes: Secret | bool) -> Tamper:
    def tamper(plan: TopologyPlan) -> TopologyPlan:
        if "auth_pass" in changes:
            return plan.with_sentinel(index, **changes)
        return plan.with_node(index, **changes)

    return tamper


def test_a_sentinel_that_cannot_reach_the_primary_is_caught(topology: Launch, target_kind: str) -> None:
    launched = topology(target_kind, _break(2, auth_pass=Secret("not-the-password")), settle_timeout=1)
    broken = launched.sentinels[2]
    deadline = time.monotonic() + 15
    while "s_down" not in read_sentinel(launched.sentinel_connection(broken), "mymaster", "b").down:
        assert time.monotonic() < deadline, "the broken sentinel never called the primary down"
        time.sleep(0.25)
    primary = run(launched, "sentinel.primary")
    assert primary.status is Status.ERROR, primary.message
    primary_at = f"127.0.0.1:{launched.nodes[0].endpoint.port}"
    assert f"sentinel 127.0.0.1:{broken.port} flags the primary {primary_at} s_down" in primary.message
    counts = run(launched, "sentinel.counts")
    assert counts.status is Status.ERROR, counts.message
    assert f"127.0.0.1:{broken.port} sees 0 replicas" in counts.message
    assert "REDIS_REPLICAS=1 (.env.prod:" in counts.message
    assert "not-the-password" not in primary.message + counts.message


def test_a_replica_that_never_syncs_is_caught(topology: Launch, target_kind: str) -> None:
    launched = topology(target_kind, _break(1, masterauth=Secret("not-the-password")), settle_timeout=3)
    replication = run(launched, "sentinel.replication")
    assert replication.status is Status.ERROR, replication.message
    assert f"0 replicas are connected to 127.0.0.1:{launched.nodes[0].endpoint.port}" in replication.message
    assert "REDIS_REPLICAS=1 (.env.prod:" in replication.message
    counts = run(launched, "sentinel.counts")
    assert counts.status is Status.ERROR
    assert "sees 0 replicas and 2 other sentinels" in counts.message


def test_a_replica_replicating_in_plaintext_on_tls_is_caught(topology: Launch, target_kind: str) -> None:
    """prod serves TLS only: a replica left on plaintext replication (tls-replication no) never
    syncs, and the check names that replica and why, from its own live configuration."""
    plaintext = _break(1, tls_replication=False)
    launched = topology(target_kind, plaintext, settle_timeout=3)
    replica = launched.nodes[1].endpoint.where()
    replication = run(launched, "sentinel.replication")
    assert replication.status is Status.ERROR, replication.message
    assert f"0 replicas are connected to 127.0.0.1:{launched.nodes[0].endpoint.port}" in replication.message
    assert (
        f"replica {replica}: master_link_status=down (tls-replication no: it talks plaintext to a "
        "primary that serves TLS only, so it never syncs)"
    ) in replication.message
    assert "REDIS_REPLICAS=1 (.env.prod:" in replication.message
    assert PROD_PASSWORD not in replication.message


def test_a_down_after_larger_than_the_budget_is_caught(topology: Launch) -> None:
    launched = topology(
        "process",
        settle_timeout=3,
        REDIS_SENTINEL_DOWN_AFTER_MS="20000",
        REDIS_SENTINEL_FAILOVER_BUDGET_MS="15000",
    )
    result = run(launched, "sentinel.down_after")
    assert result.status is Status.ERROR, result.message
    assert "REDIS_SENTINEL_DOWN_AFTER_MS=20000 (variant override)" in result.message
    assert "a failover cannot even start before down-after (20000 ms), past the budget" in result.message


def test_a_budget_with_no_room_for_the_election_warns(topology: Launch) -> None:
    launched = topology("process", settle_timeout=3, REDIS_SENTINEL_FAILOVER_BUDGET_MS="3000")
    result = run(launched, "sentinel.down_after")
    assert result.status is Status.WARNING, result.message
    assert "Tight: Sentinel needs about 2000 ms more" in result.message


def test_sentinels_running_another_down_after_than_promised_are_caught(topology: Launch) -> None:
    def slower(plan: TopologyPlan) -> TopologyPlan:
        return replace(plan, down_after_ms=4000)

    launched = topology("process", slower, settle_timeout=3)
    result = run(launched, "sentinel.down_after")
    assert result.status is Status.ERROR, result.message
    assert "waits 4000 ms (live down-after-milliseconds), not 2000" in result.message


def test_a_failover_slower_than_the_budget_is_caught(topology: Launch) -> None:
    # No failover is quicker than down-after (2000 ms here): a 1500 ms budget is always missed.
    launched = topology("process", REDIS_SENTINEL_FAILOVER_BUDGET_MS="1500")
    result = run(launched, "sentinel.failover")
    assert result.status is Status.ERROR, result.message
    assert "REDIS_SENTINEL_FAILOVER_BUDGET_MS=1500 (variant override)" in result.message
    assert "Broken: the failover took longer than the budget allows" in result.message
    assert result.measured["failover_ms"] > 1500


def test_a_topology_that_cannot_fail_over_fails_every_failover_check(topology: Launch) -> None:
    launched = topology(
        "process", settle_timeout=3, REDIS_SENTINEL_QUORUM="4", REDIS_SENTINEL_FAILOVER_BUDGET_MS="2500"
    )
    deployment = LaunchedDeployment(launched)
    context = CheckContext.of(launched.nodes[0], run_id="checks")
    results = {check_id: REGISTRY.run(check_id, context, sentinel=deployment) for check_id in FAILOVER}
    assert {result.status for result in results.values()} == {Status.ERROR}
    assert "no write accepted" in results["sentinel.failover"].message
    assert "no new primary took over" in results["sentinel.acknowledged_writes"].message
    assert "no failover happened" in results["sentinel.rejoin"].message
