"""The deployment layer: the compose `redis` service, read or rendered."""

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.ports import PortBinding
from pytest_nself_redis.compose.redis_args import REDIS_DEFAULTS, RedisArgs, parse_redis_args
from pytest_nself_redis.compose.render import render_service
from pytest_nself_redis.compose.runtime import ComposeValue, Healthcheck, RuntimeLimits, Ulimit
from pytest_nself_redis.compose.service import (
    LiteralPassword,
    RedisService,
    find_compose_file,
    load_compose_service,
)

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
