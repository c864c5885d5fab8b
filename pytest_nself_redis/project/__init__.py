"""The nself project model: env files, the env cascade and the Redis settings.

The names below load when first asked for (``lazy``), so a caller that needs one light module
(the CLI's ``project.generation`` for ``--nself-version``) does not load them all.
"""

from typing import TYPE_CHECKING

from pytest_nself_redis.lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EnvEntry": "envfile",
        "EnvFile": "envfile",
        "EnvFileError": "envfile",
        "cascade_files": "envs",
        "normalise_env_name": "envs",
        "NselfProject": "model",
        "ResolvedEnv": "model",
        "RuntimeDisagreement": "model",
        "Source": "provenance",
        "EVICTION_POLICIES": "settings",
        "RedisSettings": "settings",
        "Setting": "settings",
        "parse_redis_size": "sizes",
    },
)
