"""What to change when a promise is broken, as data: the layer, the exact edit, and how much
it matters.

A check that knows why a promise broke says what closes it: ``layers`` (which compares the
contract, the deployment and the live server) makes the remedies of the config promises,
and a check that names its setting makes an env-file edit. ``CheckResult.remedy`` carries it
to every report: the terminal summary, the HTML verdict, doctor's JSON and GitHub formats.
A remedy never holds a secret: a password is named by its setting, never written.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.project.provenance import shown_name
from pytest_nself_redis.project.settings import Setting
from pytest_nself_redis.secrets import is_secret_name

# The command that writes the compose override closing the deployment's gaps.
FIX_COMMAND = "nself-redis fix --env {env}"
# The prefix of a remedy's fields among a test's JUnit properties.
PROPERTY = "remedy."
# A compose reference (``${REDIS_PASSWORD}``), written as it is in a command.
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


class Layer(StrEnum):
    """Where the change goes."""

    ENV = "env"  # the env files: the contract itself must change
    DEPLOYMENT = "deployment"  # the compose service
    SERVER = "server"  # the running server (CONFIG SET, a restart)
    HOST = "host"  # the machine or container host (kernel settings, limits)


class Consequence(StrEnum):
    """What the broken promise costs; the reports fix the worst first (declaration order)."""

    DATA_LOSS = "data loss"
    SECURITY = "security"
    AVAILABILITY = "availability"
    TUNING = "tuning"

    @property
    def rank(self) -> int:
        return list(Consequence).index(self)


@dataclass(frozen=True)
class Remedy:
    """``edit`` is the exact change, in one line (``.env.staging:3: REDIS_MAXMEMORY=512mb``);
    ``where`` the file (and line) it goes in, when there is one; ``fixed_by`` the command
    that applies it (``nself-redis fix --env staging``), when one does."""

    layer: Layer
    edit: str
    consequence: Consequence
    where: str | None = None
    fixed_by: str | None = None

    def line(self) -> str:
        """``deployment: add --maxmemory 512mb ... (nself-redis fix --env staging writes it)``."""
        applied = f" ({self.fixed_by} writes it)" if self.fixed_by else ""
        return f"{self.layer.value}: {self.edit}{applied}"

    def to_json(self) -> dict[str, str | None]:
        return {
            "layer": self.layer.value,
            "consequence": self.consequence.value,
            "edit": self.edit,
            "where": self.where,
            "fixed_by": self.fixed_by,
        }

    def properties(self) -> dict[str, str]:
        """The fields as flat text properties (JUnit, pytest's ``user_properties``)."""
        return {f"{PROPERTY}{key}": value for key, value in self.to_json().items() if value is not None}

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> Remedy | None:
        """The remedy ``properties`` wrote, or None when they hold none (or not a valid one)."""
        fields = {
            key.removeprefix(PROPERTY): str(value)
            for key, value in properties.items()
            if key.startswith(PROPERTY)
        }
        try:
            return cls(
                Layer(fields["layer"]),
                fields["edit"],
                Consequence(fields["consequence"]),
                fields.get("where"),
                fields.get("fixed_by"),
            )
        except (KeyError, ValueError):
            return None


def fix_command(env: str) -> str:
    return FIX_COMMAND.format(env=env)


def proposed_override(context: EnvContext, tool: str) -> tuple[str, str] | None:
    """(file, text) of the override ``nself-redis fix`` writes for the env (``tool`` signs it),
    as the reports show it; None when the deployment is not read from a compose file."""
    service = context.service
    if service.origin != "compose" or service.compose_file is None:
        return None
    # Imported here: rendering a service is only needed when there is something to fix, and
    # every check result module imports this one (doctor's start-up pays for what it imports).
    from pytest_nself_redis.compose.override import override_path, plan_override

    text = plan_override(context.settings, service).text(tool)
    return shown_name(override_path(service.compose_file), context.project.dir), context.redactor.scrub(text)


def env_file_of(env: str) -> str:
    """The env's own file, where a setting no file sets yet is added."""
    return f".env.{env}"


def set_setting(setting: Setting[Any], value: str, consequence: Consequence, env: str) -> Remedy:
    """Change (or add) one setting in the env files: ``.env.staging:3: REDIS_MAXMEMORY=512mb``.
    A secret's value is never given: ask for a new one instead (``new_secret``)."""
    if is_secret_name(setting.key):
        raise ValueError(f"{setting.key} is a secret: a remedy names it, never its value")
    if setting.is_set:
        return Remedy(Layer.ENV, f"{setting.source}: {setting.key}={value}", consequence, str(setting.source))
    where = env_file_of(env)
    return Remedy(Layer.ENV, f"{where}: add {setting.key}={value}", consequence, where)


def either(first: Remedy, second: Remedy) -> Remedy:
    """One remedy offering two edits of the same layer (``A, or B``)."""
    return Remedy(first.layer, f"{first.edit}, or {second.edit}", first.consequence, first.where)


def new_secret(setting: Setting[Any], consequence: Consequence, why: str) -> Remedy:
    """A new value for a secret, kept in ``.env.secrets`` (never written here)."""
    where = ".env.secrets"
    return Remedy(
        Layer.ENV,
        f"{where}: {setting.key}=<a new random value of 32 or more characters, e.g. from "
        f"`openssl rand -base64 32`> ({why})",
        consequence,
        where,
    )


def add_flags(
    service: RedisService,
    words: Sequence[str],
    consequence: Consequence,
    env: str,
    replacing: str | None = None,
) -> Remedy:
    """Flags the redis command must carry; ``replacing`` what it sets instead. Applied by
    ``nself-redis fix``, whose compose override gives the command every promised flag."""
    flags = " ".join(word if _REFERENCE.fullmatch(word) else shlex.quote(word) for word in words)
    where = str(service.command_source)
    change = f"set {flags} instead of {replacing} in" if replacing else f"add {flags} to"
    return Remedy(
        Layer.DEPLOYMENT,
        f"{change} the redis command ({where})",
        consequence,
        where,
        fix_command(env),
    )


def deployment(edit: str, consequence: Consequence, where: str | None, env: str | None = None) -> Remedy:
    """A change to the compose service; with ``env``, one ``nself-redis fix`` writes."""
    return Remedy(Layer.DEPLOYMENT, edit, consequence, where, fix_command(env) if env else None)


def server(edit: str, consequence: Consequence) -> Remedy:
    return Remedy(Layer.SERVER, edit, consequence)


def host(edit: str, consequence: Consequence) -> Remedy:
    return Remedy(Layer.HOST, edit, consequence)
