"""An nself project on disk: its generation, env files, the resolved env and the settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.envfile import EnvEntry, EnvFile, read_env_file
from pytest_nself_redis.project.envs import (
    ORDER_09,
    ORDER_1X,
    ORDER_1X_LEGACY,
    EnvChoice,
    cascade_files,
    choose_envs,
    legacy_order,
)
from pytest_nself_redis.project.generation import Generation, detect_generation, forced_generation
from pytest_nself_redis.project.settings import SETTING_DEFAULTS, RedisSettings, settings_from_env
from pytest_nself_redis.secrets import Redactor, is_secret_name

_PROJECT_FILES = (".env", ".env.dev", ".env.local", ".env.staging", ".env.prod", ".env.secrets")
RUNTIME_FILE = ".env.runtime"
# What nself 1.x generates from the cascade, and what follows from one of them being stale.
GENERATED_1X = {
    ".env.computed": (
        "; .env.computed holds what `nself build` computed last: build again to deploy the env files"
    ),
    ".nself/compose.env": "; compose reads .nself/compose.env until `nself build` writes it again",
}
_RUNTIME_TAIL = "; compose uses .env.runtime until `nself start` writes it again"


@dataclass(frozen=True)
class RuntimeDisagreement:
    """A REDIS_* key whose value in a file nself generates from the cascade (``.env.runtime``
    of 0.9.x; ``.env.computed`` or ``.nself/compose.env`` of 1.x) differs from the cascade's."""

    key: str
    runtime: EnvEntry | None
    cascade: EnvEntry | None
    file: str = RUNTIME_FILE

    def describe(self) -> str:
        secret = is_secret_name(self.key)

        def show(entry: EnvEntry | None, where: str) -> str:
            if entry is None:
                return f"nothing ({where} does not set it)"
            return f"a value ({entry.source})" if secret else f"{entry.value!r} ({entry.source})"

        tail = GENERATED_1X.get(self.file, _RUNTIME_TAIL)
        if secret and self.runtime is not None and self.cascade is not None:
            return (
                f"{self.key}: {self.runtime.source} and {self.cascade.source} hold different "
                f"values (not shown){tail}"
            )
        return (
            f"{self.key}: {self.file} has {show(self.runtime, self.file)} "
            f"but the env files give {show(self.cascade, 'the cascade')}{tail}"
        )


@dataclass
class ResolvedEnv:
    """The merged values of one env's cascade, each with the file:line that set it."""

    name: str
    project_dir: Path
    files: list[Path]
    values: dict[str, EnvEntry] = field(default_factory=dict)
    # Which loading order gave these values (envs.ORDER_*).
    order: str = ORDER_09

    def get(self, key: str) -> str | None:
        entry = self.values.get(key)
        return entry.value if entry is not None else None

    def compose_variables(self) -> dict[str, str]:
        """What compose interpolates from: the cascade plus the defaults `nself start` adds."""
        variables = {key: entry.value for key, entry in self.values.items()}
        project = variables.get("PROJECT_NAME") or "myproject"
        variables.setdefault("PROJECT_NAME", project)
        variables.setdefault("DOCKER_NETWORK", f"{project}_network")
        variables.setdefault("REDIS_PASSWORD", "")
        variables.setdefault("REDIS_PORT", "6379")
        return variables

    def secrets(self) -> Redactor:
        return Redactor(entry.value for key, entry in self.values.items() if is_secret_name(key))


class NselfProject:
    """A directory with nself env files, read as the nself generation that wrote them."""

    def __init__(self, directory: Path, generation: Generation | None = None, legacy: bool = False) -> None:
        self.dir = directory
        self.generation = generation or detect_generation(directory)
        # nself 1.x with NSELF_LEGACY_ENV_ORDER true: the order 1.0 had before.
        self.legacy_order = legacy and self.generation.is_1x

    @property
    def env_order(self) -> str:
        if not self.generation.is_1x:
            return ORDER_09
        return ORDER_1X_LEGACY if self.legacy_order else ORDER_1X

    @classmethod
    def open(
        cls,
        directory: Path | str,
        version: str | None = None,
        environ: Mapping[str, str] | None = None,
        version_origin: str = "--nself-version",
        compose_evidence: Callable[[Path], Generation | None] | None = None,
    ) -> NselfProject:
        """The project in ``directory``; ``version`` (0, 1 or auto, given as ``version_origin``)
        overrides the detected generation; ``environ`` (default: this process's) is where
        nself 1.x reads NSELF_LEGACY_ENV_ORDER; ``compose_evidence`` adds what the compose
        file's shape says to the detection (``context.open_project`` passes it)."""
        path = Path(directory).expanduser()
        if not path.exists():
            raise ProjectError(f"nself project directory {path} does not exist")
        if not path.is_dir():
            raise ProjectError(f"nself project {path} is not a directory")
        if not any((path / name).is_file() for name in _PROJECT_FILES):
            raise ProjectError(
                f"{path} holds no .env files ({', '.join(_PROJECT_FILES)}): "
                "not an nself project; run `nself init` there or pass --nself-project DIR"
            )
        resolved = path.resolve()
        forced = forced_generation(version, version_origin) if version else None
        generation = forced or detect_generation(resolved, compose_evidence)
        legacy = generation.is_1x and legacy_order(os.environ if environ is None else environ)
        return cls(resolved, generation, legacy)

    def _read(self, name: str) -> EnvFile | None:
        """The file (``name`` relative to the project), or None when there is none; one that is
        there but cannot be read (a directory, no permission) is an error, not silently left
        out of the cascade."""
        path = self.dir / name
        return read_env_file(path, name if "/" in name else None) if path.exists() else None

    def choose_envs(self, option: str | None, environ: Mapping[str, str]) -> EnvChoice:
        dot_env = self._read(".env")
        entry = dot_env.get("ENV") if dot_env else None
        return choose_envs(option, environ, entry.value if entry else None, self.dir, self.generation.major)

    def resolve(self, env: str) -> ResolvedEnv:
        resolved = ResolvedEnv(env, self.dir, [], order=self.env_order)
        for name in cascade_files(env, self.env_order):
            env_file = self._read(name)
            if env_file is not None:
                resolved.files.append(env_file.path)
                resolved.values.update(env_file.entries)
        return resolved

    def settings(self, env: str, overrides: Mapping[str, str] | None = None) -> RedisSettings:
        return settings_from_env(env, self.resolve(env).values, overrides)

    def runtime_disagreements(self, resolved: ResolvedEnv) -> list[RuntimeDisagreement]:
        """REDIS_* keys where what nself generated from the env files no longer matches them."""
        if self.generation.is_1x:
            return [found for name in GENERATED_1X for found in self._generated_disagreements(name, resolved)]
        runtime = self._read(RUNTIME_FILE)
        if runtime is None:
            return []
        keys = sorted(key for key in set(runtime.entries) | set(resolved.values) if key.startswith("REDIS_"))
        found = []
        for key in keys:
            in_runtime, in_cascade = runtime.get(key), resolved.values.get(key)
            runtime_value = in_runtime.value if in_runtime else None
            cascade_value = in_cascade.value if in_cascade else None
            if runtime_value != cascade_value:
                found.append(RuntimeDisagreement(key, in_runtime, in_cascade))
        return found

    def _generated_disagreements(self, name: str, resolved: ResolvedEnv) -> list[RuntimeDisagreement]:
        """Every REDIS_* value a 1.x generated file holds that the env files would give
        differently. Its other keys are derived (REDIS_URL, ...) and a setting the cascade does
        not set compares with its default: the generator writes defaults in."""
        generated = self._read(name)
        if generated is None:
            return []
        found = []
        for key in sorted(key for key in generated.entries if key.startswith("REDIS_")):
            in_generated, in_cascade = generated.entries[key], resolved.values.get(key)
            if in_cascade is not None:
                expected = in_cascade.value
            elif key in SETTING_DEFAULTS:
                expected = SETTING_DEFAULTS[key]
            else:
                continue
            if in_generated.value != expected:
                found.append(RuntimeDisagreement(key, in_generated, in_cascade, name))
        return found
