"""The Docker engine as the docker targets use it: a checked client, the image (present or
pulled), volumes seeded before a server starts, the labels every launched thing carries, and
the removal of what a killed run left (``nself-redis cleanup``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.targets.archive import pack
from pytest_nself_redis.targets.tls import container_user

LABEL = "org.nself.redis-harness.run"
ENV_LABEL = "org.nself.redis-harness.env"
# host:pid of the harness process that launched it; `nself-redis cleanup` removes orphans only.
OWNER_LABEL = "org.nself.redis-harness.owner"
IMAGE_HINT = "scripts/build-redis-image.sh"
# How runc wraps the reason it refuses a container; the reason is what follows.
_RUNTIME_WRAPPING = re.compile(
    r"^(failed to create shim task: )?(OCI runtime create failed: )?(runc create failed: )?"
    r"(unable to start container process: )?(error during container init: )?"
)


_NAMES = itertools.count(1)


def unique_name(run_id: str, env: str) -> str:
    """A name for a container (and its volume) of this run, unique within the engine: the run,
    the env, this process and a number it never gives twice (many are launched at once)."""
    return f"nself-redis-{run_id}-{env}-{os.getpid()}-{next(_NAMES)}"


def quiet_testcontainers() -> None:
    # We remove what we start ourselves; the reaper image cannot be pulled without a registry.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


# A busy engine now and then answers the version handshake with a half-written reply
# ("key ApiVersion is missing"); it is asked again, briefly. No engine at all is said at once.
_HANDSHAKE_ATTEMPTS = 3
_HANDSHAKE_PAUSE = 0.3


def docker_client(timeout: float = 10.0) -> docker.DockerClient:
    """A client for the engine behind DOCKER_HOST (or the default socket), checked with ping."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    for attempt in range(1, _HANDSHAKE_ATTEMPTS + 1):
        try:
            client = docker.from_env(timeout=int(max(timeout, 1)))
            client.ping()
            return client
        except (DockerException, OSError) as error:
            if attempt == _HANDSHAKE_ATTEMPTS or not _engine_listening(where):
                raise TargetError(
                    f"Docker was asked for but no engine answers at {where} ({first_line(error)}); "
                    "start dockerd (or set DOCKER_HOST), or use --nself-target process"
                ) from None
            time.sleep(_HANDSHAKE_PAUSE * attempt)
    raise AssertionError("unreachable")


def _engine_listening(where: str) -> bool:
    """Something accepts connections at ``where`` (a unix socket; any other address is
    assumed to), so a failed handshake is worth one more try."""
    if not where.startswith("unix://"):
        return True
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(where.removeprefix("unix://"))
        except OSError:
            return False
    return True


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def docker_reason(error: BaseException) -> str:
    """What the engine said (an APIError's explanation, not its URL), on one line, without
    the runtime's wrapping (``failed to create shim task: OCI runtime create failed: ...``)."""
    explanation = getattr(error, "explanation", None)
    text = explanation if isinstance(explanation, str) and explanation else str(error)
    line = _RUNTIME_WRAPPING.sub("", " ".join(text.split())).removesuffix(": unknown")
    return line if len(line) <= 400 else line[:397] + "..."


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
        reason = first_line(error)
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
        raise TargetError(f"could not seed the volume {volume}: {first_line(error)}") from None
    try:
        helper.put_archive("/data", pack(folder, container_user(user)))
    except (DockerException, OSError) as error:
        raise TargetError(f"could not seed the volume {volume}: {first_line(error)}") from None
    finally:
        with contextlib.suppress(DockerException, OSError):
            helper.remove(force=True)


def discard(resource: Any, **how: Any) -> None:
    """Remove a container, volume or network the run made (``how``: remove's arguments), if any:
    one already gone, or an engine that went away, is no teardown error."""
    if resource is not None:
        with contextlib.suppress(NotFound, APIError, DockerException, OSError):
            resource.remove(**how)


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
    those of runs still going, or launched from other hosts, are left alone. One that another
    process removes meanwhile (a run finishing its own teardown) is simply gone."""
    client = docker_client()
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
        if _orphaned(container.labels):
            with contextlib.suppress(NotFound):
                container.remove(force=True, v=False)
            removed.append(f"container {container.name}")
    for volume in client.volumes.list(filters={"label": LABEL}):
        if _orphaned(volume.attrs.get("Labels") or {}):
            with contextlib.suppress(NotFound):
                volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    for network in client.networks.list(filters={"label": LABEL}):
        if _orphaned(network.attrs.get("Labels") or {}):
            with contextlib.suppress(NotFound):
                network.remove()
            removed.append(f"network {network.name}")
    return removed


def run_bounded(container_id: str, command: Sequence[str], limit: float) -> dict[str, Any]:
    """``command`` run in the container as its user (``docker exec``), waited for ``limit`` s at
    most: ``output`` and ``exit_code``, or ``error`` (a probe that hangs must not hang the run)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            client = docker_client(limit + 5)
            try:
                exec_id = client.api.exec_create(container_id, list(command))["Id"]
                outcome["output"] = bytes(client.api.exec_start(exec_id)).decode("utf-8", "replace")
                outcome["exit_code"] = client.api.exec_inspect(exec_id).get("ExitCode")
            finally:
                client.close()
        except (DockerException, OSError, TargetError) as error:
            outcome["error"] = docker_reason(error)

    worker = threading.Thread(target=run, name="nself-redis-exec", daemon=True)
    worker.start()
    worker.join(limit + 1)
    if worker.is_alive():
        return {"error": f"the probe did not finish within {limit:g} s"}
    return outcome
