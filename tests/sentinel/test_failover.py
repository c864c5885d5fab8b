"""A real failover on both launch targets, measured through a Sentinel-aware client: the
figure is printed (and only held to the budget), no write acknowledged with WAIT 1 is lost,
the old primary rejoins as a replica; and a topology that cannot fail over is reported so."""

from __future__ import annotations

from pytest_nself_redis.sentinel.failover import exercise_failover
from tests.sentinel.conftest import Launch


def test_a_killed_primary_is_replaced_within_the_budget(
    topology: Launch, target_kind: str, run_id: str
) -> None:
    launched = topology(target_kind)
    result = exercise_failover(launched, f"nself-harness:{run_id}:failover:")
    print(f"\n[{target_kind}] {result.describe()}")
    for at_ms, event in result.timeline:
        print(f"  {at_ms:8.0f} ms  {event}")
    assert result.failover_ms is not None, result.describe()
    assert result.within_budget, result.describe()
    assert result.new_primary not in (None, result.old_primary)
    assert result.waited == 500
    assert result.waited_lost == [], result.waited_lost[:5]
    assert result.unwaited > 0, "nothing was written without WAIT up to the kill"
    assert result.rejoined, result.describe()
    assert result.old_primary_role.startswith("slave of port")
    events = " ".join(event for _, event in result.timeline)
    for expected in ("+sdown", "+odown", "+switch-master", "first write accepted", "old primary replicating"):
        assert expected in events, events
    counts = result.counts()
    assert counts["waited_lost"] == 0
    assert counts["failover_ms"] <= counts["budget_ms"]


def test_a_topology_that_cannot_fail_over_is_reported(topology: Launch) -> None:
    """Quorum 4 of 3 sentinels: the primary is never objectively down, so nobody is promoted."""
    launched = topology("process", settle_timeout=5, REDIS_SENTINEL_QUORUM="4")
    result = exercise_failover(launched, "nself-harness:no-failover:", budget_ms=2500)
    assert result.failover_ms is None
    assert not result.within_budget
    assert result.new_primary is None
    assert any("no write was accepted within 7 s of the kill" in problem for problem in result.problems), (
        result.problems
    )
    assert "no write accepted" in result.describe()
