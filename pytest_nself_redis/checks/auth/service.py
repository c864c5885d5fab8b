"""auth, the compose service: it publishes, stores and runs nothing that leaks
the password or opens the port to the world."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from pytest_nself_redis.checks.auth.base import needs_password, password_of, unauthenticated_ping
from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, warning
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.compose.yaml_lines import LineDict, load_yaml_with_lines
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.remedy import Consequence, Remedy, add_flags, deployment
from pytest_nself_redis.secrets import is_secret_name

# Below this length a verbatim search of the compose file would match ordinary words.
VERBATIM_MIN = 8
_REFERENCE = re.compile(r"\$+\{?[A-Za-z_]")
# ${VAR:-fallback} / ${VAR-fallback}: a reference that still writes a password into the file.
_FALLBACK = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-[^}]+\}")
_PASSWORD_FLAGS = {"--requirepass", "--masterauth"}


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


def _literal_remedy(context: CheckContext, findings: list[str]) -> Remedy:
    """What runs is fixed by the override (command and healthcheck replaced, the password from
    the environment); a value the file itself still holds can only be kept from readers."""
    service = context.service
    in_text = [finding for finding in findings if "is written at" in finding]
    running = len(findings) > len(in_text)
    where = str(service.source)
    if in_text and not running:
        return deployment(
            f"{service.source.path.name if service.source.path else 'the compose file'} still holds the "
            "password (nself 1.x writes it in at every build; what runs no longer uses it): keep the file "
            "out of version control and readable by its owner only (chmod 600)",
            Consequence.SECURITY,
            where,
        )
    return deployment(
        "pass the password through the container's environment (REDIS_PASSWORD: ${REDIS_PASSWORD}) "
        "to --requirepass and, as REDISCLI_AUTH, to the healthcheck, instead of writing it",
        Consequence.SECURITY,
        where,
        context.settings.env,
    )


@check("auth.no_literal_password", safe=True)
def compose_holds_no_literal_password(context: CheckContext) -> Outcome:
    """the compose file references ${REDIS_PASSWORD}, never the password itself"""
    service, setting = context.service, context.settings.password
    head = (
        "Promise: the compose file never holds a password; command, healthcheck and environment "
        "reference ${REDIS_PASSWORD}."
    )
    if service.origin == "rendered" or service.compose_file is None:
        return ok(
            f"{head} Kept by construction: there is no compose file and the {service.describe()} "
            "references ${REDIS_PASSWORD}",
            str(setting.source),
        )
    findings = literal_password_findings(service, password_of(context))
    if findings:
        return error(
            f"{head} Broken: {'; '.join(findings)}; anyone who reads the file (or its git history) "
            f"has the password. Write ${{REDIS_PASSWORD}} and keep the value in .env.secrets "
            f"({setting.cite()})",
            str(service.source),
            len(findings),
            _literal_remedy(context, findings),
        )
    return ok(
        f"{head} Kept: {service.describe()} writes no password out",
        str(service.source),
        0,
    )


@check("auth.port_loopback", safe=True)
def host_port_is_loopback_only(context: CheckContext) -> Outcome:
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
            f"{head} Broken: {service.describe()} publishes {why}: other machines reach the port; "
            f'write "127.0.0.1:${{REDIS_PORT}}:6379" ({port.cite()})',
            str(exposed[0].source),
            [binding.text for binding in exposed],
            deployment(
                f'{exposed[0].source}: publish "127.0.0.1:${{REDIS_PORT}}:{service.container_port}" '
                f"instead of {exposed[0].text} (an override cannot remove a published port)",
                Consequence.SECURITY,
                str(exposed[0].source),
            ),
        )
    return ok(f"{head} Kept: {service.describe()} publishes {shown}", str(port.source))


@check("auth.port_zero", safe=True)
def port_zero_publishes_none(context: CheckContext) -> Outcome:
    """REDIS_PORT=0 publishes no host port"""
    service, port = context.service, context.settings.port
    if port.value != 0:
        return skipped(
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
            f"{head} Broken: {service.describe()} still publishes {shown}; drop its ports: section",
            str(port.source),
            [binding.text for binding in service.ports],
            deployment(
                f"{service.ports[0].source}: drop the service's ports: section (an override cannot "
                "remove a published port)",
                Consequence.SECURITY,
                str(service.ports[0].source),
            ),
        )
    return ok(f"{head} Kept: {service.describe()} publishes no port", str(port.source))


@check("auth.protected_mode", safe=True)
def protected_mode_without_password(context: CheckContext) -> Outcome:
    """protected mode is on when there is no password"""
    service, setting = context.service, context.settings.password
    reply = unauthenticated_ping(context)
    open_server = reply.startswith("+PONG")
    if password_of(context) and not open_server and not reply.startswith("-DENIED"):
        return skipped(
            f"the server requires a password ({setting.cite()}; an unauthenticated PING got {reply}): "
            "protected mode only guards a server without one",
            str(setting.source),
        )
    why = f"{setting.cite()}" if not password_of(context) else "the running server answers without one"
    head = f"Promise: without a password ({why}) protected mode stays on, so only loopback clients get in."
    deployed = service.args.value("protected-mode")
    live_value = config_get(context.client, "protected-mode")
    measured = {"deployment": deployed, "live": live_value, "unauthenticated_ping": reply}
    if deployed == "no":
        return error(
            f"{head} Broken at the deployment layer: {service.describe()} sets --protected-mode no "
            f"({service.command_source}); live protected-mode={live_value or '?'}",
            str(service.command_source),
            measured,
            add_flags(
                service,
                ("--protected-mode", "yes"),
                Consequence.SECURITY,
                context.settings.env,
                "--protected-mode no",
            ),
        )
    if live_value == "no":
        return error(
            f"{head} Broken at the live layer: the deployment sets --protected-mode "
            f"{deployed or '(default yes)'} but the running server reports protected-mode=no",
            str(setting.source),
            measured,
        )
    return ok(
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
@needs_password
def healthcheck_keeps_password_off_the_command_line(context: CheckContext) -> Outcome:
    """the healthcheck does not put the password on a command line (warning)"""
    service = context.service
    if not service.healthcheck:
        return skipped(f"{service.describe()} has no healthcheck", str(service.source))
    where = service.healthcheck_source or service.source
    head = (
        "Promise: the healthcheck passes the password through the environment (REDISCLI_AUTH), "
        "not on a command line that `ps` shows to anyone in the container."
    )
    found = password_on_command_line(_healthcheck_words(service))
    if found:
        return warning(
            f"{head} Seen: the healthcheck ({where}) runs {', '.join(found)}; with it, `ps` in the "
            "container shows the password every interval. Avoidable: "
            'test: ["CMD-SHELL", "REDISCLI_AUTH=\\"$$REDIS_PASSWORD\\" redis-cli ping"] with '
            "REDIS_PASSWORD in the service's environment",
            str(where),
            found,
            deployment(
                f"{where}: hand redis-cli the password as REDISCLI_AUTH from the service's environment "
                "instead of on its command line",
                Consequence.SECURITY,
                str(where),
                context.settings.env,
            ),
        )
    how = "REDISCLI_AUTH" if "REDISCLI_AUTH" in " ".join(service.healthcheck) else "no password argument"
    return ok(
        f"{head} Kept: the healthcheck ({where}) uses {how}",
        str(where),
        found,
    )
