"""What a Sentinel topology is made of, decided before anything starts: ports, who replicates
whom, what each sentinel monitors with which password. Pure data, so a test can break one
part of it (a sentinel with the wrong password, a replica that never syncs) and a check must
notice.

Every node listens on 127.0.0.1 and announces 127.0.0.1 and its own port: clients outside
(and, on docker, the nodes themselves, which share one network namespace) reach each node at
the address Sentinel hands out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.secrets import Secret

LOOPBACK = "127.0.0.1"
# Sentinel's failover-timeout: also how long it waits before trying the same master again.
MIN_FAILOVER_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class NodePlan:
    """A data node: the primary (``replica_of`` None) or a replica of the port given."""

    port: int
    replica_of: int | None = None
    masterauth: Secret | None = None  # None: the deployment's password


@dataclass(frozen=True)
class SentinelPlan:
    port: int
    monitor_port: int  # the primary's port, as this sentinel is told it
    auth_pass: Secret | None = None  # None: the deployment's password


@dataclass(frozen=True)
class TopologyPlan:
    master_name: str
    quorum: int
    down_after_ms: int
    failover_timeout_ms: int
    password: Secret
    nodes: tuple[NodePlan, ...]
    sentinels: tuple[SentinelPlan, ...]

    @classmethod
    def of(
        cls, settings: RedisSettings, password: Secret, data_ports: list[int], sentinel_ports: list[int]
    ) -> TopologyPlan:
        """The settings' topology: the first data port is the primary, the rest replicate it."""
        primary = data_ports[0]
        down_after = settings.sentinel_down_after_ms.value
        return cls(
            master_name=settings.sentinel_master_name.value,
            quorum=settings.sentinel_quorum.value,
            down_after_ms=down_after,
            failover_timeout_ms=max(MIN_FAILOVER_TIMEOUT_MS, 3 * down_after),
            password=password,
            nodes=(NodePlan(primary), *(NodePlan(port, primary) for port in data_ports[1:])),
            sentinels=tuple(SentinelPlan(port, primary) for port in sentinel_ports),
        )

    @property
    def primary_port(self) -> int:
        return self.nodes[0].port

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes] + [sentinel.port for sentinel in self.sentinels]

    def with_node(self, index: int, **changes: object) -> TopologyPlan:
        nodes = list(self.nodes)
        nodes[index] = replace(nodes[index], **changes)  # type: ignore[arg-type]
        return replace(self, nodes=tuple(nodes))

    def with_sentinel(self, index: int, **changes: object) -> TopologyPlan:
        sentinels = list(self.sentinels)
        sentinels[index] = replace(sentinels[index], **changes)  # type: ignore[arg-type]
        return replace(self, sentinels=tuple(sentinels))


def node_directives(plan: TopologyPlan, node: NodePlan) -> list[tuple[str, list[str]]]:
    """What a data node runs beside the deployment's command. Every node gets masterauth and
    the announce address (the primary too: after a failover it is a replica); the initial
    sync starts at once (no diskless delay), which only makes the topology ready sooner."""
    masterauth = node.masterauth if node.masterauth is not None else plan.password
    directives = [
        ("replica-announce-ip", [LOOPBACK]),
        ("replica-announce-port", [str(node.port)]),
        ("repl-diskless-sync-delay", ["0"]),
    ]
    if masterauth:
        directives.append(("masterauth", [masterauth.reveal()]))
    if node.replica_of is not None:
        directives.append(("replicaof", [LOOPBACK, str(node.replica_of)]))
    return directives


def sentinel_directives(
    plan: TopologyPlan, sentinel: SentinelPlan, directory: str, bind: str = LOOPBACK
) -> list[tuple[str, list[str]]]:
    """A sentinel's config (Sentinel needs a file it can rewrite). It requires the deployment's
    password from its clients and from the other sentinels, as the data nodes do. ``bind``:
    loopback for local processes; in a container, every address of its own namespace, since
    Docker delivers published ports there."""
    name = plan.master_name
    auth = sentinel.auth_pass if sentinel.auth_pass is not None else plan.password
    directives: list[tuple[str, list[str]]] = [
        ("port", [str(sentinel.port)]),
        ("bind", [bind]),
        ("daemonize", ["no"]),
        ("logfile", [""]),
        ("dir", [directory]),
        ("sentinel", ["announce-ip", LOOPBACK]),
        ("sentinel", ["announce-port", str(sentinel.port)]),
        ("sentinel", ["monitor", name, LOOPBACK, str(sentinel.monitor_port), str(plan.quorum)]),
        ("sentinel", ["down-after-milliseconds", name, str(plan.down_after_ms)]),
        ("sentinel", ["failover-timeout", name, str(plan.failover_timeout_ms)]),
        ("sentinel", ["parallel-syncs", name, "1"]),
    ]
    if auth:
        directives.append(("sentinel", ["auth-pass", name, auth.reveal()]))
    if plan.password:
        directives += [
            ("requirepass", [plan.password.reveal()]),
            ("sentinel", ["sentinel-pass", plan.password.reveal()]),
        ]
    else:
        # Published through Docker, clients arrive from the bridge, not loopback.
        directives.append(("protected-mode", ["no"]))
    return directives
