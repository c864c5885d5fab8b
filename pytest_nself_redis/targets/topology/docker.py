"""The Sentinel topology as containers from the deployment's image, on one user-defined
network created for the run.

Every node must be reachable, inside and outside, at the one address Sentinel hands out:
127.0.0.1 and the node's port. Inside a container 127.0.0.1 is the container itself, so
all nodes share one network namespace: an anchor container (an idle redis-server on a unix
socket, never killed) joins the run's network and publishes every node's port on the host's
127.0.0.1 with host port == container port; each node joins the anchor's namespace
(``network_mode=container:<anchor>``) and listens on its own port. A replica reaches the
primary, and a sentinel every node, at 127.0.0.1:<port>, exactly where the harness does;
no node ever announces a bridge (172.x/10.x) address.

Sentinels get their config (0600, owned by the container's user) seeded into a volume of
their own, since Sentinel rewrites it. On TLS the run's certificates (the key 0600, given to
the container's user) are mounted read-only at /tls in every node and sentinel, where the
deployment's command expects them. Containers, volumes and the network carry the run's
labels and are removed on teardown, Ctrl-C and SIGTERM (and by ``nself-redis cleanup``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume

from pytest_nself_redis.compose.render import TLS_DIR
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.loopback import LOOPBACK
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.base import Target
from pytest_nself_redis.targets.docker import DockerTarget
from pytest_nself_redis.targets.docker_engine import (
    ENV_LABEL,
    LABEL,
    OWNER_LABEL,
    discard,
    docker_client,
    ensure_image,
    first_line,
    quiet_testcontainers,
    seed_volume,
    unique_name,
)
from pytest_nself_redis.targets.process import _config_line, _write_private
from pytest_nself_redis.targets.readiness import wait_until_ready
from pytest_nself_redis.targets.tls import prepare_tls, tls_owner
from pytest_nself_redis.targets.topology.base import Topology
from pytest_nself_redis.targets.topology.plan import (
    NodePlan,
    SentinelPlan,
    TopologyPlan,
    listen_directives,
    node_directives,
    sentinel_directives,
)
from pytest_nself_redis.targets.topology.process import as_args

ANCHOR_COMMAND = ["redis-server", "--port", "0", "--unixsocket", "/tmp/nself-anchor.sock", "--save", ""]
DATA = "/data"
_GONE = (NotFound, APIError, DockerException, OSError)


class SentinelContainer:
    """``redis-server /data/sentinel.conf --sentinel`` in the anchor's network namespace."""

    def __init__(self, topology: DockerTopology, port: int, config: str) -> None:
        self.topology = topology
        self.port = port
        self.config = config
        self.name = f"{topology.name}-sentinel-{port}"
        self.container: Container | None = None
        self.volume: Volume | None = None

    def start(self) -> None:
        api = self.topology.client_api
        try:
            self.volume = api.volumes.create(name=f"{self.name}-data", labels=self.topology.labels)
        except (DockerException, OSError) as error:
            raise TargetError(f"could not create the volume of {self.name}: {first_line(error)}") from None
        seed = resources.make_run_dir(self.topology.options.run_id, "sentinel-seed")
        try:
            _write_private(seed / "sentinel.conf", self.config)
            seed_volume(
                api, self.topology.image, str(self.volume.name), seed, self.topology.context.service.user
            )
        finally:
            shutil.rmtree(seed, ignore_errors=True)
        kwargs: dict[str, Any] = (
            {"user": self.topology.context.service.user} if self.topology.context.service.user else {}
        )
        volumes = {str(self.volume.name): {"bind": DATA, "mode": "rw"}}
        if self.topology.tls is not None:
            volumes[str(self.topology.tls.cert.parent)] = {"bind": TLS_DIR, "mode": "ro"}
        try:
            self.container = api.containers.run(
                self.topology.image,
                command=["redis-server", f"{DATA}/sentinel.conf", "--sentinel"],
                name=self.name,
                network_mode=self.topology.network_mode,
                volumes=volumes,
                working_dir=DATA,
                labels=self.topology.labels,
                detach=True,
                **kwargs,
            )
        except (DockerException, OSError) as error:
            raise TargetError(
                f"the sentinel container {self.name} could not start: {first_line(error)}"
            ) from None
        self._wait_ready()

    def _running(self) -> bool:
        if self.container is None:
            return False
        with contextlib.suppress(*_GONE):
            self.container.reload()
            return bool(self.container.status in ("running", "created", "restarting"))
        return False

    def _wait_ready(self) -> None:
        address = self.topology.address(self.port)
        wait_until_ready(
            lambda: address.client(socket_timeout=1.0, socket_connect_timeout=1.0),
            what=f"sentinel container {self.name} on {LOOPBACK}:{self.port}",
            timeout=self.topology.options.startup_timeout,
            is_running=self._running,
            log_tail=self.log_tail,
            address=(LOOPBACK, self.port),
        )

    def kill(self) -> None:
        if self.container is not None and self._running():
            self.container.kill(signal="SIGKILL")
            self.container.wait(timeout=30)

    def resume(self) -> None:
        if self.container is None:
            raise TargetError(f"the sentinel container {self.name} is gone")
        self.container.start()
        self._wait_ready()

    def stop(self) -> None:
        discard(self.container, force=True, v=False)
        self.container = None
        discard(self.volume, force=True)
        self.volume = None

    def log_tail(self, lines: int = 40) -> str:
        if self.container is None:
            return ""
        try:
            return bytes(self.container.logs(tail=lines)).decode("utf-8", "replace")
        except _GONE as error:
            return f"(logs unavailable: {first_line(error)})"

    def describe(self) -> str:
        return f"sentinel container {self.name} on {LOOPBACK}:{self.port}"


class DockerTopology(Topology):
    kind = "docker"

    def _open(self) -> None:
        quiet_testcontainers()
        self.client_api = docker_client(self.options.socket_timeout * 2)
        self.image = self.context.service.image
        ensure_image(self.client_api, self.image)
        self.name = unique_name(self.options.run_id, self.context.name)
        self.labels = {
            LABEL: self.options.run_id,
            ENV_LABEL: self.context.name,
            OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}",
        }
        self.network: Network | None = None
        self.anchor: Container | None = None
        self.tls_dir: Path | None = None

    @property
    def network_mode(self) -> str:
        assert self.anchor is not None
        return f"container:{self.anchor.id}"

    def _prepare(self, plan: TopologyPlan) -> None:
        try:
            self.network = self.client_api.networks.create(
                f"{self.name}-net", driver="bridge", labels=self.labels
            )
            kwargs: dict[str, Any] = {"user": self.context.service.user} if self.context.service.user else {}
            self.anchor = self.client_api.containers.run(
                self.image,
                command=ANCHOR_COMMAND,
                name=f"{self.name}-anchor",
                network=str(self.network.name),
                ports={f"{port}/tcp": (LOOPBACK, port) for port in plan.ports},
                labels=self.labels,
                detach=True,
                **kwargs,
            )
        except (DockerException, OSError) as error:
            raise TargetError(f"could not set up the topology's network: {first_line(error)}") from None
        self._wait_anchor()
        if plan.tls:
            self.tls_dir = resources.make_run_dir(self.options.run_id, "tls")
            # In a folder of its own: the run dir stays ours, so cleanup can judge it.
            self.tls = prepare_tls(self.tls_dir / "certs", tls_owner(self.context.service))

    def _wait_anchor(self) -> None:
        assert self.anchor is not None
        deadline = time.monotonic() + self.options.startup_timeout
        while time.monotonic() < deadline:
            self.anchor.reload()
            if self.anchor.status == "running":
                return
            if self.anchor.status in ("exited", "dead"):
                break
            time.sleep(0.05)
        logs = bytes(self.anchor.logs(tail=20)).decode("utf-8", "replace")
        raise TargetError(f"the topology's network anchor {self.anchor.name} is {self.anchor.status}: {logs}")

    def _data_node(self, plan: TopologyPlan, node: NodePlan) -> Target:
        extra = as_args([*listen_directives(plan, node.port), *node_directives(plan, node)])
        options = replace(self.node_options(node.port, extra), network_mode=self.network_mode)
        return DockerTarget(self.context, options)

    def _sentinel_node(self, plan: TopologyPlan, sentinel: SentinelPlan) -> SentinelContainer:
        directives = sentinel_directives(plan, sentinel, DATA, TLS_DIR, bind="0.0.0.0")
        config = "".join(f"{_config_line(name, values)}\n" for name, values in directives)
        return SentinelContainer(self, sentinel.port, config)

    def _teardown(self) -> None:
        discard(self.anchor, force=True, v=False)
        self.anchor = None
        discard(self.network)
        self.network = None
        if self.tls_dir is not None:
            shutil.rmtree(self.tls_dir, ignore_errors=True)
            self.tls_dir = None
