"""Env names, the file cascade and which env a run uses, exactly as nself loads them.

nself 0.9.x and 1.x differ in all three: 1.x loads ``.env`` first and exactly one env
file, ``local`` is an env of its own, custom env names have a fixed shape, the process
environment's ENV outranks the ``ENV=`` line of ``.env``, and ``NSELF_LEGACY_ENV_ORDER``
brings back the order 1.0 had before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis.errors import ProjectError

KNOWN_ENVS = ("dev", "staging", "prod")
# nself 1.x: an env of its own that loads .env.dev.
LOCAL_ENV = "local"
_ALIASES = {
    "development": "dev",
    "develop": "dev",
    "devel": "dev",
    "production": "prod",
    "stage": "staging",
}
# The three orders a project's env files can be loaded in.
ORDER_09 = "0.9.x"
ORDER_1X = "1.x"
ORDER_1X_LEGACY = "1.x legacy (NSELF_LEGACY_ENV_ORDER)"
_CASCADES: dict[str, tuple[str, ...]] = {
    "dev": (".env.dev", ".env.local", ".env"),
    "staging": (".env.dev", ".env.staging", ".env"),
    "prod": (".env.dev", ".env.staging", ".env.prod", ".env.secrets", ".env"),
}
_OTHER_CASCADE = (".env.dev", ".env")
# Files of an nself project that are not env names.
_NOT_ENVS = {"local", "secrets", "runtime", "example", "template", "sample"}
_NOT_ENVS_1X = {*_NOT_ENVS, "computed", "ai"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
# nself 1.x: the shape a custom env name must have to name a file .env.<name>.
CUSTOM_ENV_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")
LEGACY_ORDER_VARIABLE = "NSELF_LEGACY_ENV_ORDER"
_TRUE = {"1", "t", "true", "yes", "on"}
_FALSE = {"", "0", "f", "false", "no", "off"}


def normalise_env_name(name: str) -> str:
    lowered = name.strip().lower()
    return _ALIASES.get(lowered, lowered)


def cascade_files(env: str, order: str = ORDER_09) -> tuple[str, ...]:
    """The files loaded for ``env`` in ``order``, first to last (a later file wins)."""
    if order == ORDER_1X:
        if env not in (*KNOWN_ENVS, LOCAL_ENV) and not CUSTOM_ENV_NAME.match(env):
            raise ProjectError(invalid_custom_env(env))
        own = ".env.dev" if env in ("dev", LOCAL_ENV) else f".env.{env}"
        return (".env", own, ".env.secrets", ".env.local")
    if order == ORDER_1X_LEGACY:
        layer = {"staging": (".env.staging",), "prod": (".env.prod",)}.get(env, ())
        return (".env.dev", *layer, ".env.secrets", ".env.local", ".env", ".env.ai")
    return _CASCADES.get(env, _OTHER_CASCADE)


def invalid_custom_env(raw: str) -> str:
    return (
        f"env {raw!r} is not a name nself 1.x accepts: a custom env name is 1 to 63 characters "
        "of a-z, 0-9, _ and -, starting with a letter or digit (it names the file .env.<name>)"
    )


def custom_envs(project_dir: Path, major: int = 0) -> list[str]:
    """Env names the project defines beyond dev/staging/prod (a ``.env.<name>`` file)."""
    shape, not_envs = (CUSTOM_ENV_NAME, _NOT_ENVS_1X) if major == 1 else (_NAME, _NOT_ENVS)
    names = []
    for path in sorted(project_dir.glob(".env.*")):
        suffix = path.name[len(".env.") :]
        if shape.match(suffix) and suffix not in not_envs and suffix not in KNOWN_ENVS:
            names.append(suffix)
    return names


def validate_env_name(raw: str, project_dir: Path, major: int = 0) -> str:
    """The env's canonical name; an env the project has no file for is refused as a likely
    typo (nself 1.x would run it on .env and .env.secrets alone)."""
    env = normalise_env_name(raw)
    builtin = (*KNOWN_ENVS, LOCAL_ENV) if major == 1 else KNOWN_ENVS
    if env in builtin:
        return env
    if major == 1 and not CUSTOM_ENV_NAME.match(env):
        raise ProjectError(invalid_custom_env(raw))
    known = [*builtin, *custom_envs(project_dir, major)]
    if _NAME.match(env) and env in known:
        return env
    raise ProjectError(
        f"unknown env {raw!r}: this project knows {', '.join(known)} "
        "(aliases: development/develop/devel, production, stage)"
    )


def legacy_order(environ: Mapping[str, str]) -> bool:
    """Whether ``NSELF_LEGACY_ENV_ORDER`` (process environment) asks nself 1.x for the old
    order; a value that is neither true nor false is refused rather than guessed."""
    raw = environ.get(LEGACY_ORDER_VARIABLE)
    if raw is None:
        return False
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ProjectError(
        f"{LEGACY_ORDER_VARIABLE}={raw[:40]!r} (environment): expected true or false (1/0, t/f, "
        "true/false, yes/no, on/off); when true, nself 1.x loads the env files in its legacy order"
    )


@dataclass(frozen=True)
class EnvChoice:
    names: tuple[str, ...]
    chosen_by: str


def split_env_list(raw: str) -> list[str]:
    return [part for part in (piece.strip() for piece in raw.split(",")) if part]


def choose_envs(
    option: str | None,
    environ: Mapping[str, str],
    dot_env_value: str | None,
    project_dir: Path,
    major: int = 0,
) -> EnvChoice:
    """``--nself-env`` > ``NSELF_ENV`` (the harness's own), then as nself picks: 0.9.x the
    ``ENV=`` line of ``.env`` > ``$ENV``, 1.x ``$ENV`` > the ``ENV=`` line; else dev."""
    from_file = (dot_env_value, "ENV in .env")
    from_process = (environ.get("ENV"), "$ENV")
    nself_order = (from_process, from_file) if major == 1 else (from_file, from_process)
    candidates = (
        (option, "--nself-env"),
        (environ.get("NSELF_ENV"), "NSELF_ENV"),
        *nself_order,
    )
    for raw, how in candidates:
        if raw is not None and raw.strip():
            names = split_env_list(raw)
            if not names:
                break
            validated = tuple(dict.fromkeys(validate_env_name(name, project_dir, major) for name in names))
            return EnvChoice(validated, how)
    return EnvChoice(("dev",), "default")
