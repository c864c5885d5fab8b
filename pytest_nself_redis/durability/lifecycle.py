"""One persistence scenario on a launched server: write, stop it (gracefully, by crash or
by recreating its container), start it again, and count what survived.

The writes: ``base`` keys first (pipelined, all acknowledged long before the stop),
then, for RDB-only modes, a forced save point (BGSAVE, waited for), then one client
writing new keys back to back for ``stream_s`` seconds and on through the stop
itself. Every acknowledged write is recorded with its time (``recorder.AckLog``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from pytest_nself_redis.durability.modes import (
    CRASH,
    EVERYSEC_WINDOW_S,
    GRACEFUL,
    RECREATE,
    PersistenceMode,
)
from pytest_nself_redis.durability.recorder import (
    AckLog,
    StreamWriter,
    Survival,
    loss_window_ms,
    write_acknowledged,
)
from pytest_nself_redis.durability.snapshot import background_save
from pytest_nself_redis.targets.base import Target

BASE_KEYS = 1000
SHORT_STREAM_S = 0.5
STREAM_SOCKET_TIMEOUT_S = 3.0
SAVE_TIMEOUT_S = 20.0
INFO_FIELDS = (
    "loading",
    "rdb_last_bgsave_status",
    "aof_enabled",
    "aof_last_write_status",
    "aof_last_bgrewrite_status",
    "rdb_changes_since_last_save",
)


class ScenarioError(RuntimeError):
    """The scenario could not be carried out (not a broken promise: a broken run)."""


@dataclass
class Outcome:
    """The counts of one scenario, as the report shows them."""

    mode: PersistenceMode
    scenario: str
    target: str
    log: AckLog
    survival: Survival
    stopped_at: float
    save_at: float | None
    stream_s: float
    restart_s: float
    info: dict[str, Any]

    @property
    def acknowledged(self) -> int:
        return len(self.log.acknowledged)

    @property
    def lost_keys(self) -> list[str]:
        return self.survival.lost(self.log)

    @property
    def lost(self) -> int:
        return len(self.lost_keys)

    @property
    def survived(self) -> int:
        return len(self.survival.survived)

    @property
    def loss_window_ms(self) -> float:
        return loss_window_ms(self.log, self.lost_keys, self.stopped_at)

    @property
    def lost_before_save(self) -> int:
        if self.save_at is None:
            return 0
        save_at = self.save_at
        return sum(1 for key in self.lost_keys if self.log.acknowledged[key] <= save_at)

    def info_problems(self) -> list[str]:
        problems = []
        if int(self.info.get("loading", 0)):
            problems.append("loading=1 (still loading)")
        for name in ("rdb_last_bgsave_status", "aof_last_write_status", "aof_last_bgrewrite_status"):
            value = self.info.get(name)
            if value is not None and value != "ok":
                problems.append(f"{name}={value}")
        return problems

    def counts(self) -> dict[str, Any]:
        return {
            "mode": self.mode.title,
            "scenario": self.scenario,
            "target": self.target,
            "written": self.log.sent,
            "acknowledged": self.acknowledged,
            "survived": self.survived,
            "lost": self.lost,
            "in_flight": len(self.log.in_flight),
            "in_flight_survived": self.survival.in_flight_survived,
            "loss_window_ms": self.loss_window_ms,
            "lost_before_save_point": self.lost_before_save,
            "stream_s": round(self.stream_s, 2),
            "restart_s": round(self.restart_s, 2),
        }

    def describe(self) -> str:
        in_flight = (
            f", {len(self.log.in_flight)} unanswered at the stop ({self.survival.in_flight_survived} of "
            "them applied)"
            if self.log.in_flight
            else ""
        )
        details = ""
        if self.lost:
            details = f"; the oldest lost write was acknowledged {self.loss_window_ms:.0f} ms before the stop"
            if self.save_at is not None:
                details += f"; {self.lost_before_save} lost writes were acknowledged before the save point"
        info = ", ".join(f"{name}={self.info.get(name)}" for name in INFO_FIELDS if name in self.info)
        return (
            f"{self.log.sent} writes sent, {self.acknowledged} acknowledged, {self.survived} survived the "
            f"{self.scenario}, {self.lost} lost{in_flight}{details} (streamed {self.stream_s:.1f} s up to "
            f"the stop on {self.target}; back in {self.restart_s:.2f} s; INFO persistence: {info})"
        )


def stream_seconds(mode: PersistenceMode, scenario: str) -> float:
    """Long enough for the base keys to be older than the everysec window at a crash."""
    if scenario == CRASH and mode.crash_rule == "window":
        return EVERYSEC_WINDOW_S + 0.5
    return SHORT_STREAM_S


def force_save_point(client: redis.Redis) -> float:
    """BGSAVE and wait until it is done; returns the moment the BGSAVE was sent (every write
    acknowledged before it is in the snapshot)."""
    sent_at, _ = background_save(client, SAVE_TIMEOUT_S)
    return sent_at


def exercise(target: Target, mode: PersistenceMode, scenario: str, prefix: str) -> Outcome:
    """Run one scenario on ``target`` (launched, with lifecycle control)."""
    if scenario == RECREATE and not hasattr(target, "recreate"):
        raise ScenarioError(f"the {target.kind} target cannot recreate its container")
    client = target.client()
    log = AckLog()
    write_acknowledged(client, f"{prefix}base:", BASE_KEYS, log)
    save_at = force_save_point(client) if mode.crash_rule == "save_point" else None
    stream_s = stream_seconds(mode, scenario)
    writer = StreamWriter(
        target.endpoint.redis_kwargs(
            socket_timeout=STREAM_SOCKET_TIMEOUT_S, socket_connect_timeout=STREAM_SOCKET_TIMEOUT_S
        ),
        f"{prefix}stream:",
        log,
    )
    writer.start()
    started_at = time.monotonic()
    time.sleep(stream_s)
    stopped_at = time.monotonic()
    try:
        if scenario == GRACEFUL:
            target.terminate()
        elif scenario == CRASH:
            target.kill()
        else:
            target.recreate()  # type: ignore[attr-defined]
    finally:
        writer.finish(timeout=STREAM_SOCKET_TIMEOUT_S + 2)
    began = time.monotonic()
    if scenario != RECREATE:
        target.resume()
    # For a recreate, the new container's start is part of recreate(): time it from the stop.
    restart_s = time.monotonic() - (began if scenario != RECREATE else stopped_at)
    client = target.client()
    info = client.info("persistence")
    survival = Survival.of(client, log)
    return Outcome(
        mode=mode,
        scenario=scenario,
        target=target.kind,
        log=log,
        survival=survival,
        stopped_at=stopped_at,
        save_at=save_at,
        stream_s=stopped_at - started_at,
        restart_s=restart_s,
        info={name: info.get(name) for name in INFO_FIELDS},
    )
