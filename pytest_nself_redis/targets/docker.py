"""The compose service run as a container: testcontainers starts it, the Docker SDK
drives its lifecycle (graceful stop, SIGKILL crash, restart, recreate on the same volume).

No registry is assumed: the image must be local (or pullable). Each run gets its
own named volume for /data and publishes the port on 127.0.0.1 only. Every container
setting of the service (user, limits, read-only root, tmpfs, capabilities, security
options, ulimits, sysctls, healthcheck) is applied; one Docker refuses stops the launch
with the compose line that set it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, cast

from docker.errors import APIError, DockerException
from docker.models.containers import Container
from docker.models.volumes import Volume

from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.host import SERVER_NAMES, ServerHost
from pytest_nself_redis.live.loopback import LOOPBACK, free_loopback_port, held_across_stop
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.archive import unpack
from pytest_nself_redis.targets.base import Target, TargetOptions, ensure_port_free
from pytest_nself_redis.targets.container_settings import (
    DEFAULT_HEALTH_TIMEOUT,
    ContainerSetting,
    container_settings,
    describe_probe,
    docker_arguments,
    refused_by_message,
)
from pytest_nself_redis.targets.docker_engine import (
    ENV_LABEL,
    LABEL,
    OWNER_LABEL,
    discard,
    docker_client,
    docker_reason,
    ensure_image,
    first_line,
    quiet_testcontainers,
    run_bounded,
    seed_volume,
    unique_name,
)
from pytest_nself_redis.targets.health import (
    HEALTHY,
    UNHEALTHY,
    ContainerHealth,
    ContainerState,
    from_docker_state,
)
from pytest_nself_redis.targets.readiness import wait_until_ready
from pytest_nself_redis.targets.tls import prepare_tls, tls_owner


class DockerTarget(Target):
    kind = "docker"

    def __init__(self, context: EnvContext, options: TargetOptions) -> None:
        super().__init__(context, options)
        quiet_testcontainers()
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
        self.container_settings: tuple[ContainerSetting, ...] = container_settings(context.service.runtime)

    # -- launch ----------------------------------------------------------------
    def _command(self) -> list[str]:
        command = list(self.context.service.command)
        if not command or command[0].startswith("-"):
            command.insert(0, "redis-server")  # what the official image's entrypoint does
        return command + list(self.options.extra_args)

    def _uses_tls(self) -> bool:
        return self.context.service.args.value("tls-port") not in (None, "0")

    def start(self) -> None:
        self.name = unique_name(self.options.run_id, self.context.name)
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
            raise TargetError(f"could not create the data volume: {first_line(error)}") from None
        if self.options.seed_dir is not None:
            self._seed_volume(self.options.seed_dir)
        tls = None
        if self._uses_tls():
            tls = self.options.tls
            if tls is None:
                self._tls_dir = resources.make_run_dir(self.options.run_id, "tls")
                # In a folder of its own: the run dir stays ours, so cleanup can judge it.
                tls = prepare_tls(self._tls_dir / "certs", tls_owner(self.context.service))
        self._endpoint = self.launched_endpoint(self.host_port, tls)
        self._create_container(labels)
        self._wait_ready()

    def _seed_volume(self, folder: Path) -> None:
        assert self.volume is not None
        seed_volume(self.client_api, self.image, str(self.volume.name), folder, self.context.service.user)

    def _create_container(self, labels: dict[str, str]) -> None:
        from testcontainers.core.container import DockerContainer

        service = self.context.service
        # testcontainers makes its own client; told the API version ours already negotiated, it
        # skips asking the engine again on every launch.
        container = DockerContainer(
            self.image,
            command=cast(Any, self._command()),
            docker_client_kw={"version": self.client_api.api.api_version},
        )
        container.with_name(self.name)
        assert self.volume is not None
        container.with_volume_mapping(cast(str, self.volume.name), "/data", mode="rw")
        if self.server_tls is not None:
            container.with_volume_mapping(str(self.server_tls.cert.parent), "/tls", mode="ro")
        if not self.options.network_mode:
            # testcontainers' with_bind_ports takes no host IP; the SDK accepts (ip, port).
            ports = cast(dict[str, Any], container.ports)
            ports[f"{service.container_port}/tcp"] = (LOOPBACK, self.host_port)
        for key, value in service.environment.items():
            container.with_env(key, value)
        kwargs = docker_arguments(self.container_settings)
        if self.options.network_mode:
            # A node of a topology: in another container's namespace, which publishes its port.
            kwargs["network_mode"] = self.options.network_mode
        # testcontainers passes its own tmpfs mapping to the engine: ours go there.
        container.tmpfs.update(kwargs.pop("tmpfs", {}))
        container.with_kwargs(labels=labels, **kwargs)
        try:
            container.start()
        except (DockerException, OSError) as error:
            with contextlib.suppress(Exception):
                container.stop(force=True, delete_volume=False)
            raise self._refusal(error, labels) from None
        self.container = container.get_wrapped_container()

    def _refusal(self, error: BaseException, labels: dict[str, str]) -> TargetError:
        """The error for a container Docker would not create or start, naming the setting
        (and its compose line) Docker refused when it is one of the service's."""
        reason = docker_reason(error)
        refused = self.refused_settings(reason, labels) if isinstance(error, APIError) else []
        if not refused:
            return TargetError(f"the container could not start: {reason}")
        shown = ", ".join(setting.shown for setting in refused)
        return TargetError(
            f"this Docker engine refuses {shown}, set by {self.context.service.describe()}: {reason}. "
            "The docker target runs the container with every setting of the service, as compose "
            "would; change or remove that setting, or use --nself-target process (which applies "
            "no container setting)"
        )

    def refused_settings(self, reason: str, labels: dict[str, str]) -> list[ContainerSetting]:
        """The settings behind Docker's refusal ``reason``: the one its words name, else each
        candidate tried alone in a throwaway container (its words name none, or several of
        a kind); none when the image does not start even without them."""
        named = refused_by_message(self.container_settings, reason)
        if len(named) == 1:
            return named
        if not self._starts_with({}, labels):
            return []
        candidates = named or [setting for setting in self.container_settings if not setting.unapplied]
        alone = [
            setting for setting in candidates if not self._starts_with(docker_arguments([setting]), labels)
        ]
        return alone or named

    def _starts_with(self, arguments: dict[str, Any], labels: dict[str, str]) -> bool:
        """Whether a container of the image with just these settings starts: finds what
        Docker refused when its message names no setting. Removed at once either way."""
        trial: Container | None = None
        try:
            trial = self.client_api.containers.create(self.image, self._command(), labels=labels, **arguments)
            trial.start()
            return True
        except (DockerException, OSError):
            return False
        finally:
            if trial is not None:
                with contextlib.suppress(DockerException, OSError):
                    trial.remove(force=True, v=True)

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

    def _state(self) -> dict[str, Any] | None:
        """Docker's ``State`` of the container, read now (None: no container, or no answer)."""
        if self.container is None:
            return None
        try:
            self.container.reload()
        except (DockerException, OSError):
            return None
        return dict(self.container.attrs.get("State") or {})

    def _is_running(self) -> bool:
        state = self._state()
        return state is not None and state.get("Status") in ("running", "created", "restarting")

    # -- lifecycle -------------------------------------------------------------
    def terminate(self) -> None:
        self.close_clients()
        if self.container is not None:
            with held_across_stop(self.endpoint):  # until the container publishes it again
                self.container.stop(timeout=30)  # SIGTERM, then SIGKILL after 30 s

    def kill(self) -> None:
        self.close_clients()
        if self.container is not None and self._is_running():
            with held_across_stop(self.endpoint):
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
        discard(self.container, force=True, v=False)
        self.container = None
        discard(self.volume, force=True)
        self.volume = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None
        if self._cleanup_token is not None:
            resources.unregister(self._cleanup_token)
            self._cleanup_token = None

    def container_state(self) -> ContainerState | None:
        state = self._state()
        return None if state is None else ContainerState.of(state)

    def set_memory_limit(self, limit: int) -> None:
        """``docker update``: the memory limit, with swap equal to it as at launch."""
        if self.container is None:
            raise TargetError("the container is gone")
        try:
            self.container.update(mem_limit=limit, memswap_limit=limit)
        except (DockerException, OSError) as error:
            reason = docker_reason(error)
            raise TargetError(f"could not change the container's memory limit: {reason}") from None

    def server_host(self) -> ServerHost | None:
        """This machine, when the engine runs here (the container's server process is one of
        ours); None for an engine elsewhere (DOCKER_HOST), whose kernel is not this one's."""
        state = self._state()
        if state is None:
            return None
        pid = int(state.get("Pid") or 0)
        try:
            name = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip() if pid else ""
        except OSError:
            name = ""
        return ServerHost(pid, container=self.name) if name in SERVER_NAMES else None

    def copy_out(self, path: str, destination: Path) -> Path:
        if self.container is None:
            raise TargetError("the container is gone")
        try:
            chunks, _ = self.container.get_archive(path)
            copied = unpack(chunks, destination)
        except (DockerException, OSError) as error:
            raise TargetError(f"could not copy {path} out of {self.name}: {first_line(error)}") from None
        if len(copied) != 1:
            raise TargetError(f"copying {path} out of {self.name} gave {len(copied)} entries, not one")
        return copied[0]

    # -- health ----------------------------------------------------------------
    def _probe_description(self) -> str:
        check = self.context.service.runtime.healthcheck
        return describe_probe(check) if check is not None else "the image's own probe"

    def health(self, wait: float = 0.0) -> ContainerHealth | None:
        """Docker's view of the container's health (None: no healthcheck, or no container);
        with ``wait``, up to that many seconds for its first probe result."""
        deadline = time.monotonic() + wait
        while (state := self._state()) is not None:
            found = from_docker_state(state, self._probe_description(), self.context.redactor.scrub)
            if found is None or found.answered or time.monotonic() >= deadline:
                return found
            time.sleep(0.2)
        return None

    def health_now(self) -> ContainerHealth | None:
        """Docker's last probe result, or when none has run yet, the same probe run once now."""
        seen = self.health()
        if seen is None or seen.answered:
            return seen
        return self._probe_once() or seen

    def _probe_once(self) -> ContainerHealth | None:
        """The healthcheck's test run in the container as Docker runs it (same user and
        environment; ``CMD-SHELL`` through /bin/sh), bounded by its timeout."""
        check = self.context.service.runtime.healthcheck
        if self.container is None or check is None or check.disabled or not check.test:
            return None
        kind, *words = check.test
        command = (
            ["/bin/sh", "-c", *words] if kind == "CMD-SHELL" else words if kind == "CMD" else list(check.test)
        )
        limit = check.timeout.value if check.timeout and check.timeout.value else DEFAULT_HEALTH_TIMEOUT
        limit = min(limit, self.options.startup_timeout)
        outcome = run_bounded(cast(str, self.container.id), command, limit)
        probe, scrub = self._probe_description(), self.context.redactor.scrub
        if "error" in outcome or not isinstance(outcome.get("exit_code"), int):
            said = outcome.get("error") or f"the probe did not finish within {limit:g} s"
            return ContainerHealth(UNHEALTHY, scrub(str(said)), -1, probe, by="harness")
        code = int(outcome["exit_code"])
        status = HEALTHY if code == 0 else UNHEALTHY
        return ContainerHealth(status, scrub(outcome.get("output", "")), code, probe, by="harness")

    def unreproduced(self) -> tuple[str, ...]:
        return tuple(
            self.context.redactor.scrub(setting.shown)
            for setting in self.container_settings
            if setting.unapplied
        )

    def log_tail(self, lines: int = 40) -> str:
        if self.container is None:
            return ""
        try:
            data = self.container.logs(tail=lines)
        except (DockerException, OSError) as error:
            return f"(logs unavailable: {first_line(error)})"
        return bytes(data).decode("utf-8", "replace")

    def describe(self) -> str:
        return f"docker {self.image} as {self.name or '?'} on {LOOPBACK}:{self.host_port}"
