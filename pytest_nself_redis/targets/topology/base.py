"""A Sentinel deployment launched for the run: a primary, ``REDIS_REPLICAS`` replicas and
``REDIS_SENTINEL_COUNT`` sentinels, all real servers, all removed at the end (also on
failure, Ctrl-C and SIGTERM, through ``resources``).

The data nodes are ordinary launched targets (same image or binary, same command as the
deployment, plus what replication needs), so everything a target offers (clients, kill,
resume, logs) works on each. The kinds differ only in how a node is started: local
processes on loopback ports, or containers sharing one network namespace (``docker``).

A deployment that serves TLS only gets a topology that does too: one CA and certificate made
for the run (``prepare_tls``) serve every node and sentinel, which verify each other with it,
as the harness's clients do (certificate and host name, never unverified).
"""

from __future__ import annotations

import contextlib
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import redis
from redis.sentinel import Sentinel

from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.loopback import LOOPBACK, free_loopback_port
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.base import Launched, Target, TargetOptions, TlsFiles
from pytest_nself_redis.targets.topology.plan import TopologyPlan

SETTLE_TIMEOUT_S = 20.0
POLL_S = 0.1
# Two of Sentinel's own timers, shortened on the sentinels the run launches (SENTINEL DEBUG):
# how often each asks a node for INFO outside a failover (default 10 s) and how often it
# publishes its hello (default 2 s). A restarted old primary is made a replica only once it has
# reported itself a primary for four hello periods and a sentinel has read its INFO since: at
# the defaults the rejoin check waited ~10 s on these timers, not on the deployment. Down-after,
# the failover timeout, elections and the failover's own 1 s polling keep their values.
SENTINEL_TIMERS_MS = {"info-period": 1000, "publish-period": 250}
Tamper = Callable[[TopologyPlan], TopologyPlan]


class SentinelNode(Protocol):
    """One sentinel, however it runs."""

    port: int

    def start(self) -> None: ...
    def kill(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...
    def log_tail(self, lines: int = 40) -> str: ...
    def describe(self) -> str: ...


@dataclass
class Settled:
    """Whether the topology reached the promised picture, and what each part showed."""

    ok: bool = False
    seconds: float = 0.0
    seen: list[str] = field(default_factory=list)


class Topology(Launched):
    """Primary, replicas and sentinels of one env; ``start`` launches, ``stop`` removes all."""

    kind: ClassVar[str]

    def __init__(
        self,
        context: EnvContext,
        options: TargetOptions,
        tamper: Tamper | None = None,
        settle_timeout: float = SETTLE_TIMEOUT_S,
    ) -> None:
        self.context = context
        self.options = options
        self.tamper = tamper
        self.settle_timeout = settle_timeout
        self.password = Secret(context.service.args.value("requirepass") or "")
        self.plan: TopologyPlan | None = None
        self.nodes: list[Target] = []
        self.sentinels: list[SentinelNode] = []
        self.settled: Settled | None = None
        # The run's certificates, every node's and sentinel's (TLS deployments only).
        self.tls: TlsFiles | None = None
        self._token: int | None = None
        self._clients: dict[tuple[int, float | None], redis.Redis] = {}
        self._open()

    @abstractmethod
    def _open(self) -> None:
        """What this kind needs before anything starts (the binary, or the engine and image), so
        a missing one is said before a port is taken."""

    @property
    def serves_tls(self) -> bool:
        """Whether the deployment serves TLS only (a tls-port), and so every node here."""
        return self.context.service.args.value("tls-port") not in (None, "0")

    # -- launch ------------------------------------------------------------------
    def _ports(self) -> tuple[list[int], list[int]]:
        settings = self.context.settings
        wanted = 1 + settings.replicas.value + settings.sentinel_count.value
        ports: list[int] = []
        while len(ports) < wanted:
            port = free_loopback_port()
            if port not in ports:
                ports.append(port)
        data = 1 + settings.replicas.value
        return ports[:data], ports[data:]

    def start(self) -> None:
        self._token = resources.register(f"sentinel topology of run {self.options.run_id}", self.stop)
        data_ports, sentinel_ports = self._ports()
        plan = TopologyPlan.of(
            self.context.settings, self.password, data_ports, sentinel_ports, self.serves_tls
        )
        self.plan = self.tamper(plan) if self.tamper else plan
        self._prepare(self.plan)
        for node_plan in self.plan.nodes:
            node = self._data_node(self.plan, node_plan)
            self.nodes.append(node)
            node.start()
        for sentinel_plan in self.plan.sentinels:
            sentinel = self._sentinel_node(self.plan, sentinel_plan)
            self.sentinels.append(sentinel)
            sentinel.start()
            self._shorten_timers(sentinel)
        self.settled = self.settle(self.settle_timeout)

    def _shorten_timers(self, sentinel: SentinelNode) -> None:
        """``SENTINEL_TIMERS_MS`` (``SENTINEL DEBUG``, Redis 7.0 and later); a sentinel that refuses
        it (an older one, or a tampered plan's) keeps its defaults, and the checks still judge it."""
        arguments = [str(part) for timer in SENTINEL_TIMERS_MS.items() for part in timer]
        with contextlib.suppress(redis.RedisError, OSError):
            self.sentinel_connection(sentinel, 1.0).execute_command("SENTINEL", "DEBUG", *arguments)

    @abstractmethod
    def _prepare(self, plan: TopologyPlan) -> None:
        """What the nodes need before the first starts (docker: the network; on TLS, ``tls``)."""

    @abstractmethod
    def _data_node(self, plan: TopologyPlan, node: Any) -> Target:
        """A data node, not yet started."""

    @abstractmethod
    def _sentinel_node(self, plan: TopologyPlan, sentinel: Any) -> SentinelNode:
        """A sentinel, not yet started."""

    @abstractmethod
    def _teardown(self) -> None:
        """Remove what ``_prepare`` made."""

    def stop(self) -> None:
        """Remove every node and what they shared; safe to call twice."""
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        for sentinel in reversed(self.sentinels):
            sentinel.stop()
        for node in reversed(self.nodes):
            node.stop()
        self._teardown()
        if self._token is not None:
            resources.unregister(self._token)
            self._token = None

    # -- reaching it -------------------------------------------------------------
    def node_options(self, port: int, extra_args: tuple[str, ...]) -> TargetOptions:
        return TargetOptions(
            run_id=self.options.run_id,
            redis_server=self.options.redis_server,
            host_port=port,
            startup_timeout=self.options.startup_timeout,
            socket_timeout=self.options.socket_timeout,
            workdir=self.options.workdir,
            extra_args=(*self.options.extra_args, *extra_args),
            tls=self.tls,
        )

    @property
    def master_name(self) -> str:
        return self.context.settings.sentinel_master_name.value

    def address(self, port: int, host: str = LOOPBACK) -> ServerAddress:
        """Where a sentinel or data node listens, with the password it requires and, on TLS,
        the run's CA to verify it by (sentinels and nodes share both)."""
        return ServerAddress(
            host,
            port,
            password=self.password,
            tls=self.tls is not None,
            ca_file=str(self.tls.ca_cert) if self.tls is not None else None,
            timeout=self.options.socket_timeout,
        )

    def sentinel_connection(self, sentinel: SentinelNode, timeout: float | None = None) -> redis.Redis:
        """A client of one sentinel (authenticated as the sentinels require), kept for reuse."""
        key = (sentinel.port, timeout)
        if key not in self._clients:
            overrides = {}
            if timeout is not None:
                overrides = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
            self._clients[key] = self.address(sentinel.port).client(**overrides)
        return self._clients[key]

    def sentinel_client(self, timeout: float = 1.0) -> Sentinel:
        """A Sentinel-aware redis-py client: it asks the sentinels where the primary is."""
        password = self.password.reveal() or None
        # The TLS part of our own clients' settings: the certificate and host name verified.
        tls = {key: value for key, value in self.address(0).redis_kwargs().items() if key.startswith("ssl")}
        common = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "password": password, **tls}
        return Sentinel(
            [(LOOPBACK, sentinel.port) for sentinel in self.sentinels],
            sentinel_kwargs=dict(common),
            decode_responses=True,
            **common,
        )

    def node_at(self, port: int) -> Target:
        for node in self.nodes:
            if node.endpoint.port == port:
                return node
        raise TargetError(f"no data node of this topology listens on {LOOPBACK}:{port}")

    @staticmethod
    def replication(node: Target) -> dict[str, Any]:
        """INFO replication of a node, through a short-lived client (empty: it does not answer)."""
        try:
            with node.probe_client() as client:
                return dict(client.info("replication"))
        except (redis.RedisError, OSError):
            return {}

    def role_of(self, node: Target) -> str:
        """role from INFO replication ("down" when the node does not answer)."""
        return str(self.replication(node).get("role", "down"))

    def link_problem(self, node: Target) -> str | None:
        """Why ``node`` does not replicate its primary, as far as it says itself (None: its
        link is up)."""
        link = self.replication(node).get("master_link_status", "unknown (no answer)")
        if link == "up":
            return None
        return f"replica {node.endpoint.where()}: master_link_status={link}{self._cause(node)}"

    def _cause(self, node: Target) -> str:
        """A replica's own account of a broken link: plaintext replication on a TLS-only
        topology (its live tls-replication), else its log's last word about its primary."""
        try:
            with node.probe_client() as client:
                tls_replication = client.config_get("tls-replication").get("tls-replication")
        except (redis.RedisError, OSError):
            return ""
        if self.tls is not None and tls_replication == "no":
            return (
                " (tls-replication no: it talks plaintext to a primary that serves TLS only, "
                "so it never syncs)"
            )
        said = [line for line in node.log_tail(40).splitlines() if "MASTER" in line or "master" in line]
        return f" (its log: {said[-1].strip()})" if said else ""

    def unlinked(self) -> list[str]:
        """Every node acting as a replica whose link to its primary is not up, with why."""
        found = [self.link_problem(node) for node in self.nodes if self.role_of(node) == "slave"]
        return [problem for problem in found if problem is not None]

    # -- settling ----------------------------------------------------------------
    def _picture(self) -> list[str]:
        """What is not yet as promised (empty: settled)."""
        assert self.plan is not None
        settings = self.context.settings
        missing = [problem for node in self.nodes[1:] if (problem := self.link_problem(node)) is not None]
        for sentinel in self.sentinels:
            try:
                master = self.sentinel_connection(sentinel, 1.0).sentinel_master(self.master_name)
            except (redis.RedisError, OSError) as error:
                missing.append(f"sentinel {LOOPBACK}:{sentinel.port}: {error}")
                continue
            replicas, others = int(master.get("num-slaves", 0)), int(master.get("num-other-sentinels", 0))
            if replicas != settings.replicas.value or others != len(self.sentinels) - 1:
                where = f"{LOOPBACK}:{sentinel.port}"
                missing.append(f"sentinel {where} sees {replicas} replicas and {others} other sentinels")
        return missing

    def settle(self, timeout: float) -> Settled:
        """Wait (bounded) until every replica is linked and every sentinel sees all replicas
        and all other sentinels; a broken topology never gets there, and says what it saw."""
        began = time.monotonic()
        seen = self._picture()
        while seen and time.monotonic() - began < timeout:
            time.sleep(POLL_S * 5)
            seen = self._picture()
        return Settled(not seen, time.monotonic() - began, seen)

    def describe(self) -> str:
        sentinels = ", ".join(f"{LOOPBACK}:{sentinel.port}" for sentinel in self.sentinels)
        nodes = ", ".join(node.endpoint.where() for node in self.nodes)
        return f"{self.kind} Sentinel topology: data nodes {nodes}; sentinels {sentinels}"
