"""Targets: how the Redis under test comes to be (docker, process, attach).

The kinds are named here, light, for the command-line parsers; the classes load when
first named (``pytest_nself_redis.targets.Target``) or imported from their modules.
"""

from typing import TYPE_CHECKING

from pytest_nself_redis.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_nself_redis.targets.base import Target, TargetOptions
    from pytest_nself_redis.targets.select import make_target, resolve_kind

TARGET_KINDS = ("auto", "docker", "process", "attach")

__all__ = ["TARGET_KINDS", "Target", "TargetOptions", "make_target", "resolve_kind"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Target": "base",
        "TargetOptions": "base",
        "make_target": "select",
        "resolve_kind": "select",
    },
)
