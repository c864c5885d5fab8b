"""auth: only clients with the password get in, and the deployment does not leak it.

Server promises (NOAUTH, WRONGPASS, the right password, the URL form, oversized
unauthenticated requests) are probed on connections of their own; deployment
promises (no literal password, loopback-only port, protected mode, healthcheck)
are read from the compose service; password strength from the settings. None of
them writes; all but the oversized request are safe for ``doctor`` (that one runs
only where the server refuses an unauthenticated PING). No message ever holds a password.

Without REDIS_PASSWORD the checks that need one are skipped (the reason names
the setting) and ``auth.password_set`` reports the missing password: a warning
in dev (nself builds dev without one with ``--allow-insecure``), an error in
every other env.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
from collections.abc import Mapping, Sequence
from urllib.parse import quote

import redis

from pytest_nself_redis.checks.base import (
    CheckContext,
    CheckResult,
    check,
    error,
    ok,
    skipped,
    verdict,
    warning,
)
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.compose.yaml_lines import LineDict, load_yaml_with_lines
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.live.refusals import explain
from pytest_nself_redis.live.resp import CLOSED, TIMED_OUT, encode, exchange, read_reply_line
from pytest_nself_redis.secrets import is_secret_name

# nself refuses these as REDIS_PASSWORD (exact value, any case). Never put
# this list in a message: when the password IS one of them, the message would hold it.
REJECTED_PASSWORDS = frozenset({"password", "changeme", "secret", "admin", "12345", "qwerty", "default"})
# Minimum password length per env; REDIS_PASSWORD_MIN_LENGTH_<ENV> in the process
# environment overrides one. Env names without an entry use dev's (their cascade is dev's).
DEFAULT_MIN_LENGTH = {"dev": 8, "staging": 16, "prod": 20}
MIN_LENGTH_VARIABLE = "REDIS_PASSWORD_MIN_LENGTH_{}"
# How long an unauthenticated 100 MB request header may stay unanswered before we call it
# accepted: Redis refuses it at once, so this only bounds the broken case.
REFUSAL_WAIT = 2.0
OVERSIZED_REQUEST = (b"*100\r\n", b"$100000000\r\n")
# Characters that change a URL's meaning inside its userinfo: a password holding one must be
# percent-encoded, which nself's monitoring bundle does not do (docs/nself.md).
URL_RESERVED = frozenset("@:/?#[]%\\ \t")
# Below this length a verbatim search of the compose file would match ordinary words.
VERBATIM_MIN = 8
_REFERENCE = re.compile(r"\$+\{?[A-Za-z_]")
# ${VAR:-fallback} / ${VAR-fallback}: a reference that still writes a password into the file.
_FALLBACK = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-[^}]+\}")
_PASSWORD_FLAGS = {"--requirepass", "--masterauth"}


# -- shared helpers ----------------------------------------------------------------


def _password(context: CheckContext) -> str:
    return context.settings.password.value.reveal()


def _needs_password(check_id: str, context: CheckContext) -> CheckResult | None:
    """Skip (with the reason) the checks that need a promised password when there is none."""
    if _password(context):
        return None
    setting = context.settings.password
    return skipped(
        check_id,
        f"no password is promised ({setting.cite()}), so there is no authentication to probe; "
        "auth.password_set reports the missing password",
        str(setting.source),
    )


def _address(context: CheckContext) -> ServerAddress:
    return ServerAddress.of(context.client)


def _probe(address: ServerAddress, *commands: bytes) -> list[str]:
    try:
        return exchange(address, *commands)
    except OSError as problem:
        return [f"(connect failed: {problem.strerror or problem})"]


def _unauthenticated_ping(context: CheckContext) -> str:
    return _probe(_address(context), encode("PING"))[0]


def _cite_password(context: CheckContext) -> str:
    return context.settings.password.cite()


# -- the server's side -------------------------------------------------------------


@check("auth.noauth", safe=True)
def noauth_before_auth(context: CheckContext) -> CheckResult:
    """a command before AUTH gets NOAUTH"""
    skip = _needs_password("auth.noauth", context)
    if skip is not None:
        return skip
    address = _address(context)
    reply = _probe(address, encode("PING"))[0]
    head = f"Promise: a client that has not authenticated gets NOAUTH ({_cite_password(context)})."
    seen = f"Seen: an unauthenticated PING on {address.where()} got {reply}"
    if reply.startswith("+PONG"):
        seen += ": the server requires no password" + _requirepass_cause(context)
    return verdict("auth.noauth", reply.startswith("-NOAUTH"), f"{head} {seen}", _source(context), reply)


def _requirepass_cause(context: CheckContext) -> str:
    service = context.service
    if service.args.value("requirepass") in (None, ""):
        return f"; {service.describe()} sets no --requirepass ({service.command_source})"
    return "; the deployment sets --requirepass, so the running server departs from it"


def _source(context: CheckContext) -> str:
    return str(context.settings.password.source)


@check("auth.wrongpass", safe=True)
def wrong_password_is_refused(context: CheckContext) -> CheckResult:
    """a wrong password gets WRONGPASS"""
    skip = _needs_password("auth.wrongpass", context)
    if skip is not None:
        return skip
    address = _address(context)
    wrong = "nself-harness-wrong-" + secrets.token_hex(8)
    replies = _probe(address, encode("AUTH", wrong), encode("PING"))
    head = f"Promise: a wrong password gets WRONGPASS ({_cite_password(context)})."
    seen = f"Seen: AUTH with a wrong password on {address.where()} got {replies[0]}"
    if len(replies) > 1:
        seen += f", then PING got {replies[1]}"
    kept = replies[0].startswith("-WRONGPASS") and not any(reply.startswith("+PONG") for reply in replies)
    if replies[0].startswith("-ERR AUTH"):
        seen += ": the server has no password" + _requirepass_cause(context)
    return verdict("auth.wrongpass", kept, f"{head} {seen}", _source(context), replies)


@check("auth.right_password", safe=True)
def right_password_works(context: CheckContext) -> CheckResult:
    """REDIS_PASSWORD authenticates"""
    skip = _needs_password("auth.right_password", context)
    if skip is not None:
        return skip
    address = _address(context)
    replies = _probe(address, encode("AUTH", _password(context)), encode("PING"))
    head = f"Promise: the password of the settings authenticates ({_cite_password(context)})."
    shown = ", then PING got ".join(replies)
    seen = f"Seen: AUTH on {address.where()} got {shown}"
    if replies[0].startswith("-WRONGPASS"):
        seen += (
            ": the server requires a different password than REDIS_PASSWORD (a literal in the "
            "compose file, or a stale .env.runtime?)"
        )
    elif replies[0].startswith("-ERR AUTH"):
        seen += ": the server has no password" + _requirepass_cause(context)
    kept = replies[:2] == ["+OK", "+PONG"]
    return verdict("auth.right_password", kept, f"{head} {seen}", _source(context), replies)


def password_url(address: ServerAddress, password: str) -> str:
    """``redis[s]://:PASSWORD@host:port/0`` with the password percent-encoded, as clients need it."""
    scheme = "rediss" if address.tls else "redis"
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"{scheme}://:{quote(password, safe='')}@{host}:{address.port}/0"


@check("auth.url_form", safe=True)
def url_form_works(context: CheckContext) -> CheckResult:
    """redis://:PASSWORD@host:port (URL-encoded) authenticates"""
    skip = _needs_password("auth.url_form", context)
    if skip is not None:
        return skip
    address = _address(context)
    password = _password(context)
    # The run's TLS policy: verified unless the user passed the insecure option.
    options = address.client_options()
    encoded = password != quote(password, safe="")
    scheme = "rediss" if address.tls else "redis"
    form = f"{scheme}://:{'<url-encoded password>' if encoded else '<password>'}@{address.where()}/0"
    head = f"Promise: clients reach Redis through the URL form {form} ({_cite_password(context)})."
    client = redis.Redis.from_url(password_url(address, password), **options)
    try:
        answered = client.ping()
        seen = "PONG" if answered is True else repr(answered)
    except redis.RedisError as problem:
        answered, seen = False, f"{type(problem).__name__}: {problem}"
    finally:
        client.close()
    if answered is not True:
        return error("auth.url_form", f"{head} Broken: PING through it got {seen}", _source(context), seen)
    reserved = sorted(set(password) & URL_RESERVED)
    if reserved:
        return warning(
            "auth.url_form",
            f"{head} Kept: PING through it got PONG. But the password holds {len(reserved)} kind(s) of "
            "character that must be percent-encoded in a URL, and nself's monitoring bundle writes "
            "redis://:${REDIS_PASSWORD}@redis:6379 unencoded (redis_exporter then fails to "
            "authenticate or to parse the URL); choose a password of letters, digits, - and _",
            _source(context),
            {"ping": seen, "needs_encoding": True},
        )
    return ok("auth.url_form", f"{head} Kept: PING through it got PONG", _source(context), {"ping": seen})


# Not for doctor: on a server that (wrongly) takes requests without a password the header makes
# it reserve 100 MB; the check sends it only after the server has refused an unauthenticated PING.
@check("auth.oversized_multibulk", safe=False)
def oversized_unauthenticated_request_is_refused(context: CheckContext) -> CheckResult:
    """an unauthenticated *100 / $100000000 request is refused"""
    skip = _needs_password("auth.oversized_multibulk", context)
    if skip is not None:
        return skip
    address = _address(context)
    ping = _probe(address, encode("PING"))[0]
    if not ping.startswith("-NOAUTH"):
        return skipped(
            "auth.oversized_multibulk",
            f"not probed: the server requires no password (an unauthenticated PING got {ping}), so a "
            "100 MB request header would make it reserve the memory; auth.noauth reports the missing "
            "password",
            _source(context),
        )
    head = (
        "Promise: a client that has not authenticated cannot make the server reserve memory for a "
        "huge request (*100 then $100000000 is refused or the connection closed)."
    )
    try:
        with address.open_socket() as sock:
            sent = 0
            for part in OVERSIZED_REQUEST:
                try:
                    sock.sendall(part)
                    sent += 1
                except OSError:
                    break  # refused and closed after the first line already
            reply = read_reply_line(sock, min(REFUSAL_WAIT, address.timeout))
            after = read_reply_line(sock, min(REFUSAL_WAIT, address.timeout)) if reply.startswith("-") else ""
    except OSError as problem:
        reply, after = f"(connect failed: {problem.strerror or problem})", ""
    if reply.startswith("(connect failed"):
        return error(
            "auth.oversized_multibulk", f"{head} Not checked: {address.where()} {reply}", _source(context)
        )
    closed = any(line == CLOSED or line.startswith("(connection reset") for line in (reply, after))
    refused = reply.startswith("-") or closed
    measured = {"reply": reply, "closed": closed}
    if refused:
        closing = "; the server then closed the connection" if closed else ""
        return ok(
            "auth.oversized_multibulk",
            f"{head} Kept: on {address.where()} the header got {reply}{closing}",
            _source(context),
            measured,
        )
    waited = f"no reply within {min(REFUSAL_WAIT, address.timeout):.1f} s" if reply == TIMED_OUT else reply
    return error(
        "auth.oversized_multibulk",
        f"{head} Broken: on {address.where()} the unauthenticated header got {waited}: the server accepted "
        "it and waits for the 100 MB body, so it does not require a password" + _requirepass_cause(context),
        _source(context),
        measured,
    )


@check("auth.acl_nopass", safe=True)
def no_acl_user_without_a_password(context: CheckContext) -> CheckResult:
    """no enabled ACL user gets in without a password"""
    head = (
        "Promise: there is no second way in: no enabled ACL user besides the default one is nopass "
        "(ACL LIST)."
    )
    try:
        rules: list[str] = [str(line) for line in context.client.acl_list()]
    except redis.RedisError as problem:
        return skipped(
            "auth.acl_nopass",
            f"ACL LIST is not allowed here ({explain(problem)}), so the server's users cannot be checked",
            _source(context),
        )
    users = [line.split() for line in rules if line.startswith("user ")]
    open_users = [words[1] for words in users if "on" in words[2:] and "nopass" in words[2:]]
    note = ""
    if "default" in open_users:
        # The first way in: auth.noauth probes it, auth.password_set judges the promise.
        open_users.remove("default")
        note = "; the default user takes no password (auth.noauth and auth.password_set report that)"
    if open_users:
        named = ", ".join(open_users)
        return error(
            "auth.acl_nopass",
            f"{head} Broken: ACL user{'s' if len(open_users) > 1 else ''} {named} "
            f"{'are' if len(open_users) > 1 else 'is'} enabled with nopass: anyone who reaches the port "
            f"gets in with AUTH {open_users[0]} <anything>{note}. Give each a password (ACL SETUSER "
            f"{open_users[0]} resetpass >...) or turn it off (ACL SETUSER {open_users[0]} off), and in "
            "the ACL file if the server loads one",
            _source(context),
            open_users,
        )
    return ok(
        "auth.acl_nopass",
        f"{head} Kept: {len(users)} ACL user{'s' if len(users) != 1 else ''}, none enabled with nopass{note}",
        _source(context),
        [],
    )


# -- the password itself -----------------------------------------------------------


@check("auth.password_set", safe=True)
def password_is_set(context: CheckContext) -> CheckResult:
    """a password is required (dev may go without, with a warning)"""
    setting = context.settings.password
    env = context.settings.env
    if _password(context):
        return ok(
            "auth.password_set",
            f"Promise: clients must authenticate. Kept: {setting.cite()} is set",
            str(setting.source),
            True,
        )
    message = (
        f"Promise: clients must authenticate. Seen: no password for env {env} ({setting.cite()}): "
        "anyone who reaches the port can read and write everything"
    )
    if env == "dev":
        return warning(
            "auth.password_set",
            message + "; nself builds dev without a password only with --allow-insecure",
            str(setting.source),
            False,
        )
    return error(
        "auth.password_set",
        message + f"; nself build refuses an empty password outside dev: set REDIS_PASSWORD for {env}",
        str(setting.source),
        False,
    )


@check("auth.password_not_rejected", safe=True)
def password_is_not_rejected(context: CheckContext) -> CheckResult:
    """the password is not one nself rejects as insecure"""
    skip = _needs_password("auth.password_not_rejected", context)
    if skip is not None:
        return skip
    setting = context.settings.password
    rejected = _password(context).lower() in REJECTED_PASSWORDS
    head = (
        f"Promise: the password is not one of the {len(REJECTED_PASSWORDS)} values nself rejects as "
        "insecure (compared whole and case-insensitively)."
    )
    seen = (
        f"Broken: {setting.cite()} is one of them; nself build refuses it: choose a random password"
        if rejected
        else f"Kept: {setting.cite()} is none of them"
    )
    return verdict("auth.password_not_rejected", not rejected, f"{head} {seen}", str(setting.source))


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
def password_is_long_enough(context: CheckContext) -> CheckResult:
    """the password is long enough for the env (dev 8, staging 16, prod 20)"""
    skip = _needs_password("auth.password_long_enough", context)
    if skip is not None:
        return skip
    setting, env = context.settings.password, context.settings.env
    try:
        minimum, origin = minimum_length(env)
    except ValueError as problem:
        return error("auth.password_long_enough", f"cannot check the password length: {problem}")
    length = len(_password(context))
    head = f"Promise: {env} passwords have at least {minimum} characters ({origin})."
    seen = f"{setting.cite()} has {length} characters"
    kept = length >= minimum
    return verdict(
        "auth.password_long_enough",
        kept,
        f"{head} {'Kept' if kept else 'Broken'}: {seen}",
        str(setting.source),
        {"length": length, "minimum": minimum},
    )


# -- the deployment ----------------------------------------------------------------


def literal_kind(value: str) -> str | None:
    """How a password value is written out: None for a pure reference (``${REDIS_PASSWORD}``,
    ``$REDIS_PASSWORD``, ``$$REDIS_PASSWORD`` for the shell) or an empty value."""
    if not value:
        return None
    if not _REFERENCE.search(value):
        return "a literal value"
    if _FALLBACK.search(value):
        return "a literal fallback (${VAR:-value})"
    return None


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _literal_flags(words: Sequence[str]) -> list[str]:
    """Password-carrying options whose value is written out, e.g. ``--requirepass a literal value``."""
    found = []
    for index, word in enumerate(words):
        lowered = word.lower()
        value = words[index + 1] if index + 1 < len(words) else ""
        if lowered in _PASSWORD_FLAGS | {"-a", "--pass"} and (kind := literal_kind(value)):
            found.append(f"{lowered} {kind}")
        elif "=" in word:
            name, _, assigned = word.partition("=")
            if (is_secret_name(name) or name == "REDISCLI_AUTH") and (kind := literal_kind(assigned)):
                found.append(f"{name}= {kind}")
    return found


def _raw_environment(service: RedisService) -> list[tuple[str, str, int]]:
    """(name, raw value, line) of the redis service's environment, before interpolation."""
    if service.compose_file is None:
        return []
    try:
        document = load_yaml_with_lines(service.compose_file)
    except ComposeError:
        return []
    redis_service = (document.get("services") or {}).get("redis") if isinstance(document, dict) else None
    if not isinstance(redis_service, LineDict):
        return []
    raw = redis_service.get("environment")
    line = redis_service.line_of("environment")
    if isinstance(raw, dict):
        lines = raw.lines if isinstance(raw, LineDict) else {}
        return [
            (str(key), "" if value is None else str(value), lines.get(key, line))
            for key, value in raw.items()
        ]
    if isinstance(raw, list):
        item_lines = getattr(raw, "lines", [line] * len(raw))
        return [
            (str(item).partition("=")[0], str(item).partition("=")[2], item_line)
            for item, item_line in zip(raw, item_lines, strict=True)
        ]
    return []


def literal_password_findings(service: RedisService, password: str) -> list[str]:
    """Where the compose file writes a password out instead of referencing ${REDIS_PASSWORD}."""
    findings = []
    for flag in _literal_flags(_words(service.raw_command)):
        findings.append(f"the command ({service.command_source}) gives {flag}")
    if service.raw_healthcheck is not None:
        for flag in _literal_flags(_words(service.raw_healthcheck)):
            findings.append(f"the healthcheck ({service.healthcheck_source}) gives {flag}")
    name = service.compose_file.name if service.compose_file else "the compose file"
    for key, value, line in _raw_environment(service):
        if (is_secret_name(key) or key == "REDISCLI_AUTH") and (kind := literal_kind(value)):
            findings.append(f"the environment sets {key} to {kind} ({name}:{line})")
    if service.compose_file is not None and len(password) >= VERBATIM_MIN:
        try:
            text = service.compose_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        lines = [number for number, line in enumerate(text.splitlines(), start=1) if password in line]
        if lines:
            where = ", ".join(f"{name}:{number}" for number in lines)
            findings.append(f"the value of REDIS_PASSWORD itself is written at {where}")
    return findings


@check("auth.no_literal_password", safe=True)
def compose_holds_no_literal_password(context: CheckContext) -> CheckResult:
    """the compose file references ${REDIS_PASSWORD}, never the password itself"""
    service, setting = context.service, context.settings.password
    head = (
        "Promise: the compose file never holds a password; command, healthcheck and environment "
        "reference ${REDIS_PASSWORD}."
    )
    if service.origin == "rendered" or service.compose_file is None:
        return ok(
            "auth.no_literal_password",
            f"{head} Kept by construction: there is no compose file and the {service.describe()} "
            "references ${REDIS_PASSWORD}",
            str(setting.source),
        )
    findings = literal_password_findings(service, _password(context))
    if findings:
        return error(
            "auth.no_literal_password",
            f"{head} Broken: {'; '.join(findings)}; anyone who reads the file (or its git history) "
            f"has the password. Write ${{REDIS_PASSWORD}} and keep the value in .env.secrets "
            f"({setting.cite()})",
            str(service.source),
            len(findings),
        )
    return ok(
        "auth.no_literal_password",
        f"{head} Kept: {service.describe()} writes no password out",
        str(service.source),
        0,
    )


@check("auth.port_loopback", safe=True)
def host_port_is_loopback_only(context: CheckContext) -> CheckResult:
    """the host port is published on 127.0.0.1 (or ::1) only"""
    service, port = context.service, context.settings.port
    head = "Promise: Redis is reachable from this host only (published on 127.0.0.1 or ::1)."
    exposed = [binding for binding in service.ports if not binding.loopback_only]
    shown = ", ".join(f"{binding.text} ({binding.source})" for binding in service.ports) or "no port"
    if exposed:
        why = "; ".join(
            f"{binding.text} ({binding.source}) on "
            + ("every interface" if binding.host_ip in (None, "", "0.0.0.0", "::") else binding.host_ip)
            for binding in exposed
        )
        return error(
            "auth.port_loopback",
            f"{head} Broken: {service.describe()} publishes {why}: other machines reach the port; "
            f'write "127.0.0.1:${{REDIS_PORT}}:6379" ({port.cite()})',
            str(exposed[0].source),
            [binding.text for binding in exposed],
        )
    return ok("auth.port_loopback", f"{head} Kept: {service.describe()} publishes {shown}", str(port.source))


@check("auth.port_zero", safe=True)
def port_zero_publishes_none(context: CheckContext) -> CheckResult:
    """REDIS_PORT=0 publishes no host port"""
    service, port = context.service, context.settings.port
    if port.value != 0:
        return skipped(
            "auth.port_zero",
            f"{port.cite()} asks for a host port; auth.port_loopback checks where it is published",
            str(port.source),
        )
    head = f"Promise: no host port is published ({port.cite()}); only the compose network reaches Redis."
    if service.ports:
        shown = ", ".join(
            f"{binding.text} ({binding.source})"
            + (" where host port 0 makes Docker pick a free port" if binding.host_port == 0 else "")
            for binding in service.ports
        )
        return error(
            "auth.port_zero",
            f"{head} Broken: {service.describe()} still publishes {shown}; drop its ports: section",
            str(port.source),
            [binding.text for binding in service.ports],
        )
    return ok("auth.port_zero", f"{head} Kept: {service.describe()} publishes no port", str(port.source))


@check("auth.protected_mode", safe=True)
def protected_mode_without_password(context: CheckContext) -> CheckResult:
    """protected mode is on when there is no password"""
    service, setting = context.service, context.settings.password
    reply = _unauthenticated_ping(context)
    open_server = reply.startswith("+PONG")
    if _password(context) and not open_server and not reply.startswith("-DENIED"):
        return skipped(
            "auth.protected_mode",
            f"the server requires a password ({setting.cite()}; an unauthenticated PING got {reply}): "
            "protected mode only guards a server without one",
            str(setting.source),
        )
    why = f"{setting.cite()}" if not _password(context) else "the running server answers without one"
    head = f"Promise: without a password ({why}) protected mode stays on, so only loopback clients get in."
    deployed = service.args.value("protected-mode")
    live_value = config_get(context.client, "protected-mode")
    measured = {"deployment": deployed, "live": live_value, "unauthenticated_ping": reply}
    if deployed == "no":
        return error(
            "auth.protected_mode",
            f"{head} Broken at the deployment layer: {service.describe()} sets --protected-mode no "
            f"({service.command_source}); live protected-mode={live_value or '?'}",
            str(service.command_source),
            measured,
        )
    if live_value == "no":
        return error(
            "auth.protected_mode",
            f"{head} Broken at the live layer: the deployment sets --protected-mode "
            f"{deployed or '(default yes)'} but the running server reports protected-mode=no",
            str(setting.source),
            measured,
        )
    return ok(
        "auth.protected_mode",
        f"{head} Kept: deployment --protected-mode {deployed or '(default yes)'}, live "
        f"protected-mode={live_value or '? (CONFIG unavailable)'}",
        str(setting.source),
        measured,
    )


def _healthcheck_words(service: RedisService) -> list[str]:
    items = list(service.healthcheck or ())
    if not items:
        return []
    if items[0] == "CMD-SHELL":
        return _words(" ".join(items[1:]))
    if items[0] == "CMD":
        return items[1:]
    return items


def password_on_command_line(words: Sequence[str]) -> list[str]:
    """How a redis-cli command line carries a password (``-a``, ``--pass``, ``-u`` URL)."""
    found = []
    for index, word in enumerate(words):
        value = words[index + 1] if index + 1 < len(words) else ""
        if word in ("-a", "--pass"):
            found.append(f"redis-cli {word} <password>")
        elif word == "-u" and re.match(r"rediss?://[^@/]*:[^@/]+@", value):
            found.append("redis-cli -u with the password in the URL")
        elif word.upper() == "AUTH" and index > 0 and value:
            found.append("redis-cli AUTH <password> as arguments")
    return found


@check("auth.healthcheck_password", safe=True)
def healthcheck_keeps_password_off_the_command_line(context: CheckContext) -> CheckResult:
    """the healthcheck does not put the password on a command line (warning)"""
    skip = _needs_password("auth.healthcheck_password", context)
    if skip is not None:
        return skip
    service = context.service
    if not service.healthcheck:
        return skipped(
            "auth.healthcheck_password", f"{service.describe()} has no healthcheck", str(service.source)
        )
    where = service.healthcheck_source or service.source
    head = (
        "Promise: the healthcheck passes the password through the environment (REDISCLI_AUTH), "
        "not on a command line that `ps` shows to anyone in the container."
    )
    found = password_on_command_line(_healthcheck_words(service))
    if found:
        return warning(
            "auth.healthcheck_password",
            f"{head} Seen: the healthcheck ({where}) runs {', '.join(found)}; with it, `ps` in the "
            "container shows the password every interval. Avoidable: "
            'test: ["CMD-SHELL", "REDISCLI_AUTH=\\"$$REDIS_PASSWORD\\" redis-cli ping"] with '
            "REDIS_PASSWORD in the service's environment",
            str(where),
            found,
        )
    how = "REDISCLI_AUTH" if "REDISCLI_AUTH" in " ".join(service.healthcheck) else "no password argument"
    return ok(
        "auth.healthcheck_password",
        f"{head} Kept: the healthcheck ({where}) uses {how}",
        str(where),
        found,
    )
