"""Targets: how the Redis under test comes to be (docker, process, attach)."""

from pytest_nself_redis.targets.base import Endpoint, Target, TargetOptions
from pytest_nself_redis.targets.select import TARGET_KINDS, make_target, resolve_kind

__all__ = ["TARGET_KINDS", "Endpoint", "Target", "TargetOptions", "make_target", "resolve_kind"]
