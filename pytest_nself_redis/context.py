"""Everything known about one env of a project before anything is launched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from pytest_nself_redis.compose.files import ComposeFiles, named_files, project_files
from pytest_nself_redis.compose.names import COMPOSE_FILE_NAMES
from pytest_nself_redis.compose.render import render_service
from pytest_nself_redis.compose.runtime import ComposeValue, parse_limit_size
from pytest_nself_redis.compose.service import RedisService, load_compose_service
from pytest_nself_redis.compose.shape import compose_generation
from pytest_nself_redis.errors import ComposeError, ProjectError
from pytest_nself_redis.project.generation import Generation
from pytest_nself_redis.project.model import NselfProject, ResolvedEnv, RuntimeDisagreement
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import RedisSettings, Setting, settings_from_env
from pytest_nself_redis.secrets import PASSWORD_VARIABLES, Redactor, Secret

# Values of --nself-compose besides a comma list of files.
COMPOSE_MODES = ("auto", "file", "render")
# A setting that only sizes the container: a variant overriding nothing else keeps the
# deployment's own service (the docker target applies the limit), so it runs the same command.
CONTAINER_MEMORY = "REDIS_MEMORY"
VARIANT_LIMIT = Source.default("variant override")


@dataclass(frozen=True)
class EnvContext:
    project: NselfProject
    resolved: ResolvedEnv
    settings: RedisSettings
    service: RedisService
    runtime_disagreements: tuple[RuntimeDisagreement, ...]
    redactor: Redactor
    # The environment variable REDIS_PASSWORD came from (attach only), or None: the env files.
    password_variable: str | None = None
    # The compose files the service was read from (None: rendered, or there are none).
    compose_files: ComposeFiles | None = None

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def generation(self) -> Generation:
        """nself 0.9.x or 1.x, with the evidence (``str()`` is the report's form)."""
        return self.project.generation


def open_project(
    directory: Path | str,
    version: str | None = None,
    environ: Mapping[str, str] | None = None,
    version_origin: str = "--nself-version",
) -> NselfProject:
    """The project, its generation detected from its files and its compose file's shape
    (``--nself-version``, given as ``version_origin``, overrides it)."""
    return NselfProject.open(directory, version, environ, version_origin, compose_generation)


def _compose_files(project: NselfProject, compose_mode: str) -> tuple[str, ComposeFiles | None]:
    """The mode (auto, file, render) and the files: a value that is not a mode is a comma
    list of files, read in that order."""
    mode = compose_mode.strip()
    if mode not in COMPOSE_MODES:
        return "file", named_files(project.dir, mode)
    if mode == "render":
        return mode, None
    return mode, project_files(project.dir, use_list=project.generation.is_1x)


def load_env_context(
    project: NselfProject,
    env: str,
    compose_mode: str = "auto",
    overrides: Mapping[str, str] | None = None,
    require_enabled: bool = True,
) -> EnvContext:
    """Resolve one env: settings (contract) and service (deployment).

    ``compose_mode`` is auto, file, render or a comma list of compose files. ``overrides``
    replace settings for variant targets; the service is then rendered from the overridden
    settings, since a compose file cannot follow them, except when only ``REDIS_MEMORY`` is
    overridden: the deployment's service runs as it is, in a container of that size.
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
    try:
        mode, files = _compose_files(project, compose_mode)
        if mode == "file" and files is None:
            raise ProjectError(
                f"{project.dir} has no compose file (looked for {', '.join(COMPOSE_FILE_NAMES)}); "
                "--nself-compose file needs one: run `nself build` there, or use --nself-compose render"
            )
        if files is None or (overrides and set(overrides) != {CONTAINER_MEMORY}):
            service = render_service(settings, variables, project.generation.is_1x)
        else:
            service = load_compose_service(files.paths, variables, files.names)
        if overrides and CONTAINER_MEMORY in overrides:
            service = _sized(service, overrides[CONTAINER_MEMORY])
    except ComposeError as error:
        # The file may hold a secret of the env as a literal, next to what is wrong.
        raise type(error)(redactor.scrub(error.message)) from None
    for value in service.secret_values():
        redactor.add(value)
    return EnvContext(
        project=project,
        resolved=resolved,
        settings=settings,
        service=service,
        runtime_disagreements=tuple(project.runtime_disagreements(resolved)),
        redactor=redactor,
        compose_files=files if service.origin == "compose" else None,
    )


def _sized(service: RedisService, text: str) -> RedisService:
    """``service`` in a container limited to ``text`` (a variant's ``REDIS_MEMORY``)."""
    try:
        limit = ComposeValue(parse_limit_size(text), text, VARIANT_LIMIT)
    except ValueError as problem:
        raise ProjectError(f"{CONTAINER_MEMORY}={text} (variant override): {problem}") from None
    return replace(service, runtime=service.runtime.with_memory(limit))


def with_password_from_environment(context: EnvContext, environ: Mapping[str, str]) -> EnvContext:
    """For a running server: $NSELF_REDIS_PASSWORD (else $REDISCLI_AUTH) overrides the env
    files' REDIS_PASSWORD, so the password need not be on a command line; messages cite it."""
    for name in PASSWORD_VARIABLES:
        value = environ.get(name)
        if value:
            secret = Secret(value)
            context.redactor.add(secret)
            password = Setting(
                "REDIS_PASSWORD", secret, value, Source.default(f"environment variable {name}")
            )
            settings = replace(context.settings, password=password)
            return replace(context, settings=settings, password_variable=name)
    return context
