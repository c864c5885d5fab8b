"""Everything known about one env of a project before anything is launched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_nself_redis.compose.render import render_service
from pytest_nself_redis.compose.service import (
    COMPOSE_FILE_NAMES,
    RedisService,
    find_compose_file,
    load_compose_service,
)
from pytest_nself_redis.errors import ComposeError, ProjectError
from pytest_nself_redis.project.model import NselfProject, ResolvedEnv, RuntimeDisagreement
from pytest_nself_redis.project.settings import RedisSettings, settings_from_env
from pytest_nself_redis.secrets import Redactor

COMPOSE_MODES = ("auto", "file", "render")


@dataclass(frozen=True)
class EnvContext:
    project: NselfProject
    resolved: ResolvedEnv
    settings: RedisSettings
    service: RedisService
    runtime_disagreements: tuple[RuntimeDisagreement, ...]
    redactor: Redactor

    @property
    def name(self) -> str:
        return self.resolved.name


def load_env_context(
    project: NselfProject,
    env: str,
    compose_mode: str = "auto",
    overrides: Mapping[str, str] | None = None,
    require_enabled: bool = True,
) -> EnvContext:
    """Resolve one env: settings (contract) and service (deployment).

    ``overrides`` replace settings for variant targets; the service is then
    rendered from the overridden settings, since a compose file cannot follow them.
    """
    resolved = project.resolve(env)
    settings = settings_from_env(env, resolved.values, overrides)
    if require_enabled and not settings.enabled.value:
        raise ProjectError(
            f"REDIS_ENABLED is not true for env {env} ({settings.enabled.cite()}): "
            "this project runs no Redis, so there is nothing to check; set REDIS_ENABLED=true"
        )
    variables = resolved.compose_variables()
    if overrides:
        variables.update(overrides)
    redactor = resolved.secrets()
    redactor.add(settings.password.value)
    compose_file = find_compose_file(project.dir)
    if compose_mode == "file" and compose_file is None:
        raise ProjectError(
            f"{project.dir} has no compose file (looked for {', '.join(COMPOSE_FILE_NAMES)}); "
            "--nself-compose file needs one: run `nself build` there, or use --nself-compose render"
        )
    if compose_mode == "render" or compose_file is None or overrides:
        service = render_service(settings, variables)
    else:
        try:
            service = load_compose_service(compose_file, variables)
        except ComposeError as error:
            # The file may hold a secret of the env as a literal, next to what is wrong.
            raise type(error)(redactor.scrub(error.message)) from None
    return EnvContext(
        project=project,
        resolved=resolved,
        settings=settings,
        service=service,
        runtime_disagreements=tuple(project.runtime_disagreements(resolved)),
        redactor=redactor,
    )
