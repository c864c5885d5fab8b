"""Clients and latency causes on real servers: connections refused at maxclients, a client
waiting where no queue runs, a subscriber that stops reading, a slow script the latency
monitor records."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import redis

from pytest_nself_redis.checks import Status
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS
from tests.operations.conftest import run


def test_connections_refused_at_maxclients(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", REDIS_MAX_CLIENTS="4")
    held = []
    for _ in range(8):
        with contextlib.suppress(redis.ConnectionError):  # the 5th and later are refused
            held.append(
                target.connect(password=target.endpoint.password.reveal(), single_connection_client=True)
            )
    for client in held:
        client.close()
    time.sleep(0.1)
    result = run(target, "operations.rejected_connections")
    assert result.status is Status.WARNING, result.message
    assert result.measured["rejected_connections"] >= 4
    assert result.measured["maxclients"] == 4
    assert "max number of clients reached" in result.message


def test_no_connection_refused_on_the_complete_example(launch: Launcher) -> None:
    result = run(launch(COMPLETE_WITHOUT_TLS, "prod"), "operations.rejected_connections")
    assert result.status is Status.OK, result.message
    assert "Kept: rejected_connections=0" in result.message


@contextlib.contextmanager
def _waiting(target: Target) -> Iterator[None]:
    """A client blocked in BLPOP for the duration."""
    waiter = target.client(socket_timeout=10, single_connection_client=True)
    waiter_id = waiter.client_id()
    thread = threading.Thread(
        target=lambda: waiter.blpop(["nself-harness:ops:never"], timeout=5), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 3
    while int(target.client().info("clients")["blocked_clients"]) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield
    finally:
        target.client().client_unblock(waiter_id)
        thread.join(timeout=5)


def test_a_client_waiting_where_no_queue_runs(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "dev")  # dev runs no queue
    with _waiting(target):
        result = run(target, "operations.blocked_clients")
    assert result.status is Status.WARNING, result.message
    assert result.measured["blocked_clients"] == 1
    assert "this env runs no queue" in result.message
    assert "REDIS_QUEUES" in result.message


def test_a_client_waiting_where_queues_run_is_a_worker(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")  # prod runs queues (REDIS_QUEUES=true)
    with _waiting(target):
        result = run(target, "operations.blocked_clients")
    assert result.status is Status.OK, result.message
    assert "queue workers wait" in result.message


def _subscribe_without_reading(target: Target, channel: str) -> socket.socket:
    """A raw subscriber that never reads what it is sent: its output buffer grows on the server."""
    reader = socket.create_connection((target.endpoint.host, target.endpoint.port))
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    password = target.endpoint.password.reveal()
    command = [b"AUTH", password.encode()], [b"SUBSCRIBE", channel.encode()]
    for words in command:
        reader.sendall(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
    return reader


def test_a_subscriber_that_stops_reading_is_about_to_be_cut_off(launch: Launcher) -> None:
    # Soft limit 256 kB held for an hour: the buffer passes it and stays (not yet closed).
    target = launch(
        COMPLETE_WITHOUT_TLS, "prod", extra_args=("--client-output-buffer-limit", "pubsub 64mb 256kb 3600")
    )
    reader = _subscribe_without_reading(target, "orders")
    try:
        client, payload = target.client(), "x" * 65536
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for _ in range(32):
                client.publish("orders", payload)
            omem = max((int(c["omem"]) for c in client.client_list(_type="pubsub")), default=0)
            if omem > 512 * 1024:
                break
        result = run(target, "operations.pubsub_disconnections")
    finally:
        reader.close()
    assert result.status is Status.WARNING, result.message
    assert result.measured["near"] == 1
    assert "(pubsub 64.0 MB hard, 256 KB soft for 3600 s (CONFIG GET))" in result.message
    assert "1 of 1 subscribers near the limit now" in result.message


def test_subscribers_that_keep_up(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    pubsub = target.client().pubsub()
    pubsub.subscribe("orders")
    try:
        target.client().publish("orders", "hello")
        result = run(target, "operations.pubsub_disconnections")
    finally:
        pubsub.close()
    assert result.status is Status.OK, result.message
    assert "0 of 1 subscribers near the limit now" in result.message


def test_a_slow_script_is_a_latency_event(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", extra_args=("--latency-monitor-threshold", "10"))
    # A Lua busy loop of about 50 ms: the monitor records a "command" event over 10 ms.
    target.client().eval(
        "local t = redis.call('TIME'); local start = t[1] * 1000000 + t[2]; local now = start "
        "while now - start < 50000 do t = redis.call('TIME'); now = t[1] * 1000000 + t[2] end return 1",
        0,
    )
    result = run(target, "operations.latency_events")
    assert result.status is Status.WARNING, result.message
    events = {event["event"]: event for event in result.measured["events"]}
    assert "command" in events, events
    assert events["command"]["max_ms"] >= 10
    assert "latency-monitor-threshold=10 ms" in result.message


def test_the_latency_monitor_off_is_a_note(launch: Launcher) -> None:
    result = run(launch(COMPLETE_WITHOUT_TLS, "prod"), "operations.latency_events")
    assert result.status is Status.SKIPPED
    assert result.message.startswith("a note, not a verdict: the latency monitor is off")


def test_a_quiet_monitored_server_keeps_it(launch: Launcher) -> None:
    result = run(
        launch(COMPLETE_WITHOUT_TLS, "prod", extra_args=("--latency-monitor-threshold", "100")),
        "operations.latency_events",
    )
    assert result.status is Status.OK, result.message
    assert "Kept: no event recorded since start" in result.message
