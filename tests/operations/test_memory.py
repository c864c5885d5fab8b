"""Memory as MEMORY DOCTOR judges it, and evictions where the policy promises none: each check
warns (or errs) on a real server brought into that state, and keeps quiet on a fresh one."""

from __future__ import annotations

import time

import redis

from pytest_nself_redis.checks import Status
from tests.conftest import Launcher
from tests.harness import COMPLETE
from tests.operations.conftest import run

KEYS = 60_000


def _fragment(client: redis.Redis) -> None:
    """Fill about 70 MB with 1 kB strings, then delete nine keys in ten: jemalloc keeps most of
    the pages (RSS stays up) while used_memory falls, and the peak stays where it was."""
    for start in range(0, KEYS, 10_000):
        pipe = client.pipeline(transaction=False)
        for number in range(start, start + 10_000):
            pipe.set(f"frag:{number}", "x" * 1000)
        pipe.execute()
    for start in range(0, KEYS, 10_000):
        client.delete(*[f"frag:{number}" for number in range(start, start + 10_000) if number % 10])
    # INFO's ratio is refreshed by the server's cron (every 100 ms at hz 10), not by the delete.
    deadline = time.monotonic() + 5
    while client.info("memory")["mem_fragmentation_ratio"] <= 1.4 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_fragmentation_and_peak_after_a_mass_delete(launch: Launcher) -> None:
    # No maxmemory (0): the fill must not be cut short by the env's cap.
    target = launch(COMPLETE, "dev", REDIS_MAXMEMORY="0", REDIS_PERSISTENCE="false")
    _fragment(target.client())
    fragmentation = run(target, "operations.fragmentation")
    peak = run(target, "operations.memory_peak")
    assert fragmentation.status is Status.WARNING, fragmentation.message
    assert fragmentation.measured["ratio"] > 1.4
    assert fragmentation.measured["wasted_bytes"] > 10 * 1024 * 1024
    assert "Seen: mem_fragmentation_ratio=" in fragmentation.message
    assert "activedefrag" in fragmentation.message
    assert peak.status is Status.WARNING, peak.message
    assert peak.measured["ratio"] > 1.5
    assert "used_memory_peak=" in peak.message


def test_a_fresh_server_is_too_small_to_judge(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    for check_id in ("operations.fragmentation", "operations.memory_peak"):
        result = run(target, check_id)
        assert result.status is Status.OK, result.message
        assert "where MEMORY DOCTOR draws no conclusion" in result.message


def _evict(client: redis.Redis) -> None:
    for number in range(20_000):
        client.set(f"fill:{number}", "x" * 200, ex=3600 if number % 2 else None)
        if number % 1000 == 0 and int(client.info("stats")["evicted_keys"]) > 0:
            return


def test_evictions_under_noeviction_were_made_by_another_policy(launch: Launcher) -> None:
    # prod promises noeviction; the server evicted while someone had switched the policy.
    target = launch(COMPLETE, "prod", REDIS_MAXMEMORY="2mb")
    admin = target.client()
    admin.config_set("maxmemory-policy", "allkeys-lru")
    _evict(admin)
    admin.config_set("maxmemory-policy", "noeviction")
    result = run(target, "operations.evictions")
    assert result.status is Status.ERROR, result.message
    assert result.measured["evicted_keys"] > 0
    assert "REDIS_MAXMEMORY_POLICY=noeviction (.env.prod:" in result.message
    assert "lost while another policy was in force" in result.message


def test_evictions_under_volatile_lru_warn(launch: Launcher) -> None:
    target = launch(COMPLETE, "dev", REDIS_MAXMEMORY="2mb", REDIS_MAXMEMORY_POLICY="volatile-lru")
    _evict(target.client())
    result = run(target, "operations.evictions")
    assert result.status is Status.WARNING, result.message
    assert "volatile-* evicts keys that carry a TTL" in result.message


def test_evictions_of_a_cache_without_queues_are_its_job(launch: Launcher) -> None:
    # dev runs no queue and keeps nself's allkeys-lru: evicting is what a cache does.
    target = launch(COMPLETE, "dev", REDIS_MAXMEMORY="2mb")
    _evict(target.client())
    result = run(target, "operations.evictions")
    assert result.status is Status.OK, result.message
    assert result.measured["evicted_keys"] > 0
    assert "the server is a cache doing its job" in result.message


def test_no_eviction_on_the_complete_example(launch: Launcher) -> None:
    result = run(launch(COMPLETE, "prod"), "operations.evictions")
    assert result.status is Status.OK, result.message
    assert "Kept: evicted_keys=0" in result.message
