"""Env names, the file cascade and which env a run uses, exactly as nself loads them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis.errors import ProjectError

KNOWN_ENVS = ("dev", "staging", "prod")
_ALIASES = {
    "development": "dev",
    "develop": "dev",
    "devel": "dev",
    "production": "prod",
    "stage": "staging",
}
_CASCADES: dict[str, tuple[str, ...]] = {
    "dev": (".env.dev", ".env.local", ".env"),
    "staging": (".env.dev", ".env.staging", ".env"),
    "prod": (".env.dev", ".env.staging", ".env.prod", ".env.secrets", ".env"),
}
_OTHER_CASCADE = (".env.dev", ".env")
# Files of an nself project that are not env names.
_NOT_ENVS = {"local", "secrets", "runtime", "example", "template", "sample"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")


def normalise_env_name(name: str) -> str:
    lowered = name.strip().lower()
    return _ALIASES.get(lowered, lowered)


def cascade_files(env: str) -> tuple[str, ...]:
    """The files loaded for ``env``, first to last (a later file wins)."""
    return _CASCADES.get(env, _OTHER_CASCADE)


def custom_envs(project_dir: Path) -> list[str]:
    """Env names the project defines beyond dev/staging/prod (a ``.env.<name>`` file)."""
    names = []
    for path in sorted(project_dir.glob(".env.*")):
        suffix = path.name[len(".env.") :]
        if _NAME.match(suffix) and suffix not in _NOT_ENVS and suffix not in KNOWN_ENVS:
            names.append(suffix)
    return names


def validate_env_name(raw: str, project_dir: Path) -> str:
    env = normalise_env_name(raw)
    if env in KNOWN_ENVS:
        return env
    known = [*KNOWN_ENVS, *custom_envs(project_dir)]
    if _NAME.match(env) and env in known:
        return env
    raise ProjectError(
        f"unknown env {raw!r}: this project knows {', '.join(known)} "
        "(aliases: development/develop/devel, production, stage)"
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
) -> EnvChoice:
    """``--nself-env`` > ``NSELF_ENV`` > the ``ENV=`` line of ``.env`` > ``$ENV`` > dev."""
    candidates = (
        (option, "--nself-env"),
        (environ.get("NSELF_ENV"), "NSELF_ENV"),
        (dot_env_value, "ENV in .env"),
        (environ.get("ENV"), "$ENV"),
    )
    for raw, how in candidates:
        if raw is not None and raw.strip():
            names = split_env_list(raw)
            if not names:
                break
            validated = tuple(dict.fromkeys(validate_env_name(name, project_dir) for name in names))
            return EnvChoice(validated, how)
    return EnvChoice(("dev",), "default")
