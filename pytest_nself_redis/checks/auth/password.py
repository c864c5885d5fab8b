"""auth, the password itself: set, not one nself rejects, long enough for the env."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pytest_nself_redis.checks.auth.base import needs_password, password_of
from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, verdict, warning
from pytest_nself_redis.remedy import Consequence, new_secret

# nself refuses these as REDIS_PASSWORD (exact value, any case). Never put
# this list in a message: when the password IS one of them, the message would hold it.
REJECTED_PASSWORDS = frozenset({"password", "changeme", "secret", "admin", "12345", "qwerty", "default"})
# Minimum password length per env; REDIS_PASSWORD_MIN_LENGTH_<ENV> in the process
# environment overrides one. Env names without an entry use dev's (their cascade is dev's).
DEFAULT_MIN_LENGTH = {"dev": 8, "staging": 16, "prod": 20}
MIN_LENGTH_VARIABLE = "REDIS_PASSWORD_MIN_LENGTH_{}"


@check("auth.password_set", safe=True)
def password_is_set(context: CheckContext) -> Outcome:
    """a password is required (dev may go without, with a warning)"""
    setting = context.settings.password
    env = context.settings.env
    if password_of(context):
        return ok(
            f"Promise: clients must authenticate. Kept: {setting.cite()} is set", str(setting.source), True
        )
    message = (
        f"Promise: clients must authenticate. Seen: no password for env {env} ({setting.cite()}): "
        "anyone who reaches the port can read and write everything"
    )
    if env == "dev":
        return warning(
            message + "; nself builds dev without a password only with --allow-insecure",
            str(setting.source),
            False,
            new_secret(setting, Consequence.SECURITY, "no password"),
        )
    return error(
        message + f"; nself build refuses an empty password outside dev: set REDIS_PASSWORD for {env}",
        str(setting.source),
        False,
        new_secret(setting, Consequence.SECURITY, "no password"),
    )


@check("auth.password_not_rejected", safe=True)
@needs_password
def password_is_not_rejected(context: CheckContext) -> Outcome:
    """the password is not one nself rejects as insecure"""
    setting = context.settings.password
    rejected = password_of(context).lower() in REJECTED_PASSWORDS
    head = (
        f"Promise: the password is not one of the {len(REJECTED_PASSWORDS)} values nself rejects as "
        "insecure (compared whole and case-insensitively)."
    )
    seen = (
        f"Broken: {setting.cite()} is one of them; nself build refuses it: choose a random password"
        if rejected
        else f"Kept: {setting.cite()} is none of them"
    )
    why = "nself rejects the one set"
    return verdict(
        not rejected,
        f"{head} {seen}",
        str(setting.source),
        remedy=new_secret(setting, Consequence.SECURITY, why),
    )


def minimum_length(env: str, environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """The minimum for ``env`` and where it comes from; ValueError for a bad override."""
    environ = os.environ if environ is None else environ
    variable = MIN_LENGTH_VARIABLE.format(env.upper().replace("-", "_"))
    raw = environ.get(variable, "").strip()
    if not raw and env not in DEFAULT_MIN_LENGTH:
        variable = MIN_LENGTH_VARIABLE.format("DEV")
        raw = environ.get(variable, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{variable}={raw!r} (environment) is not a whole number >= 1")
        return int(raw), f"{variable}={raw} from the environment"
    default_env = env if env in DEFAULT_MIN_LENGTH else "dev"
    how = f"the {default_env} default" + ("" if env == default_env else f" (env {env} uses dev's)")
    return DEFAULT_MIN_LENGTH[default_env], f"{how}; {variable} overrides it"


@check("auth.password_long_enough", safe=True)
@needs_password
def password_is_long_enough(context: CheckContext) -> Outcome:
    """the password is long enough for the env (dev 8, staging 16, prod 20)"""
    setting, env = context.settings.password, context.settings.env
    try:
        minimum, origin = minimum_length(env)
    except ValueError as problem:
        return error(f"cannot check the password length: {problem}")
    length = len(password_of(context))
    head = f"Promise: {env} passwords have at least {minimum} characters ({origin})."
    kept = length >= minimum
    return verdict(
        kept,
        f"{head} {'Kept' if kept else 'Broken'}: {setting.cite()} has {length} characters",
        str(setting.source),
        {"length": length, "minimum": minimum},
        new_secret(setting, Consequence.SECURITY, f"at least {minimum} characters for {env}"),
    )
