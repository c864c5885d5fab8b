"""Filling a container to its memory limit: does Redis hold the line, or does the kernel kill it?

Values of ``VALUE_BYTES`` go in pipelines of ``BATCH`` writes, each ending with ``INFO memory``
and ``INFO stats``, so one round trip both writes and measures. The fill stops when:

- the server goes away: Docker's state of the container says whether the kernel killed it
  for its memory limit (``OOMKilled``);
- Redis holds the line itself (a write refused with ``OOM``, or ``evicted_keys`` grows):
  a ``BGSAVE`` starts and the fill goes on until it ends, so the fork's copy-on-write
  happens under the same load, and the container must live through it;
- a bound is reached: ``FILL_BOUND`` times the limit written (unless a BGSAVE is running),
  or ``FILL_TIMEOUT_S``.

After a kill, ``restart_and_count`` starts the container again (with a larger limit, so
loading the data cannot be killed too) and counts the acknowledged writes that are gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.durability.recorder import AckLog, Survival
from pytest_nself_redis.targets.base import Target
from pytest_nself_redis.targets.health import ContainerState

VALUE_BYTES = 16 * 1024
BATCH = 8  # 128 KiB a round trip
FILL_BOUND = 4  # an evicting server never fills: stop after writing 4x its limit
FILL_TIMEOUT_S = 20.0
EXIT_WAIT_S = 10.0
SOCKET_TIMEOUT_S = 5.0
RETRY_PAUSE_S = 0.1
RESTART_LIMIT_FACTOR = 4
MIB = 1024**2


def mib(size: int) -> str:
    """``48.3 MiB``: sizes in messages and tables."""
    return f"{size / MIB:.1f} MiB"


class FillError(RuntimeError):
    """The fill could not be carried out (not a broken promise: a broken run)."""


@dataclass
class FillResult:
    """What one fill saw; sizes in bytes. ``state`` is set when the server went away."""

    limit: int
    maxmemory: int
    log: AckLog = field(default_factory=AckLog)
    refused: int = 0
    first_refusal: str = ""
    evicted: int = 0
    used: int = 0  # used_memory in the last INFO (before a kill: the last one it answered)
    rss: int = 0  # used_memory_rss, likewise
    peak: int = 0  # used_memory_peak
    written: int = 0  # bytes of values sent
    state: ContainerState | None = None
    saving: bool = False  # a BGSAVE was started under the fill
    bgsave: str | None = None  # rdb_last_bgsave_status after the BGSAVE; None: none ran
    seconds: float = 0.0
    restart_s: float | None = None
    survival: Survival | None = None

    @property
    def killed(self) -> bool:
        return self.state is not None and self.state.oom_killed

    @property
    def held(self) -> bool:
        """Redis limited its own growth (refused with OOM, or evicted)."""
        return self.refused > 0 or self.evicted > 0

    @property
    def acknowledged(self) -> int:
        return len(self.log.acknowledged)

    @property
    def lost(self) -> int | None:
        return None if self.survival is None else len(self.survival.lost(self.log))

    def held_by(self) -> str:
        if self.refused:
            return f"{self.refused} writes refused ({self.first_refusal})"
        return f"{self.evicted} keys evicted"

    def row(self, variant: str) -> dict[str, Any]:
        """The figures, as a row of the report's table."""
        return {
            "variant": variant,
            "limit": mib(self.limit),
            "maxmemory": mib(self.maxmemory) if self.maxmemory else "0 (no limit)",
            "outcome": self.outcome(),
            "used_memory": mib(self.used),
            "rss": mib(self.rss),
            "acknowledged": self.acknowledged,
            "lost": "-" if self.lost is None else self.lost,
            "refused": self.refused,
            "evicted": self.evicted,
            "bgsave": self.bgsave or "-",
            "seconds": round(self.seconds, 1),
        }

    def outcome(self) -> str:
        if self.killed:
            return "OOMKilled"
        if self.state is not None:
            return f"went away: {self.state.describe()}"
        return "held the line" if self.held else "not filled"


def refusal_text(reply: object) -> str:
    """A refused write as the server said it (redis-py drops the ``OOM`` error code)."""
    if isinstance(reply, redis_errors.OutOfMemoryError):
        return f"OOM {reply}"
    return str(reply)


def _client(target: Target) -> redis.Redis:
    return target.endpoint.client(socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)


def _round(client: redis.Redis, result: FillResult, prefix: str, saving: bool) -> dict[str, Any]:
    """One pipeline of writes and the INFO after them; the server's own stats from it."""
    start = result.log.sent
    names = [f"{prefix}{index}" for index in range(start, start + BATCH)]
    value = "x" * VALUE_BYTES
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.set(name, value)
    pipe.info("memory")
    pipe.info("stats")
    if saving:
        pipe.info("persistence")
    result.log.count_sent(len(names))
    result.written += len(names) * VALUE_BYTES
    try:
        replies = pipe.execute(raise_on_error=False)
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as problem:
        for name in names:
            result.log.unanswered(name, problem)
        raise
    at = time.monotonic()
    for name, reply in zip(names, replies[:BATCH], strict=True):
        if reply is True:
            result.log.ack(name, at)
        else:
            result.refused += 1
            result.first_refusal = result.first_refusal or refusal_text(reply)
    memory, stats = replies[BATCH], replies[BATCH + 1]
    result.used, result.rss = int(memory["used_memory"]), int(memory["used_memory_rss"])
    result.peak = max(result.peak, int(memory["used_memory_peak"]))
    result.evicted = int(stats["evicted_keys"])
    return dict(replies[BATCH + 2]) if saving else {}


def _rounds(client: redis.Redis, result: FillResult, prefix: str, deadline: float) -> None:
    """Rounds until Redis held the line and its BGSAVE ended, or a bound; raises when the
    server does not answer. Once a BGSAVE runs, only the deadline ends it: it is seen through."""
    while time.monotonic() < deadline and (result.saving or result.written < FILL_BOUND * result.limit):
        persistence = _round(client, result, prefix, result.saving)
        if result.saving and not int(persistence.get("rdb_bgsave_in_progress", 1)):
            result.bgsave = str(persistence.get("rdb_last_bgsave_status", "?"))
            return
        if result.held and not result.saving:
            client.bgsave(schedule=True)
            result.saving = True


def fill(target: Target, prefix: str, limit: int, maxmemory: int) -> FillResult:
    """Fill ``target`` (a container with ``limit`` bytes) as the module says. A server that stops
    answering while its container still runs is slow, not gone (a loaded machine): the fill goes
    on, on a new connection, until the deadline."""
    result = FillResult(limit, maxmemory)
    client = _client(target)
    began = time.monotonic()
    deadline = began + FILL_TIMEOUT_S
    try:
        while True:
            try:
                _rounds(client, result, prefix, deadline)
                break
            except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError):
                state = target.container_state()
                if state is None or not state.running or time.monotonic() >= deadline:
                    result.state = went_away(target)
                    break
                time.sleep(RETRY_PAUSE_S)
    except redis_errors.ResponseError as problem:
        raise FillError(f"the server refused the fill: {problem}") from None
    finally:
        client.close()
        result.seconds = time.monotonic() - began
    return result


def went_away(target: Target) -> ContainerState:
    """The container's state once it has stopped (the server stopped answering)."""
    deadline = time.monotonic() + EXIT_WAIT_S
    while True:
        state = target.container_state()
        if state is None:
            raise FillError("the server stopped answering and its container is gone")
        if not state.running or time.monotonic() >= deadline:
            if state.running:
                raise FillError(
                    f"the server stopped answering but its container still runs ({state.describe()})"
                )
            return state
        time.sleep(0.1)


def restart_and_count(target: Target, result: FillResult) -> None:
    """Start the killed container again, with room to load its data, and count what survived."""
    target.close_clients()
    target.set_memory_limit(RESTART_LIMIT_FACTOR * result.limit)
    began = time.monotonic()
    target.resume()
    result.restart_s = time.monotonic() - began
    result.survival = Survival.of(target.client(), result.log)
