"""The deployment layer: the compose `redis` service, read or rendered.

The names below load when first asked for (``lazy``), so a caller that needs one light module
(``compose.names``: is there a compose file?) does not load YAML with them.
"""

from typing import TYPE_CHECKING

from pytest_nself_redis.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_nself_redis.compose.interpolate import interpolate
    from pytest_nself_redis.compose.names import find_compose_file
    from pytest_nself_redis.compose.ports import PortBinding
    from pytest_nself_redis.compose.redis_args import REDIS_DEFAULTS, RedisArgs, parse_redis_args
    from pytest_nself_redis.compose.render import render_service
    from pytest_nself_redis.compose.runtime import ComposeValue, Healthcheck, RuntimeLimits, Ulimit
    from pytest_nself_redis.compose.service import LiteralPassword, RedisService, load_compose_service

__all__ = [
    "REDIS_DEFAULTS",
    "ComposeValue",
    "Healthcheck",
    "LiteralPassword",
    "PortBinding",
    "RedisArgs",
    "RedisService",
    "RuntimeLimits",
    "Ulimit",
    "find_compose_file",
    "interpolate",
    "load_compose_service",
    "parse_redis_args",
    "render_service",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "interpolate": "interpolate",
        "find_compose_file": "names",
        "PortBinding": "ports",
        "REDIS_DEFAULTS": "redis_args",
        "RedisArgs": "redis_args",
        "parse_redis_args": "redis_args",
        "render_service": "render",
        "ComposeValue": "runtime",
        "Healthcheck": "runtime",
        "RuntimeLimits": "runtime",
        "Ulimit": "runtime",
        "LiteralPassword": "service",
        "RedisService": "service",
        "load_compose_service": "service",
    },
)
