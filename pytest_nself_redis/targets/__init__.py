"""Targets: how the Redis under test comes to be (docker, process, attach)."""

from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.select import TARGET_KINDS, make_target, resolve_kind

__all__ = ["TARGET_KINDS", "Target", "TargetOptions", "make_target", "resolve_kind"]
