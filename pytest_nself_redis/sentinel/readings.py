"""What a Sentinel deployment says about itself, read without changing anything: each
sentinel's view of the monitored primary (address, s_down / o_down flags, the replicas and
other sentinels it knows, its quorum), ``SENTINEL CKQUORUM``, and the replication picture
from the primary (link state and offset lag of each replica).

Safe on someone's production: SENTINEL MASTER / REPLICAS / SENTINELS / CKQUORUM and INFO are
reads. Every read is bounded by the clients' timeouts, and a sentinel that cannot be read is
reported as such, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis import exceptions as redis_errors

# Redis's own default for min-replicas-max-lag: a replica silent longer is "lagging".
LAG_BOUND_S = 10
# A bound on discovery: sentinels announcing more than this are not all read.
MAX_SENTINELS = 16


def flags_of(state: Mapping[str, Any]) -> frozenset[str]:
    """The ``flags`` of a SENTINEL state reply (RESP2 gives a comma list, RESP3 a set)."""
    flags = state.get("flags", "")
    if isinstance(flags, str):
        return frozenset(part for part in flags.split(",") if part)
    return frozenset(str(part) for part in flags)


@dataclass(frozen=True)
class Peer:
    """A replica or another sentinel as one sentinel sees it."""

    ip: str
    port: int
    flags: frozenset[str]
    link: str = ""  # replicas: master-link-status as the sentinel last read it
    offset: int = 0

    @property
    def where(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass
class SentinelView:
    """One sentinel's picture of the monitored primary."""

    where: str
    error: str | None = None
    master_ip: str = ""
    master_port: int = 0
    flags: frozenset[str] = frozenset()
    quorum: int = 0
    num_replicas: int = 0
    num_other_sentinels: int = 0
    down_after_ms: int = 0
    ckquorum_ok: bool = False
    ckquorum: str = ""
    replicas: list[Peer] = field(default_factory=list)
    sentinels: list[Peer] = field(default_factory=list)

    @property
    def master(self) -> str:
        return f"{self.master_ip}:{self.master_port}"

    @property
    def down(self) -> list[str]:
        """s_down / o_down flags on the primary, as this sentinel sees it."""
        return sorted(self.flags & {"s_down", "o_down"})


def _peer(state: Mapping[str, Any]) -> Peer:
    return Peer(
        str(state.get("ip", "")),
        int(state.get("port", 0)),
        flags_of(state),
        str(state.get("master-link-status", "")),
        int(state.get("slave-repl-offset", 0) or 0),
    )


def ckquorum(client: redis.Redis, name: str) -> tuple[bool, str]:
    """SENTINEL CKQUORUM: (reachable, Sentinel's own sentence)."""
    try:
        reply = client.execute_command("SENTINEL", "CKQUORUM", name)
    except redis_errors.ResponseError as error:
        return False, str(error)
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    return text.startswith("OK") or text == "True", text


def read_sentinel(client: redis.Redis, name: str, where: str) -> SentinelView:
    """Everything one sentinel says about ``name``; a refusal or timeout is kept in ``error``."""
    view = SentinelView(where)
    try:
        master = client.sentinel_master(name)
        view.replicas = [_peer(state) for state in client.sentinel_slaves(name)]
        view.sentinels = [_peer(state) for state in client.sentinel_sentinels(name)]
        view.ckquorum_ok, view.ckquorum = ckquorum(client, name)
    except (redis_errors.RedisError, OSError) as error:
        view.error = f"{type(error).__name__}: {error}"
        return view
    view.master_ip, view.master_port = str(master.get("ip", "")), int(master.get("port", 0))
    view.flags = flags_of(master)
    view.quorum = int(master.get("quorum", 0))
    view.num_replicas = int(master.get("num-slaves", 0))
    view.num_other_sentinels = int(master.get("num-other-sentinels", 0))
    view.down_after_ms = int(master.get("down-after-milliseconds", 0))
    return view


def discover_sentinels(client: redis.Redis, name: str) -> list[tuple[str, int]]:
    """The other sentinels one sentinel knows (as they announce themselves)."""
    return [(str(state["ip"]), int(state["port"])) for state in client.sentinel_sentinels(name)]


def read_all(
    known: Sequence[tuple[str, int]], name: str, connect: Callable[[str, int], redis.Redis]
) -> list[SentinelView]:
    """The views of the sentinels at ``known`` and of every other sentinel they know of (as it
    announces itself), each read once through a client of ``connect`` (closed after)."""
    views: list[SentinelView] = []
    pending = [(str(host), int(port)) for host, port in known]
    seen: set[tuple[str, int]] = set()
    while pending and len(views) < MAX_SENTINELS:
        host, port = pending.pop(0)
        if (host, port) in seen:
            continue
        seen.add((host, port))
        client = connect(host, port)
        try:
            view = read_sentinel(client, name, f"{host}:{port}")
        finally:
            client.close()
        views.append(view)
        pending += [(peer.ip, peer.port) for peer in view.sentinels]
    return views


@dataclass(frozen=True)
class ReplicaLag:
    """A replica as the primary sees it: state, bytes behind, seconds since its last ack."""

    where: str
    state: str
    offset_lag: int
    lag_s: int

    @property
    def ok(self) -> bool:
        return self.state == "online" and self.lag_s <= LAG_BOUND_S


def replication_lag(info: Mapping[str, Any]) -> tuple[str, list[ReplicaLag]]:
    """(role, replicas) from the primary's INFO replication (redis-py's parsed form)."""
    master_offset = int(info.get("master_repl_offset", 0) or 0)
    replicas = []
    for key, value in info.items():
        if key.startswith("slave") and key[5:].isdigit() and isinstance(value, Mapping):
            replicas.append(
                ReplicaLag(
                    f"{value.get('ip')}:{value.get('port')}",
                    str(value.get("state", "")),
                    max(0, master_offset - int(value.get("offset", 0) or 0)),
                    int(value.get("lag", 0) or 0),
                )
            )
    return str(info.get("role", "")), replicas


def topology_rows(views: list[SentinelView]) -> list[dict[str, str]]:
    """The deployment as a table for reports: the primary, each replica and each sentinel, with
    how the sentinels see it."""
    answered = [view for view in views if view.error is None]
    if not answered:
        return [
            {"node": "sentinel", "address": view.where, "state": f"no answer: {view.error}"} for view in views
        ]
    first = answered[0]
    rows = [
        {
            "node": "primary",
            "address": first.master,
            "state": ", ".join(sorted(first.flags))
            + f" (named by {sum(v.master == first.master for v in answered)} sentinels)",
        }
    ]
    rows += [
        {
            "node": "replica",
            "address": peer.where,
            "state": f"{','.join(sorted(peer.flags))}, link {peer.link or '?'}",
        }
        for peer in first.replicas
    ]
    rows += [
        {
            "node": "sentinel",
            "address": view.where,
            "state": f"no answer: {view.error}" if view.error else f"quorum {view.quorum}: {view.ckquorum}",
        }
        for view in views
    ]
    return rows
