"""The sampler against real servers: what it measures, what it leaves, how it fails."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pytest_nself_redis.checks import CheckContext, Status
from pytest_nself_redis.checks import latency as checks
from pytest_nself_redis.latency import COMMANDS, BudgetBook, SamplerError, measure, redis_benchmark
from pytest_nself_redis.latency.sampler import RawConnection
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.resp import encode
from pytest_nself_redis.plugin.benchmark_json import write_benchmark_json
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS
from tests.latency.proxy import DelayProxy

PREFIX = "nself-harness:selftest:lat1:"


@pytest.fixture
def server(launch: Launcher) -> Target:
    return launch(COMPLETE_WITHOUT_TLS, "prod")


def _keys_left(client: redis.Redis) -> list[str]:
    return list(client.scan_iter(match=f"{PREFIX}*", count=1000))


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_is_timed_and_leaves_no_key(server: Target, command: str) -> None:
    client = server.client()
    result = measure(client, command, PREFIX, samples=400, warmup=40)
    assert result.samples == 400
    values = [result.percentiles.values_ns[name] for name in ("p50", "p95", "p99", "p999", "max")]
    assert values == sorted(values)
    assert result.percentiles.min_ns > 0
    assert _keys_left(client) == []


def test_the_round_trips_go_over_the_clients_own_connection_and_leave_it_as_it_was(server: Target) -> None:
    client = server.client(socket_timeout=4)
    client.ping()
    admin = server.client()
    connections_before = int(admin.info("stats")["total_connections_received"])
    for command in ("PING", "GET", "EVALSHA"):
        measure(client, command, PREFIX, samples=50, warmup=5)
    # No connection was made for the samples (for TLS: no handshake each).
    assert int(admin.info("stats")["total_connections_received"]) == connections_before
    pooled = client.connection_pool.get_connection()
    try:
        sock = pooled._sock
        assert sock.gettimeout() == 4  # the client's own timeout mode, back
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16) == bytes(16)  # no kernel timeout
    finally:
        client.connection_pool.release(pooled)
    assert client.ping() is True


def test_pipeline_sends_sixteen_commands_per_round_trip(server: Target) -> None:
    client = server.client()
    before = int(client.info("stats")["total_commands_processed"])
    measure(client, "PIPELINE", PREFIX, samples=100, warmup=10)
    processed = int(client.info("stats")["total_commands_processed"]) - before
    # 110 round trips x 16 commands, plus AUTH, the INFO call, the cleanup DEL and the keys made
    # with a TTL beforehand (SET ... EX for the counter; MULTI, HSET, EXPIRE, EXEC for the hash).
    assert 110 * 16 <= processed <= 110 * 16 + 10, processed


def test_a_delay_on_the_wire_shows_in_every_percentile(server: Target) -> None:
    client = server.client()
    with DelayProxy(server.endpoint.port, delay=0.002) as proxy:
        slow = redis.Redis(
            host="127.0.0.1", port=proxy.port, password=server.endpoint.password.reveal(), socket_timeout=5
        )
        result = measure(slow, "GET", PREFIX, samples=100, warmup=5)
        slow.close()
    assert result.percentiles.min_ns >= 2_000_000, result.percentiles.as_ms()
    assert proxy.forwarded_requests >= 105
    assert _keys_left(client) == []


def test_sampling_stops_at_its_time_cap_on_a_slow_server(server: Target) -> None:
    with DelayProxy(server.endpoint.port, delay=0.005) as proxy:
        slow = redis.Redis(
            host="127.0.0.1", port=proxy.port, password=server.endpoint.password.reveal(), socket_timeout=5
        )
        started = time.monotonic()
        result = measure(slow, "PING", PREFIX, samples=5000, warmup=10, max_seconds=0.3)
        elapsed = time.monotonic() - started
        slow.close()
    assert 10 <= result.samples < 5000
    assert elapsed < 3, elapsed


def test_a_command_the_user_may_not_run_is_skipped_naming_it(server: Target) -> None:
    admin = server.client()
    admin.execute_command("ACL", "SETUSER", "lat-noscript", "on", ">lat-pw-0123", "~*", "+@all", "-evalsha")
    try:
        limited = redis.Redis(
            host="127.0.0.1",
            port=server.endpoint.port,
            username="lat-noscript",
            password="lat-pw-0123",
            decode_responses=True,
        )
        with pytest.raises(SamplerError) as caught:
            measure(limited, "EVALSHA", PREFIX, samples=10, warmup=1)
        assert "EVALSHA" in str(caught.value)
        assert "NOPERM" in str(caught.value)
        context = CheckContext.of(server, limited)
        result = checks.within_budget(context, "EVALSHA")
        assert result.status is Status.SKIPPED
        assert "EVALSHA is not allowed for this user" in result.message
        assert "NOPERM" in result.message
        limited.close()
    finally:
        admin.execute_command("ACL", "DELUSER", "lat-noscript")
    assert _keys_left(admin) == []


def test_an_error_reply_fails_the_check_naming_command_and_reason(launch: Launcher) -> None:
    full = launch(COMPLETE_WITHOUT_TLS, "prod", REDIS_MAXMEMORY="1", REDIS_MAXMEMORY_POLICY="noeviction")
    client, admin = full.client(), full.client(socket_timeout=5)
    client.ping()
    received = int(admin.info("stats")["total_connections_received"])
    with pytest.raises(SamplerError) as caught:
        measure(client, "SET", PREFIX, samples=10, warmup=1)
    assert "SET: the server answered -OOM command not allowed" in str(caught.value)
    # The connection the sampling broke off on is not handed out again: the client reconnected.
    assert client.ping() is True
    assert int(admin.info("stats")["total_connections_received"]) == received + 1
    context = CheckContext.of(full, client)
    result = checks.within_budget(context, "INCR")
    assert result.status is Status.ERROR
    assert "Promise: INCR round trips stay within budget" in result.message
    # INCR's counter is created (with a TTL) before the timing: that write is what is refused.
    assert "INCR: preparing the workload failed: command not allowed when used memory" in result.message
    assert _keys_left(client) == []


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Something that accepts connections and never answers (a hung server)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for sock in [*accepted, listener]:
        sock.close()


def test_a_server_that_never_answers_is_a_bounded_error(silent_port: int) -> None:
    # The sampler connects as the client does: with its timeout, and here no retries.
    client = redis.Redis(host="127.0.0.1", port=silent_port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    started = time.monotonic()
    with pytest.raises(SamplerError) as caught:
        measure(client, "PING", PREFIX, samples=10, warmup=0)
    assert time.monotonic() - started < 3
    assert "no reply" in str(caught.value)
    assert "PING" in str(caught.value)


def test_an_unanswered_read_names_the_server_and_its_bound(silent_port: int) -> None:
    """Untimed calls and timed round trips say the same about a silent server; the timed ones
    also say which round trip it was."""
    address = ServerAddress(port=silent_port, timeout=0.3)
    with RawConnection(address) as connection, pytest.raises(SamplerError) as caught:
        connection.call(encode("PING"))
    assert str(caught.value) == f"no reply from 127.0.0.1:{silent_port} within 0.3 s"
    with RawConnection(address) as connection, pytest.raises(SamplerError) as caught:
        connection.time_round_trips(encode("PING"), 1, 3)
    assert str(caught.value) == f"no reply from 127.0.0.1:{silent_port} within 0.3 s (round trip 1 of 3)"


def test_overhead_comparison_uses_a_throwaway_user_and_removes_it(server: Target) -> None:
    if redis_benchmark.find_binary() is None:
        pytest.skip("redis-benchmark is not installed (apt-get install redis-tools)")
    client = server.client()
    comparison = redis_benchmark.compare(client, PREFIX, "selftest", launched=True, requests=500, rounds=2)
    assert len(comparison.rounds) == 2
    assert comparison.sampler_p50_ms > 0
    assert comparison.benchmark_p50_ms > 0
    assert "********" in comparison.command_line
    users = client.execute_command("ACL", "USERS")
    assert not [user for user in users if str(user).startswith("nself-bench-")]
    with pytest.raises(redis_benchmark.BenchmarkUnavailable) as caught:
        redis_benchmark.compare(client, PREFIX, "selftest", launched=False)
    assert "command line" in str(caught.value)


def test_benchmark_json_compares_with_pytest_benchmarks_own_command(server: Target, tmp_path: Path) -> None:
    client = server.client()
    book = BudgetBook.defaults("prod")
    paths = []
    for run in ("first", "second"):
        results = [measure(client, command, PREFIX, samples=200, warmup=20) for command in ("PING", "GET")]
        paths.append(write_benchmark_json(tmp_path / run / "benchmark-prod.json", "prod", results, book))
    compared = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "latency[PING]" in compared.stdout
    assert "latency[GET]" in compared.stdout
