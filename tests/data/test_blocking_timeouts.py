"""A check's blocking read with a timeout ends at that timeout, also on an idle server.

An idle Redis ends a timed-out block only at its next tick; at hz 1, as here, up to a second
late. The checks keep the server awake once the timeout is due (``kept_awake``). Without it
each wait here ended anywhere up to 1.1 s after it began (1.0-1.1 s back to back): four runs
in a row under 0.5 s would happen about 1 time in 40."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, Status
from pytest_nself_redis.checks.probing import kept_awake
from tests.conftest import Launcher
from tests.data.conftest import harness_keys
from tests.harness import COMPLETE_WITHOUT_TLS


@pytest.mark.parametrize("check_id", ["queue.streams", "queue.blocking_pop", "datastructures.lists"])
def test_a_blocking_read_ends_at_its_timeout_on_an_idle_server(launch: Launcher, check_id: str) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "staging")
    client = target.client()
    client.config_set("hz", 1)
    took = []
    for _ in range(4):
        started = time.monotonic()
        result = REGISTRY.run(check_id, CheckContext.of(target, client))
        took.append(round((time.monotonic() - started) * 1000))
        assert result.status is Status.OK, result.message
    assert all(ms < 500 for ms in took), f"{check_id} took {took} ms, each with one 100 ms timeout"
    assert harness_keys(target) == []


def test_the_pings_end_quietly_when_the_client_is_closed_under_them(
    launch: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Doctor at its deadline closes the checks' clients while they run; a PING cut off that way
    raised ValueError in the pinging thread, printed as a traceback (seen in CI). Here the
    client's connections are closed again and again while it pings: nothing reaches the
    thread's excepthook (before, 163 of 200 rounds did)."""
    target = launch(COMPLETE_WITHOUT_TLS, "staging")
    client = target.client()
    escaped: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_type.__name__))
    for _ in range(50):
        with kept_awake(client, after=0, bound=1.0):
            ends = time.monotonic() + 0.02
            while time.monotonic() < ends:
                client.connection_pool.disconnect()
    assert escaped == []
