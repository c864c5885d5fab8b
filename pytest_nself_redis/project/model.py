"""An nself project on disk: its env files, the resolved env and the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.envfile import EnvEntry, EnvFile, read_env_file
from pytest_nself_redis.project.envs import EnvChoice, cascade_files, choose_envs
from pytest_nself_redis.project.settings import RedisSettings, settings_from_env
from pytest_nself_redis.secrets import Redactor, is_secret_name

_PROJECT_FILES = (".env", ".env.dev", ".env.local", ".env.staging", ".env.prod", ".env.secrets")


@dataclass(frozen=True)
class RuntimeDisagreement:
    """A REDIS_* key whose ``.env.runtime`` value differs from the cascade's."""

    key: str
    runtime: EnvEntry | None
    cascade: EnvEntry | None

    def describe(self) -> str:
        secret = is_secret_name(self.key)

        def show(entry: EnvEntry | None, where: str) -> str:
            if entry is None:
                return f"nothing ({where} does not set it)"
            return f"a value ({entry.source})" if secret else f"{entry.value!r} ({entry.source})"

        tail = "; compose uses .env.runtime until `nself start` writes it again"
        if secret and self.runtime is not None and self.cascade is not None:
            return (
                f"{self.key}: {self.runtime.source} and {self.cascade.source} hold different "
                f"values (not shown){tail}"
            )
        return (
            f"{self.key}: .env.runtime has {show(self.runtime, '.env.runtime')} "
            f"but the env files give {show(self.cascade, 'the cascade')}{tail}"
        )


@dataclass
class ResolvedEnv:
    """The merged values of one env's cascade, each with the file:line that set it."""

    name: str
    project_dir: Path
    files: list[Path]
    values: dict[str, EnvEntry] = field(default_factory=dict)

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
    """A directory with nself env files."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @classmethod
    def open(cls, directory: Path | str) -> NselfProject:
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
        return cls(path.resolve())

    def _read(self, name: str) -> EnvFile | None:
        """The file, or None when there is none; one that is there but cannot be read (a
        directory, no permission) is an error, not silently left out of the cascade."""
        path = self.dir / name
        return read_env_file(path) if path.exists() else None

    def choose_envs(self, option: str | None, environ: Mapping[str, str]) -> EnvChoice:
        dot_env = self._read(".env")
        entry = dot_env.get("ENV") if dot_env else None
        return choose_envs(option, environ, entry.value if entry else None, self.dir)

    def resolve(self, env: str) -> ResolvedEnv:
        resolved = ResolvedEnv(env, self.dir, [])
        for name in cascade_files(env):
            env_file = self._read(name)
            if env_file is not None:
                resolved.files.append(env_file.path)
                resolved.values.update(env_file.entries)
        return resolved

    def settings(self, env: str, overrides: Mapping[str, str] | None = None) -> RedisSettings:
        return settings_from_env(env, self.resolve(env).values, overrides)

    def runtime_disagreements(self, resolved: ResolvedEnv) -> list[RuntimeDisagreement]:
        runtime = self._read(".env.runtime")
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
