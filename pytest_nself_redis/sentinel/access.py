"""A Sentinel deployment as the safe checks see it, launched by the run or running elsewhere
(``--nself-sentinel-url``, ``doctor --sentinel-url``): every sentinel's view, and the
primary's replication picture read at the address the sentinels hand out.

Reads only, each bounded by the clients' timeouts; what cannot be reached is reported with
the address, never raised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.loopback import LOOPBACK
from pytest_nself_redis.live.url import endpoint_from_url
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.sentinel.readings import SentinelView, read_all

if TYPE_CHECKING:  # launching and failing over are the suites': doctor, attached, loads neither
    from pytest_nself_redis.sentinel.failover import FailoverResult
    from pytest_nself_redis.targets.topology.base import Topology


@dataclass
class PrimaryReading:
    """INFO replication of the primary the sentinels name (``error`` when it cannot be read)."""

    where: str
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Deployment(ABC):
    """What the sentinel checks read: ``views`` of every sentinel and the ``primary``."""

    master_name: str
    launched: bool

    @abstractmethod
    def views(self) -> list[SentinelView]: ...

    @abstractmethod
    def data_address(self, host: str, port: int) -> ServerAddress:
        """How a data node at ``host:port`` is reached (the deployment's password)."""

    @abstractmethod
    def describe(self) -> str: ...

    def unlinked(self) -> list[str]:
        """Replicas whose link to the primary is down, with why: known only of the nodes a run
        launched (a running deployment's primary does not list a replica that never connected)."""
        return []

    def primary(self, views: list[SentinelView] | None = None) -> PrimaryReading:
        """The primary as the first sentinel that answers names it, read with INFO replication."""
        known = [view for view in (views if views is not None else self.views()) if view.error is None]
        if not known:
            return PrimaryReading("?", error="no sentinel answered, so where the primary is is unknown")
        view = known[0]
        address = self.data_address(view.master_ip, view.master_port)
        reading = PrimaryReading(address.where())
        try:
            with address.client() as client:
                reading.info = dict(client.info("replication"))
        except (redis_errors.RedisError, OSError) as error:
            reading.error = f"{type(error).__name__}: {error}"
        return reading


class LaunchedDeployment(Deployment):
    """The topology this run launched."""

    launched = True

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.master_name = topology.master_name
        self._failover: FailoverResult | None = None

    def failover(self, prefix: str) -> FailoverResult:
        """The measured failover of this topology, run when first asked for and then kept (it
        changes which node is the primary, so it happens once)."""
        if self._failover is None:
            from pytest_nself_redis.sentinel.failover import exercise_failover

            self._failover = exercise_failover(self.topology, prefix)
        return self._failover

    def views(self) -> list[SentinelView]:
        """Every sentinel the run launched (and any other they know of)."""

        def connect(host: str, port: int) -> redis.Redis:
            return self.topology.address(port, host).client()

        known = [(LOOPBACK, sentinel.port) for sentinel in self.topology.sentinels]
        return read_all(known, self.master_name, connect)

    def data_address(self, host: str, port: int) -> ServerAddress:
        return self.topology.address(port, host)

    def describe(self) -> str:
        return self.topology.describe()

    def unlinked(self) -> list[str]:
        return self.topology.unlinked()


class AttachedDeployment(Deployment):
    """A running deployment reached through one sentinel's address; the others are found
    through it (as they announce themselves) and reached with the same credentials."""

    launched = False

    def __init__(self, sentinel: ServerAddress, master_name: str, data_password: Secret) -> None:
        self.sentinel = sentinel
        self.master_name = master_name
        self.data_password = data_password

    def views(self) -> list[SentinelView]:
        def connect(host: str, port: int) -> redis.Redis:
            return replace(self.sentinel, host=host, port=port).client()

        return read_all([(self.sentinel.host, self.sentinel.port)], self.master_name, connect)

    def data_address(self, host: str, port: int) -> ServerAddress:
        return replace(self.sentinel, host=host, port=port, password=self.data_password, username=None, db=0)

    def describe(self) -> str:
        return f"Sentinel deployment through {self.sentinel.describe()} (master {self.master_name})"


def attached_from_url(
    url: str,
    settings: RedisSettings,
    timeout: float,
    url_flag: str,
    *,
    insecure: bool = False,
    ca_cert: str | None = None,
) -> AttachedDeployment:
    """A running deployment through one sentinel's URL (``redis://[:password@]host:port`` or
    ``rediss://``, verified with ``ca_cert``, the data nodes' CA, or the system's CAs).
    Sentinels often share the data nodes' password: without one in the URL, the env's
    REDIS_PASSWORD is tried. A bad URL is refused naming ``url_flag``, its password masked."""
    endpoint = endpoint_from_url(url, ca_cert, insecure=insecure, url_flag=url_flag)
    address = replace(endpoint, timeout=timeout)
    if not address.password:
        address = replace(address, password=settings.password.value)
    return AttachedDeployment(address, settings.sentinel_master_name.value, settings.password.value)
