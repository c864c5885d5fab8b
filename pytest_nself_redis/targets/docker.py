"""The compose service run as a container: testcontainers starts it, the Docker SDK
drives its lifecycle (graceful stop, SIGKILL crash, restart, recreate on the same volume).

No registry is assumed: the image must be local (or pullable). Each run gets its
own named volume for /data and publishes the port on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path
from typing import Any, cast

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.models.volumes import Volume

from pytest_nself_redis.compose.redis_args import parse_redis_args
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.archive import pack, unpack
from pytest_nself_redis.targets.base import (
    LOOPBACK,
    Target,
    TargetOptions,
    ensure_port_free,
    free_loopback_port,
)
from pytest_nself_redis.targets.readiness import wait_until_ready
from pytest_nself_redis.targets.tls import container_user, prepare_tls

LABEL = "org.nself.redis-harness.run"
ENV_LABEL = "org.nself.redis-harness.env"
# host:pid of the harness process that launched it; `nself-redis cleanup` removes orphans only.
OWNER_LABEL = "org.nself.redis-harness.owner"
IMAGE_HINT = "scripts/build-redis-image.sh"


def _quiet_testcontainers() -> None:
    # We remove what we start ourselves; the reaper image cannot be pulled without a registry.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def docker_client(timeout: float = 10.0) -> docker.DockerClient:
    """A client for the engine behind DOCKER_HOST (or the default socket), checked with ping."""
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        client.ping()
        return client
    except (DockerException, OSError) as error:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise TargetError(
            f"Docker was asked for but no engine answers at {where} ({_first_line(error)}); "
            "start dockerd (or set DOCKER_HOST), or use --nself-target process"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def image_present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
        return True
    except ImageNotFound:
        return False
    except (DockerException, OSError):
        return False


def ensure_image(client: docker.DockerClient, image: str) -> None:
    if image_present(client, image):
        return
    try:
        client.images.pull(image)
        return
    except (DockerException, OSError) as error:
        reason = _first_line(error)
    raise TargetError(
        f"image {image} is not present locally and could not be pulled ({reason}); "
        f"build it from the local redis-server with `{IMAGE_HINT} {image}`, "
        "or use --nself-target process"
    )


def seed_volume(client: docker.DockerClient, image: str, volume: str, folder: Path, user: str | None) -> None:
    """Put the files of ``folder`` into a new volume before a server first starts on it, owned
    by the user the container runs as, through a container that is created but never started."""
    try:
        helper = client.containers.create(
            image, command=["true"], volumes={volume: {"bind": "/data", "mode": "rw"}}
        )
    except (DockerException, OSError) as error:
        raise TargetError(f"could not seed the volume {volume}: {_first_line(error)}") from None
    try:
        helper.put_archive("/data", pack(folder, container_user(user)))
    except (DockerException, OSError) as error:
        raise TargetError(f"could not seed the volume {volume}: {_first_line(error)}") from None
    finally:
        with contextlib.suppress(DockerException, OSError):
            helper.remove(force=True)


class DockerTarget(Target):
    kind = "docker"

    def __init__(self, context: EnvContext, options: TargetOptions) -> None:
        super().__init__(context, options)
        _quiet_testcontainers()
        self.client_api = docker_client(options.socket_timeout * 2)
        self.image = context.service.image
        ensure_image(self.client_api, self.image)
        self.container: Container | None = None
        self.volume: Volume | None = None
        self.host_port = 0
        self._cleanup_token: int | None = None
        self._tls_dir: Path | None = None
        self.starts = 0
        self.name = ""

    # -- launch ----------------------------------------------------------------
    def _command(self) -> list[str]:
        command = list(self.context.service.command)
        if not command or command[0].startswith("-"):
            command.insert(0, "redis-server")  # what the official image's entrypoint does
        return command + list(self.options.extra_args)

    def _uses_tls(self) -> bool:
        return parse_redis_args(self.context.service.command).value("tls-port") not in (None, "0")

    def start(self) -> None:
        self.name = f"nself-redis-{self.options.run_id}-{self.context.name}-{os.getpid()}-{id(self) % 100000}"
        self._cleanup_token = resources.register(f"container {self.name}", self.stop)
        self.host_port = self.options.host_port or free_loopback_port()
        if self.options.host_port and not self.options.network_mode:
            # Joined to another container's namespace, that container publishes the port.
            ensure_port_free(self.host_port)
        labels = {
            LABEL: self.options.run_id,
            ENV_LABEL: self.context.name,
            OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}",
        }
        try:
            self.volume = self.client_api.volumes.create(name=f"{self.name}-data", labels=labels)
        except (DockerException, OSError) as error:
            raise TargetError(f"could not create the data volume: {_first_line(error)}") from None
        if self.options.seed_dir is not None:
            self._seed_volume(self.options.seed_dir)
        tls = None
        if self._uses_tls():
            self._tls_dir = resources.make_run_dir(self.options.run_id, "tls")
            tls = prepare_tls(self._tls_dir, self._tls_owner())
        self._endpoint = self.launched_endpoint(self.host_port, tls)
        self._create_container(labels)
        self._wait_ready()

    def _seed_volume(self, folder: Path) -> None:
        assert self.volume is not None
        seed_volume(self.client_api, self.image, str(self.volume.name), folder, self.context.service.user)

    def _tls_owner(self) -> tuple[int, int] | None:
        """Who must read the bind-mounted TLS key (0600): the container's user, when not us."""
        service = self.context.service
        uid, gid = container_user(service.user)
        if uid in (0, os.getuid()):
            return None
        if os.geteuid() != 0:
            user = f"user {service.user}" if service.user else "no user: the image's redis user"
            raise TargetError(
                f"the container runs as uid {uid} ({service.describe()} sets {user}) and must read "
                "this run's TLS key, which is readable by its owner only; "
                f"this harness runs as uid {os.getuid()} and cannot give it away: run it as root or as uid "
                f"{uid}, set the compose user to {os.getuid()}, or use --nself-target process"
            )
        return uid, gid

    def _create_container(self, labels: dict[str, str]) -> None:
        from testcontainers.core.container import DockerContainer

        service = self.context.service
        container = DockerContainer(self.image, command=cast(Any, self._command()))
        container.with_name(self.name)
        assert self.volume is not None
        container.with_volume_mapping(cast(str, self.volume.name), "/data", mode="rw")
        if self._tls_dir is not None:
            container.with_volume_mapping(str(self._tls_dir), "/tls", mode="ro")
        kwargs: dict[str, Any] = {"labels": labels}
        if self.options.network_mode:
            kwargs["network_mode"] = self.options.network_mode
        else:
            # testcontainers' with_bind_ports takes no host IP; the SDK accepts (ip, port).
            ports = cast(dict[str, Any], container.ports)
            ports[f"{service.container_port}/tcp"] = (LOOPBACK, self.host_port)
        for key, value in service.environment.items():
            container.with_env(key, value)
        if service.user:
            kwargs["user"] = service.user
        container.with_kwargs(**kwargs)
        try:
            container.start()
        except (DockerException, OSError) as error:
            with contextlib.suppress(Exception):
                container.stop(force=True, delete_volume=False)
            raise TargetError(f"the container could not start: {_first_line(error)}") from None
        self.container = container.get_wrapped_container()

    def _wait_ready(self) -> None:
        self.starts += 1
        self.readiness = wait_until_ready(
            self.probe_client,
            what=f"container {self.name} ({self.image}) on {LOOPBACK}:{self.host_port}",
            timeout=self.options.startup_timeout,
            is_running=self._is_running,
            log_tail=self.log_tail,
            address=(self.endpoint.host, self.endpoint.port),
        )
        self.ready_seconds = self.readiness.seconds

    def _is_running(self) -> bool:
        if self.container is None:
            return False
        try:
            self.container.reload()
        except (DockerException, OSError):
            return False
        return bool(self.container.status in ("running", "created", "restarting"))

    # -- lifecycle -------------------------------------------------------------
    def terminate(self) -> None:
        self.close_clients()
        if self.container is not None:
            self.container.stop(timeout=30)  # SIGTERM, then SIGKILL after 30 s

    def kill(self) -> None:
        self.close_clients()
        if self.container is not None and self._is_running():
            self.container.kill(signal="SIGKILL")
            self.container.wait(timeout=30)

    def resume(self, wait: bool = True) -> None:
        if self.container is None:
            raise TargetError("the container is gone")
        self.container.start()
        if wait:
            self._wait_ready()

    def recreate(self) -> None:
        """Remove the container and run a new one on the same volume (compose `up` again)."""
        self.terminate()
        if self.container is not None:
            labels = dict(self.container.labels)
            self.container.remove(force=True, v=False)
            self.container = None
            self._create_container(
                {key: value for key, value in labels.items() if not key.startswith("org.testcontainers")}
            )
            self._wait_ready()

    def stop(self) -> None:
        self.close_clients()
        if self.container is not None:
            with contextlib.suppress(NotFound, APIError, DockerException, OSError):
                self.container.remove(force=True, v=False)
            self.container = None
        if self.volume is not None:
            with contextlib.suppress(NotFound, APIError, DockerException, OSError):
                self.volume.remove(force=True)
            self.volume = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None
        if self._cleanup_token is not None:
            resources.unregister(self._cleanup_token)
            self._cleanup_token = None

    def copy_out(self, path: str, destination: Path) -> Path:
        if self.container is None:
            raise TargetError("the container is gone")
        try:
            chunks, _ = self.container.get_archive(path)
            copied = unpack(chunks, destination)
        except (DockerException, OSError) as error:
            raise TargetError(f"could not copy {path} out of {self.name}: {_first_line(error)}") from None
        if len(copied) != 1:
            raise TargetError(f"copying {path} out of {self.name} gave {len(copied)} entries, not one")
        return copied[0]

    def log_tail(self, lines: int = 40) -> str:
        if self.container is None:
            return ""
        try:
            data = self.container.logs(tail=lines)
        except (DockerException, OSError) as error:
            return f"(logs unavailable: {_first_line(error)})"
        return bytes(data).decode("utf-8", "replace")

    def describe(self) -> str:
        return f"docker {self.image} as {self.name or '?'} on {LOOPBACK}:{self.host_port}"


def _orphaned(labels: dict[str, str]) -> bool:
    """Launched from this host by a harness process that no longer exists."""
    host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def remove_leftovers() -> list[str]:
    """Remove containers, volumes and networks whose launching harness process is gone (killed runs);
    those of runs still going, or launched from other hosts, are left alone."""
    client = docker_client()
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        if _orphaned(container.labels):
            container.remove(force=True, v=False)
            removed.append(f"container {container.name}")
    for volume in client.volumes.list(filters={"label": LABEL}):
        if _orphaned(volume.attrs.get("Labels") or {}):
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    for network in client.networks.list(filters={"label": LABEL}):
        if _orphaned(network.attrs.get("Labels") or {}):
            network.remove()
            removed.append(f"network {network.name}")
    return removed
