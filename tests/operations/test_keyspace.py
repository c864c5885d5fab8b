"""The key-namespace audit: sessions and cache entries that never expire, memory per prefix,
and the scan's own promises (its caps, the harness's keys left out, no key's idle time
touched, nothing written)."""

from __future__ import annotations

import time

import redis

from pytest_nself_redis.checks import REGISTRY, CheckContext, Status
from pytest_nself_redis.live.audit import audit_keyspace
from tests.conftest import Launcher
from tests.harness import COMPLETE
from tests.operations.conftest import run


def _sessions(client: redis.Redis, with_ttl: int, without_ttl: int) -> None:
    for number in range(with_ttl):
        client.set(f"session:s{number}", '{"user_id": 1}', ex=3600)
    for number in range(without_ttl):
        client.set(f"session:forever{number}", '{"user_id": 2}')


def test_sessions_without_a_ttl(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    _sessions(target.client(), with_ttl=50, without_ttl=3)
    result = run(target, "operations.session_ttl")
    assert result.status is Status.WARNING, result.message
    assert result.measured["keys"] == 53
    assert result.measured["without_ttl"] == 3
    assert sorted(result.measured["examples"]) == ["session:forever0", "session:forever1", "session:forever2"]
    assert "3 of 53 session:* keys have no TTL" in result.message
    assert "scanned 53 of 53 keys (the whole keyspace; caps 10000 keys, 2 s, COUNT 100)" in result.message


def test_sessions_that_expire(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    _sessions(target.client(), with_ttl=20, without_ttl=0)
    result = run(target, "operations.session_ttl")
    assert result.status is Status.OK, result.message
    assert "Kept: 20 session keys, all with a TTL" in result.message


def test_cache_keys_without_a_ttl_under_volatile_lru(launch: Launcher) -> None:
    target = launch(COMPLETE, "dev", REDIS_MAXMEMORY_POLICY="volatile-lru")
    client = target.client()
    client.set("cache:page:/home", "<html>", ex=600)
    client.set("cache:page:/about", "<html>")
    result = run(target, "operations.cache_ttl")
    assert result.status is Status.WARNING, result.message
    assert "REDIS_MAXMEMORY_POLICY=volatile-lru" in result.message
    assert "1 of 2 cache:* keys have no TTL (e.g. cache:page:/about)" in result.message
    assert "never evicted" in result.message


def test_cache_keys_without_a_ttl_under_allkeys_lru_are_fine(launch: Launcher) -> None:
    target = launch(COMPLETE, "dev")  # nself's allkeys-lru evicts any key
    target.client().set("cache:page:/about", "<html>")
    result = run(target, "operations.cache_ttl")
    assert result.status is Status.OK, result.message
    assert "allkeys-lru does not need TTLs to evict" in result.message


def test_memory_by_prefix_ranks_the_big_ones_first(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    client = target.client()
    client.mset({f"blob:{n}": "x" * 4000 for n in range(200)})
    client.mset({f"tiny:{n}": "1" for n in range(300)})
    client.set("nself-harness:someone-else:1", "x", ex=60)  # another run's key: not the app's
    result = run(target, "operations.memory_by_prefix")
    assert result.status is Status.OK, result.message
    rows = {row["prefix"]: row for row in result.measured["prefixes"]}
    assert next(iter(rows)) == "blob:"
    assert rows["blob:"]["keys"] == 200
    assert rows["blob:"]["sampled"] == 100
    assert rows["blob:"]["estimated_bytes"] > 200 * 4000
    assert rows["tiny:"]["keys"] == 300
    assert "nself-harness:" not in rows
    assert result.measured["scanned"] == 500


def test_the_scan_stops_at_its_caps(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    target.client().mset({f"order:{n}": "1" for n in range(2000)})
    by_keys = audit_keyspace(target.client(), max_keys=300)
    assert by_keys.scanned == 300
    assert by_keys.ended_by == "stopped at the 300-key cap"
    assert not by_keys.complete
    by_time = audit_keyspace(target.client(), max_seconds=0.0)
    assert by_time.ended_by == "stopped at the 0 s cap"
    assert by_time.scanned < 2000


def test_the_scan_leaves_idle_times_and_data_alone(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod")
    client = target.client()
    client.mset({f"order:{n}": "payload" for n in range(100)})
    time.sleep(2.1)
    hits = client.info("stats")["keyspace_hits"]
    # One context, as doctor and a suite run have: the three checks share one scan.
    context = CheckContext.of(target, run_id="ops-keyspace")
    for check_id in ("operations.session_ttl", "operations.cache_ttl", "operations.memory_by_prefix"):
        assert REGISTRY.run(check_id, context).status is Status.OK
    # One PTTL per key, each a keyspace hit as any read is; nothing else touched them.
    assert client.info("stats")["keyspace_hits"] - hits == 100
    # OBJECT IDLETIME does not touch the key: every key still idles since it was written.
    idle = [client.object("idletime", f"order:{n}") for n in range(100)]
    assert min(idle) >= 2, idle
    assert client.dbsize() == 100
