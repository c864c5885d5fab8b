"""Which target a run uses: ``--nself-target auto`` picks the best one available."""

from __future__ import annotations

import shutil

from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.targets import TARGET_KINDS
from pytest_nself_redis.targets.base import Target, TargetOptions


def docker_ready_for(image: str) -> tuple[bool, str]:
    """(usable, why not): an engine answers and the image is present locally."""
    from pytest_nself_redis.targets.docker_engine import docker_client, image_present

    try:
        client = docker_client(timeout=3)
    except TargetError as error:
        return False, str(error)
    try:
        if not image_present(client, image):
            return False, f"image {image} is not present locally"
        return True, ""
    finally:
        client.close()


def resolve_kind(requested: str, image: str, options: TargetOptions) -> tuple[str, str]:
    """The concrete kind and why it was chosen."""
    if requested not in TARGET_KINDS:
        raise TargetError(f"unknown target {requested!r}: choose one of {', '.join(TARGET_KINDS)}")
    if requested != "auto":
        return requested, "asked for"
    if options.redis_url:
        return "attach", "--nself-redis-url given"
    usable, why_not = docker_ready_for(image)
    if usable:
        return "docker", "a Docker engine answers and the image is local"
    if options.redis_server or shutil.which("redis-server"):
        return "process", f"no docker ({why_not}); redis-server found"
    raise TargetError(
        "no target available: Docker is not usable "
        f"({why_not}) and redis-server is not installed. Install redis-server "
        "(apt-get install redis-server) for the process target, or start Docker and build the "
        "image with scripts/build-redis-image.sh for the docker target, or attach to a running "
        "server with --nself-redis-url"
    )


def make_target(kind: str, context: EnvContext, options: TargetOptions) -> Target:
    if kind == "docker":
        from pytest_nself_redis.targets.docker import DockerTarget

        return DockerTarget(context, options)
    if kind == "process":
        from pytest_nself_redis.targets.process import ProcessTarget

        return ProcessTarget(context, options)
    if kind == "attach":
        from pytest_nself_redis.targets.attach import AttachTarget

        return AttachTarget(context, options)
    raise TargetError(f"unknown target {kind!r}: choose one of {', '.join(TARGET_KINDS)}")
