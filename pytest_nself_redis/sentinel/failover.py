"""A real failover, measured: SIGKILL the primary of a launched topology and time how long
until a Sentinel-aware client (redis-py's ``Sentinel.master_for``, as an application uses
it) gets its first write accepted by the new primary.

Before the kill: writes acknowledged with ``WAIT 1 <timeout>`` (at least one replica has
them), which must all be on the new primary; and one client writing without WAIT up to the
kill, whose acknowledged writes are counted, not judged (asynchronous replication may lose
the last ones). After: the old primary is started again and must rejoin as a replica of the
new one. A sentinel's event channel (+sdown, +odown, +switch-master, ...) gives the timeline.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from redis import exceptions as redis_errors
from redis.sentinel import Sentinel

from pytest_nself_redis.durability.fill import existing
from pytest_nself_redis.durability.recorder import AckLog, StreamWriter
from pytest_nself_redis.targets.base import Target
from pytest_nself_redis.targets.topology.base import Topology

WAITED_BATCHES = 20
BATCH = 25
WAIT_TIMEOUT_MS = 1000
CLIENT_TIMEOUT_S = 0.5
PROBE_PAUSE_S = 0.02
REJOIN_TIMEOUT_S = 60.0
# A failover not done by twice the budget (and this long after down-after) is given up on.
GIVE_UP_AFTER_DOWN_MS = 5000
# How long the client without WAIT writes before the kill.
UNWAITED_S = 0.3
EVENTS = (
    "+sdown",
    "+odown",
    "+try-failover",
    "+elected-leader",
    "+selected-slave",
    "+promoted-slave",
    "+switch-master",
    "-sdown",
    "+convert-to-slave",
)


class EventWatcher(threading.Thread):
    """One sentinel's events (its pub/sub channels), each with the time it arrived."""

    def __init__(self, client: redis.Redis, label: str) -> None:
        super().__init__(name=f"nself-sentinel-events-{label}", daemon=True)
        self.label = label
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe("*")
        self.events: list[tuple[float, str]] = []
        self.stop_requested = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop_requested.is_set():
                message = self.pubsub.get_message(timeout=0.1)
                if message and str(message["channel"]) in EVENTS:
                    event = f"{message['channel']} {message['data']} (sentinel {self.label})"
                    self.events.append((time.monotonic(), event))
        except (redis_errors.RedisError, OSError):
            return
        finally:
            self.pubsub.close()

    def finish(self) -> None:
        self.stop_requested.set()
        self.join(2)


@dataclass
class FailoverResult:
    """The measured failover, as reports show it (times in ms from the kill)."""

    target: str
    master_name: str
    budget_ms: int
    old_primary: str
    new_primary: str | None = None
    failover_ms: float | None = None
    timeline: list[tuple[float, str]] = field(default_factory=list)
    waited: int = 0  # writes acknowledged by WAIT 1 (a replica has them)
    waited_lost: list[str] = field(default_factory=list)
    not_replicated: int = 0  # writes WAIT could not confirm on any replica in time
    unwaited: int = 0  # writes acknowledged without WAIT, up to the kill
    unwaited_lost: int = 0
    rejoined: bool = False
    old_primary_role: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def within_budget(self) -> bool:
        return self.failover_ms is not None and self.failover_ms <= self.budget_ms

    def counts(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "old_primary": self.old_primary,
            "new_primary": self.new_primary,
            "failover_ms": None if self.failover_ms is None else round(self.failover_ms),
            "budget_ms": self.budget_ms,
            "waited_writes": self.waited,
            "waited_lost": len(self.waited_lost),
            "unwaited_writes": self.unwaited,
            "unwaited_lost": self.unwaited_lost,
            "old_primary_rejoined": self.rejoined,
        }

    def describe(self) -> str:
        took = (
            "no write accepted"
            if self.failover_ms is None
            else f"first write accepted after {self.failover_ms:.0f} ms"
        )
        return (
            f"SIGKILL of the primary {self.old_primary} ({self.target}): {took} "
            f"(budget {self.budget_ms} ms) by {self.new_primary or 'no new primary'}; "
            f"{self.waited} writes acknowledged with WAIT 1 before the kill, {len(self.waited_lost)} lost; "
            f"{self.unwaited} acknowledged without WAIT, {self.unwaited_lost} lost (not judged); "
            f"old primary after restart: {self.old_primary_role or 'unknown'}"
            + ("".join(f"; {problem}" for problem in self.problems))
        )


def _waited_writes(master: redis.Redis, prefix: str, result: FailoverResult) -> list[str]:
    """Batches of writes, each confirmed by ``WAIT 1``; returns the keys a replica has."""
    confirmed: list[str] = []
    for batch in range(WAITED_BATCHES):
        keys = [f"{prefix}waited:{batch}:{index}" for index in range(BATCH)]
        pipe = master.pipeline(transaction=False)
        for key in keys:
            pipe.set(key, key)
        pipe.execute()
        if int(master.execute_command("WAIT", 1, WAIT_TIMEOUT_MS)) >= 1:
            confirmed += keys
        else:
            result.not_replicated += len(keys)
    return confirmed


def _first_accepted_write(master: redis.Redis, key: str, deadline: float) -> float | None:
    """Keep writing through the Sentinel-aware client until one is accepted; when."""
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        try:
            if master.set(key, attempt):
                return time.monotonic()
        except (redis_errors.RedisError, OSError):
            pass
        time.sleep(PROBE_PAUSE_S)
    return None


def _rejoin(topology: Topology, node: Target, new_port: int) -> tuple[bool, str]:
    """Start the old primary again and wait until it replicates the new one with its link up."""
    node.resume()
    deadline = time.monotonic() + REJOIN_TIMEOUT_S
    role = ""
    while time.monotonic() < deadline:
        info = topology.replication(node)
        link = info.get("master_link_status", "-")
        role = f"{info.get('role', 'down')} of port {info.get('master_port', '-')}, link {link}"
        if info.get("role") == "slave" and int(info.get("master_port", 0)) == new_port and link == "up":
            return True, role
        time.sleep(0.2)
    return False, role


@dataclass
class _Run:
    """What one failover run holds while it goes."""

    topology: Topology
    prefix: str
    result: FailoverResult
    sentinel: Sentinel
    master: redis.Redis
    old: Target
    killed_at: float = 0.0
    waited: list[str] = field(default_factory=list)
    log: AckLog = field(default_factory=AckLog)

    def at(self, moment: float) -> float:
        return (moment - self.killed_at) * 1000


def _kill_under_writes(run: _Run) -> None:
    """SIGKILL the primary while a client writes to it without WAIT."""
    connection = run.old.endpoint.redis_kwargs(socket_timeout=2.0, socket_connect_timeout=2.0)
    writer = StreamWriter(connection, f"{run.prefix}unwaited:", run.log)
    writer.start()
    time.sleep(UNWAITED_S)
    run.killed_at = time.monotonic()
    run.old.kill()
    writer.finish(timeout=5)


def _count_and_rejoin(run: _Run, accepted_at: float) -> None:
    """On the new primary: which acknowledged writes are there; then the old one's return."""
    result = run.result
    result.failover_ms = run.at(accepted_at)
    host, port = run.sentinel.discover_master(result.master_name)
    result.new_primary = f"{host}:{port}"
    with run.topology.node_at(int(port)).probe_client() as client:
        result.waited_lost = sorted(set(run.waited) - existing(client, run.waited))
        result.unwaited = len(run.log.acknowledged)
        result.unwaited_lost = result.unwaited - len(existing(client, run.log.acknowledged))
    result.timeline.append((run.at(time.monotonic()), "old primary restarted"))
    result.rejoined, result.old_primary_role = _rejoin(run.topology, run.old, int(port))
    if result.rejoined:
        result.timeline.append((run.at(time.monotonic()), "old primary replicating the new one"))


def _start(topology: Topology, prefix: str, budget_ms: int | None) -> _Run:
    settings = topology.context.settings
    budget = budget_ms if budget_ms is not None else settings.sentinel_failover_budget_ms.value
    sentinel = topology.sentinel_client(CLIENT_TIMEOUT_S)
    host, port = sentinel.discover_master(topology.master_name)
    result = FailoverResult(topology.kind, topology.master_name, budget, f"{host}:{port}")
    master = sentinel.master_for(
        topology.master_name, socket_timeout=CLIENT_TIMEOUT_S, socket_connect_timeout=CLIENT_TIMEOUT_S
    )
    return _Run(topology, prefix, result, sentinel, master, topology.node_at(int(port)))


def exercise_failover(topology: Topology, prefix: str, budget_ms: int | None = None) -> FailoverResult:
    """Kill the primary, measure, count, restart it; the topology stays up for the caller.
    ``budget_ms`` defaults to REDIS_SENTINEL_FAILOVER_BUDGET_MS."""
    run = _start(topology, prefix, budget_ms)
    result = run.result
    run.waited = _waited_writes(run.master, prefix, result)
    result.waited = len(run.waited)
    watchers = [
        EventWatcher(topology.sentinel_connection(sentinel), str(sentinel.port))
        for sentinel in topology.sentinels
    ]
    for watcher in watchers:
        watcher.start()
    try:
        _kill_under_writes(run)
        down_after = topology.context.settings.sentinel_down_after_ms.value
        limit = run.killed_at + max(2 * result.budget_ms, down_after + GIVE_UP_AFTER_DOWN_MS) / 1000
        accepted_at = _first_accepted_write(run.master, f"{prefix}probe", limit)
        if accepted_at is None:
            result.problems.append(f"no write was accepted within {limit - run.killed_at:.0f} s of the kill")
        else:
            _count_and_rejoin(run, accepted_at)
    finally:
        for watcher in watchers:
            watcher.finish()
    result.timeline += [(run.at(moment), event) for watcher in watchers for moment, event in watcher.events]
    result.timeline.append((0.0, "SIGKILL of the primary"))
    if result.failover_ms is not None:
        result.timeline.append((result.failover_ms, "first write accepted by the new primary"))
    result.timeline.sort()
    return result
