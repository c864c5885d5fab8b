"""Sentinel topologies launched for a run: a primary, its replicas and the sentinels that
watch them, as local processes or as containers (each loaded when first asked for)."""

from __future__ import annotations

from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.targets.base import TargetOptions
from pytest_nself_redis.targets.topology.base import SETTLE_TIMEOUT_S, Tamper, Topology

__all__ = ["Topology", "make_topology"]


def make_topology(
    kind: str,
    context: EnvContext,
    options: TargetOptions,
    tamper: Tamper | None = None,
    settle_timeout: float = SETTLE_TIMEOUT_S,
) -> Topology:
    """A topology of ``kind`` (docker or process), not yet started."""
    if kind == "docker":
        from pytest_nself_redis.targets.topology.docker import DockerTopology

        return DockerTopology(context, options, tamper, settle_timeout)
    if kind == "process":
        from pytest_nself_redis.targets.topology.process import ProcessTopology

        return ProcessTopology(context, options, tamper, settle_timeout)
    raise TargetError(f"a Sentinel topology is launched by the docker or process target, not {kind!r}")
