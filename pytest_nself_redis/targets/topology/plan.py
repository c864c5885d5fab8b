"""What a Sentinel topology is made of, decided before anything starts: ports, who replicates
whom, what each sentinel monitors with which password. Pure data, so a test can break one
part of it (a sentinel with the wrong password, a replica that never syncs) and a check must
notice.

Every node listens on 127.0.0.1 and announces 127.0.0.1 and its own port: clients outside
(and, on docker, the nodes themselves, which share one network namespace) reach each node at
the address Sentinel hands out. A deployment that serves TLS only (``tls``) gets a topology
that does too: every node and sentinel on a TLS port only, replicas and sentinels talking TLS
to the nodes (``tls-replication``), all with the run's one CA.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pytest_nself_redis.live.loopback import LOOPBACK
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.secrets import Secret

# Sentinel's failover-timeout: also how long it waits before trying the same master again.
MIN_FAILOVER_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class NodePlan:
    """A data node: the primary (``replica_of`` None) or a replica of the port given."""

    port: int
    replica_of: int | None = None
    masterauth: Secret | None = None  # None: the deployment's password
    tls_replication: bool = True  # TLS deployments: replicate over TLS (a test turns it off)


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
    tls: bool = False

    @classmethod
    def of(
        cls,
        settings: RedisSettings,
        password: Secret,
        data_ports: list[int],
        sentinel_ports: list[int],
        tls: bool = False,
    ) -> TopologyPlan:
        """The settings' topology: the first data port is the primary, the rest replicate it;
        ``tls``: the deployment serves TLS only, and so does every part of the topology."""
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
            tls=tls,
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
    sync starts at once (no diskless delay), which only makes the topology ready sooner. Its
    listening port and certificates are the deployment's (the target maps them); on TLS it
    replicates over TLS, since the primary has no plaintext port."""
    masterauth = node.masterauth if node.masterauth is not None else plan.password
    directives = [
        ("replica-announce-ip", [LOOPBACK]),
        ("replica-announce-port", [str(node.port)]),
        ("repl-diskless-sync-delay", ["0"]),
    ]
    if plan.tls:
        directives.append(("tls-replication", ["yes" if node.tls_replication else "no"]))
    if masterauth:
        directives.append(("masterauth", [masterauth.reveal()]))
    if node.replica_of is not None:
        directives.append(("replicaof", [LOOPBACK, str(node.replica_of)]))
    return directives


def listen_directives(plan: TopologyPlan, port: int) -> list[tuple[str, list[str]]]:
    """Where a sentinel or a containerised node listens: ``port`` in plaintext, or on TLS
    with no plaintext port at all, as the deployment does."""
    return [("port", ["0"]), ("tls-port", [str(port)])] if plan.tls else [("port", [str(port)])]


def tls_directives(certificates: str) -> list[tuple[str, list[str]]]:
    """A sentinel's TLS: the run's certificate (also its client certificate towards the nodes
    and the other sentinels), verified against the run's CA, TLS on its outgoing links too;
    clients need no certificate of their own, as with the data nodes."""
    return [
        ("tls-cert-file", [f"{certificates}/redis.crt"]),
        ("tls-key-file", [f"{certificates}/redis.key"]),
        ("tls-ca-cert-file", [f"{certificates}/ca.crt"]),
        ("tls-auth-clients", ["no"]),
        ("tls-replication", ["yes"]),
    ]


def sentinel_directives(
    plan: TopologyPlan, sentinel: SentinelPlan, directory: str, certificates: str, bind: str = LOOPBACK
) -> list[tuple[str, list[str]]]:
    """A sentinel's config (Sentinel needs a file it can rewrite). It requires the deployment's
    password from its clients and from the other sentinels, as the data nodes do. ``bind``:
    loopback for local processes; in a container, every address of its own namespace, since
    Docker delivers published ports there. ``certificates``: the folder of the run's CA,
    certificate and key as the sentinel sees it (read on TLS only)."""
    name = plan.master_name
    auth = sentinel.auth_pass if sentinel.auth_pass is not None else plan.password
    directives: list[tuple[str, list[str]]] = [
        *listen_directives(plan, sentinel.port),
        *(tls_directives(certificates) if plan.tls else []),
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
