"""Acknowledged writes, each with the moment its reply arrived.

A write counts as acknowledged only once the server's reply is in: that is the
promise a client relies on. A write sent when the server went away (no reply) is
"in flight": the server may or may not have applied it, so no mode promises anything
about it; it is counted apart. Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.durability.fill import existing


@dataclass
class AckLog:
    """Every write sent, and for each acknowledged one the time its reply arrived."""

    acknowledged: dict[str, float] = field(default_factory=dict)
    in_flight: list[str] = field(default_factory=list)
    sent: int = 0
    stream_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ack(self, key: str, at: float) -> None:
        with self._lock:
            self.acknowledged[key] = at

    def count_sent(self, count: int = 1) -> None:
        with self._lock:
            self.sent += count

    def unanswered(self, key: str, problem: BaseException) -> None:
        with self._lock:
            self.in_flight.append(key)
            if len(self.stream_errors) < 3:
                self.stream_errors.append(f"{type(problem).__name__}: {problem}")

    def acknowledged_before(self, moment: float) -> list[str]:
        return [key for key, at in self.acknowledged.items() if at <= moment]


def write_acknowledged(client: redis.Redis, prefix: str, count: int, log: AckLog, batch: int = 200) -> None:
    """``count`` keys in pipelines; each key's ack time is when its pipeline's replies arrived
    (later than the server's reply, so a loss window computed from it is never too small)."""
    for start in range(0, count, batch):
        names = [f"{prefix}{index}" for index in range(start, min(count, start + batch))]
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.set(name, name)
        log.count_sent(len(names))
        replies = pipe.execute()
        at = time.monotonic()
        for name, reply in zip(names, replies, strict=True):
            if reply is True:
                log.ack(name, at)


class StreamWriter(threading.Thread):
    """One client writing new keys back to back until told to stop or the server goes away.

    It uses its own connection (not one of the target's clients), so the target's
    lifecycle calls do not close it: it writes right up to the stop or crash.
    """

    def __init__(self, connection: Mapping[str, Any], prefix: str, log: AckLog) -> None:
        super().__init__(name=f"nself-stream-{prefix}", daemon=True)
        self.client = redis.Redis(**connection)
        self.prefix = prefix
        self.log = log
        self.stop_requested = threading.Event()
        self.written = 0

    def run(self) -> None:
        index = 0
        try:
            while not self.stop_requested.is_set():
                name = f"{self.prefix}{index}"
                self.log.count_sent()
                try:
                    reply = self.client.set(name, name)
                except (redis_errors.RedisError, OSError) as problem:
                    self.log.unanswered(name, problem)
                    return
                if reply is True:
                    self.log.ack(name, time.monotonic())
                index += 1
                self.written = index
        finally:
            self.client.close()

    def finish(self, timeout: float) -> None:
        self.stop_requested.set()
        self.join(timeout)


@dataclass(frozen=True)
class Survival:
    """What a restarted server still holds of the writes in an ``AckLog``."""

    survived: set[str]
    in_flight_survived: int

    @classmethod
    def of(cls, client: redis.Redis, log: AckLog) -> Survival:
        survived = existing(client, log.acknowledged)
        return cls(survived, len(existing(client, log.in_flight)))

    def lost(self, log: AckLog) -> list[str]:
        return [key for key in log.acknowledged if key not in self.survived]


def loss_window_ms(log: AckLog, lost: Iterable[str], stopped_at: float) -> float:
    """How long before the stop the oldest lost acknowledged write was acknowledged (0: none lost)."""
    times = [log.acknowledged[key] for key in lost]
    return round((stopped_at - min(times)) * 1000, 1) if times else 0.0
