"""The nself project model: env files, the env cascade and the Redis settings."""

from pytest_nself_redis.project.envfile import EnvEntry, EnvFile, EnvFileError
from pytest_nself_redis.project.envs import cascade_files, normalise_env_name
from pytest_nself_redis.project.model import NselfProject, ResolvedEnv, RuntimeDisagreement
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import EVICTION_POLICIES, RedisSettings, Setting
from pytest_nself_redis.project.sizes import parse_redis_size

__all__ = [
    "EVICTION_POLICIES",
    "EnvEntry",
    "EnvFile",
    "EnvFileError",
    "NselfProject",
    "RedisSettings",
    "ResolvedEnv",
    "RuntimeDisagreement",
    "Setting",
    "Source",
    "cascade_files",
    "normalise_env_name",
    "parse_redis_size",
]
