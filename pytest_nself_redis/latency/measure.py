"""Measure one command: prepare its keys, warm up, time N round trips, clean up."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from pytest_nself_redis.latency.sampler import (
    CLOCK,
    RawConnection,
    SamplerError,
    kernel_timed,
    quiet_gc,
    shown,
)
from pytest_nself_redis.latency.stats import Percentiles
from pytest_nself_redis.latency.workloads import SCRIPT, workload
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.resp import ReplyError


@dataclass(frozen=True)
class CommandLatency:
    """The round trips of one command against one server, and what they were."""

    command: str
    description: str
    durations_ns: tuple[int, ...]
    percentiles: Percentiles
    warmup: int
    server: str
    seconds: float
    clock: str = CLOCK

    @property
    def samples(self) -> int:
        return len(self.durations_ns)


@contextlib.contextmanager
def lent_by(client: redis.Redis, address: ServerAddress) -> Iterator[RawConnection]:
    """The round trips go over one of ``client``'s own pooled connections (connected,
    authenticated, on its db): no connection, and for TLS no handshake, per command measured
    (doctor's worker has one open already); a new one is made as the client makes them (its
    timeouts and retries). It goes back to the pool in its own timeout mode, or disconnected
    when sampling broke off (a reply may be left unread). A connection that does not speak
    RESP2 (the sampler's replies) is left alone, and one of our own is opened instead."""
    pool = client.connection_pool
    try:
        pooled = pool.get_connection()
    except redis.TimeoutError:
        raise SamplerError(f"no reply from {shown(address)} while connecting") from None
    except (redis.RedisError, OSError) as error:
        raise SamplerError(f"cannot connect to {shown(address)}: {error}") from None
    sock = getattr(pooled, "_sock", None)
    if sock is None or str(getattr(pooled, "protocol", 2) or 2) != "2":
        pool.release(pooled)
        with RawConnection(address) as own:
            yield own
        return
    finished = False
    try:
        with kernel_timed(sock, address.timeout):
            yield RawConnection(address, sock)
        finished = True
    finally:
        if not finished:
            pooled.disconnect()
        pool.release(pooled)


def measure(
    client: redis.Redis,
    command: str,
    prefix: str,
    *,
    samples: int,
    warmup: int,
    timeout: float = 5.0,
    max_seconds: float | None = None,
) -> CommandLatency:
    """Time ``samples`` round trips of ``command`` after ``warmup`` untimed ones.

    ``max_seconds`` bounds warm-up and sampling each (fewer samples on a slow server).

    Keys are created under ``prefix`` and deleted before returning, also on error.
    Raises ``SamplerError`` with the command named when the server refuses it.
    """
    if samples < 1:
        raise ValueError("samples must be at least 1")
    address = ServerAddress.of(client, timeout)
    started = time.monotonic()
    script_sha = None
    try:
        if command == "EVALSHA":
            script_sha = str(client.script_load(SCRIPT))
        unit = workload(command, prefix, script_sha)
    except redis.RedisError as error:
        raise SamplerError(f"{command}: preparing the workload failed: {error}") from None
    try:
        unit.prepare(client)
        with lent_by(client, address) as connection:
            if warmup:
                connection.time_round_trips(
                    unit.payload, unit.replies, warmup, max_seconds / 5 if max_seconds else None
                )
            with quiet_gc():
                durations = connection.time_round_trips(unit.payload, unit.replies, samples, max_seconds)
    except ReplyError as error:
        raise SamplerError(f"{command}: the server {error}") from None
    except SamplerError as error:
        raise SamplerError(f"{command}: {error}") from None
    except redis.RedisError as error:
        raise SamplerError(f"{command}: preparing the workload failed: {error}") from None
    finally:
        with contextlib.suppress(redis.RedisError):
            unit.cleanup(client)
    return CommandLatency(
        command=command,
        description=unit.description,
        durations_ns=tuple(durations),
        percentiles=Percentiles.of(durations),
        warmup=warmup,
        server=shown(address),
        seconds=time.monotonic() - started,
    )
