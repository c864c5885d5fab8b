"""What every target offers: an endpoint (a ``ServerAddress``), clients, and (when launched) a
lifecycle."""

from __future__ import annotations

import contextlib
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import redis

from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.host import ServerHost
from pytest_nself_redis.live.loopback import LOOPBACK
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.targets.health import ContainerHealth, ContainerState
from pytest_nself_redis.targets.readiness import Readiness

# What every report (HTML, JUnit, terminal, doctor) says when the user turned verification off.
INSECURE_NOTE = (
    "TLS verification OFF (--nself-redis-insecure / doctor --insecure): the server's certificate "
    "and host name were not checked, "
    "so anyone between here and the server could have read the password and every reply"
)


@dataclass(frozen=True)
class TlsFiles:
    """The certificates a launched server serves: the CA its clients verify it with, and the
    server's own certificate and key."""

    ca_cert: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class TargetOptions:
    """How targets are launched; every field has a plugin option behind it. The flag names
    are for messages: doctor spells them differently."""

    run_id: str = "local"
    redis_server: str | None = None
    redis_url: str | None = None
    redis_ca: str | None = None
    url_flag: str = "--nself-redis-url"
    ca_flag: str = "--nself-redis-ca"
    host_port: int | None = None
    startup_timeout: float = 20.0
    socket_timeout: float = 5.0
    workdir: Path | None = None
    extra_args: tuple[str, ...] = field(default=())
    # Attach only: skip TLS certificate and host name checks (--nself-redis-insecure).
    insecure: bool = False
    # Launched only: files put into the data dir before the first start (a restored backup,
    # a sentinel's config), so a fresh server starts on them.
    seed_dir: Path | None = None
    # Docker only: join this container's network namespace (``container:<name>``) instead of
    # publishing a port; that container publishes ``host_port``, where this server listens.
    network_mode: str | None = None
    # Attach only: the server runs on this machine (doctor --local), so its kernel settings and
    # process limits can be read here (/proc, /sys).
    local: bool = False
    # Launched only, TLS deployments: serve these certificates instead of making the run's own
    # (a Sentinel topology's nodes share one CA, so they can verify each other).
    tls: TlsFiles | None = None


def ensure_port_free(port: int) -> None:
    """Whether a server could listen on ``port`` now: bound the way redis-server binds
    (SO_REUSEADDR), so a port left in TIME_WAIT (as ``free_loopback_port`` leaves its own)
    passes and only one something listens on fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            raise TargetError(
                f"port {LOOPBACK}:{port} is already taken by another program; "
                "free it or choose another with --nself-port (0 picks a free one)"
            ) from None


class Launched(ABC):
    """What a run launches (a server, a topology): stopped on leaving a ``with`` block, and also
    when ``start`` fails halfway, so nothing it started is left behind."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Target(Launched):
    """A Redis under test. ``kind`` is docker, process or attach."""

    kind: ClassVar[str]
    launched: ClassVar[bool] = True

    def __init__(self, context: EnvContext, options: TargetOptions) -> None:
        self.context = context
        self.options = options
        self._endpoint: ServerAddress | None = None
        # A launched server's own certificates (TLS deployments only).
        self.server_tls: TlsFiles | None = None
        self._clients: list[redis.Redis] = []
        self._shared: redis.Redis | None = None
        self.ready_seconds: float | None = None
        self.readiness: Readiness | None = None

    # -- endpoint and clients -------------------------------------------------
    @property
    def endpoint(self) -> ServerAddress:
        if self._endpoint is None:
            raise TargetError(f"the {self.kind} target has not been started")
        return self._endpoint

    @property
    def settings(self) -> Any:
        return self.context.settings

    def deployed_password(self) -> Secret:
        """What a launched server will require: the deployment's --requirepass, which may
        differ from REDIS_PASSWORD (the config suite reports that; we still connect)."""
        password = self.context.service.args.value("requirepass")
        return Secret(password or "")

    def launched_endpoint(self, port: int, tls: TlsFiles | None) -> ServerAddress:
        """Where a server this run launched listens: loopback, the deployment's password, and
        TLS verified against the run's own CA (its certificate names localhost and 127.0.0.1)."""
        self.server_tls = tls
        return ServerAddress(
            LOOPBACK,
            port,
            password=self.deployed_password(),
            tls=tls is not None,
            ca_file=str(tls.ca_cert) if tls is not None else None,
            timeout=self.options.socket_timeout,
        )

    def client(self, **overrides: Any) -> redis.Redis:
        """An authenticated client (the deployment's or the URL's password). Without
        overrides the same client is shared, so the harness holds few connections."""
        if not overrides and self._shared is not None:
            return self._shared
        client = self.endpoint.client(**overrides)
        self._clients.append(client)
        if not overrides:
            self._shared = client
        return client

    def connect(self, password: str | None = None, **overrides: Any) -> redis.Redis:
        """A client that does not authenticate unless given a password."""
        client = self.endpoint.client(password=password, **overrides)
        self._clients.append(client)
        return client

    def probe_client(self) -> redis.Redis:
        """A short-timeout client for readiness polls (not kept: the poll closes it)."""
        return self.endpoint.client(socket_timeout=1.0, socket_connect_timeout=1.0)

    def close_clients(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        self._shared = None

    # -- lifecycle ------------------------------------------------------------
    @abstractmethod
    def start(self) -> None:
        """Launch (or reach) the server and wait until it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Remove everything started; safe to call twice."""

    def terminate(self) -> None:
        """Graceful stop (SIGTERM: Redis saves and fsyncs); data stays for ``resume``."""
        raise self._no_lifecycle("stop")

    def kill(self) -> None:
        """Crash: SIGKILL, no chance to save; data stays for ``resume``."""
        raise self._no_lifecycle("crash")

    def resume(self, wait: bool = True) -> None:
        """Start again on the same data; with ``wait``, return once ready (past LOADING)."""
        raise self._no_lifecycle("restart")

    def restart(self) -> None:
        self.terminate()
        self.resume()

    def crash_and_restart(self) -> None:
        self.kill()
        self.resume()

    def copy_out(self, path: str, destination: Path) -> Path:
        """Copy a file or folder of the server's file system (``path`` as the server names it,
        e.g. from ``CONFIG GET dir``) into ``destination``; returns the copy."""
        raise self._no_lifecycle("copy files out of")

    def _no_lifecycle(self, what: str) -> TargetError:
        return TargetError(f"the {self.kind} target cannot {what} the server")

    @property
    def supports_lifecycle(self) -> bool:
        return type(self).terminate is not Target.terminate

    def unreproduced(self) -> tuple[str, ...]:
        """The service's container settings this target does not apply, each as
        ``memory 512M (docker-compose.yml:25)`` (reports list them)."""
        return ()

    def health_now(self) -> ContainerHealth | None:
        """The container's health (None: no container, or no healthcheck)."""
        return None

    def container_state(self) -> ContainerState | None:
        """Docker's state of the container (None: no container)."""
        return None

    def set_memory_limit(self, limit: int) -> None:
        """Give the container another memory limit (swap equal to it), from its next start."""
        raise self._no_lifecycle("change the memory limit of")

    def server_host(self) -> ServerHost | None:
        """The machine the server runs on, when it is this one (None: not known here)."""
        return None

    @abstractmethod
    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, redacted by the caller before it is shown."""

    @abstractmethod
    def describe(self) -> str:
        """One line for reports: what runs where (no secret)."""
