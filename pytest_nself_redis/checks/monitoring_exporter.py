"""monitoring: the real redis_exporter, configured as nself configures it, reaches the server
(``redis_up`` 1) and exports every metric name nself's documentation and alert rules use.

Where nself's exporter reaches ``redis:6379`` inside its network, this one reaches the address
this run uses, in the form each nself generation writes:

- nself 0.9.x, the monitoring bundle (``monitoring-exporters.sh``): ``REDIS_ADDR`` is
  ``redis://:<password>@host:port``, the password written in unencoded; ``redis://host:port``
  when the env has none.
- nself 0.9.x, ``nself metrics``' profile (``metrics.sh``): ``REDIS_ADDR=host:port`` with the
  password apart in ``REDIS_PASSWORD``.
- nself 1.x: ``redis://:<password>@host:port`` with the password URL-encoded, as it writes
  ``REDIS_URL`` for services (its compose has no exporter of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.monitoring import exporter_url_problems
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, warning
from pytest_nself_redis.live.exporter import ExporterUnavailable, Scrape, exporter_binary, scrape_once
from pytest_nself_redis.live.refusals import explain
from pytest_nself_redis.secrets import MASK

# The names nself's Redis page documents, and those its alert rules query.
DOCUMENTED = (
    "redis_connected_clients",
    "redis_used_memory_bytes",
    "redis_commands_processed_total",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_expired_keys_total",
    "redis_evicted_keys_total",
    "redis_connected_slaves",
)
ALERT_RULES = ("redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_connected_clients")
# Documented, and not what redis_exporter calls it (redis_memory_used_bytes).
MISNAMED = "redis_used_memory_bytes"


@dataclass(frozen=True)
class AddressForm:
    """How one nself generation tells its exporter where Redis is."""

    name: str
    environment: dict[str, str]
    shown: str


def address_forms(context: CheckContext) -> list[AddressForm]:
    """The exporter settings this env's nself generation writes (its REDIS_PASSWORD, no user),
    aimed at the host and port this run reaches the server on."""
    kwargs = context.client.connection_pool.connection_kwargs
    host, port = kwargs.get("host", "127.0.0.1"), int(kwargs.get("port", 6379))
    password = context.settings.password.value.reveal()
    plain = f"redis://{host}:{port}"
    if context.env is not None and context.env.generation.is_1x:
        name = "nself 1.x (its REDIS_URL form)"
        if not password:
            return [AddressForm(name, {"REDIS_ADDR": plain}, f"REDIS_ADDR={plain}")]
        encoded = f"redis://:{quote(password, safe='')}@{host}:{port}"
        return [
            AddressForm(
                name, {"REDIS_ADDR": encoded}, f"REDIS_ADDR=redis://:<password, URL-encoded>@{host}:{port}"
            )
        ]
    bundle = "nself 0.9.x monitoring bundle"
    unencoded = f"redis://:{password}@{host}:{port}"
    first = (
        AddressForm(bundle, {"REDIS_ADDR": unencoded}, f"REDIS_ADDR=redis://:<password>@{host}:{port}")
        if password
        else AddressForm(bundle, {"REDIS_ADDR": plain}, f"REDIS_ADDR={plain}")
    )
    apart = AddressForm(
        "nself 0.9.x `nself metrics` profile",
        {"REDIS_ADDR": f"{host}:{port}", "REDIS_PASSWORD": password},
        f"REDIS_ADDR={host}:{port} and REDIS_PASSWORD=" + ("<password>" if password else "(empty)"),
    )
    return [first, apart]


def scrub(text: str, password: str) -> str:
    """``text`` without the password or any piece of it an error may quote (a URL parser cuts
    an unencoded password at / # ? @ :)."""
    if not password:
        return text
    pieces = [password, *re.split(r"[/#?@:%\[\] ]", password)]
    for piece in sorted((piece for piece in pieces if len(piece) >= 3), key=len, reverse=True):
        text = text.replace(piece, MASK)
    return text


def diagnose(context: CheckContext, form: AddressForm) -> str:
    """Why the exporter could not read the server, as far as this run can tell: the password
    an unencoded URL cannot carry, or the server refusing the password nself writes."""
    password = context.settings.password.value.reveal()
    if form.name.endswith("monitoring bundle") and password:
        problems = exporter_url_problems(password)
        if problems:
            return f"the password holds {', '.join(problems)}, which an unencoded URL cannot carry"
    probe = context.connect(password=password or None, socket_timeout=2, socket_connect_timeout=2)
    try:
        probe.ping()
    except redis_errors.RedisError as problem:
        return f"AUTH with {context.settings.password.cite()}: {explain(problem)}"
    finally:
        probe.close()
    return "the password itself is accepted (AUTH + PING work)"


def _verdict(context: CheckContext, form: AddressForm, scraped: Scrape) -> tuple[str, list[str], bool]:
    """(what this form showed, the documented names missing, whether redis_up was 1)."""
    missing = [name for name in dict.fromkeys(DOCUMENTED + ALERT_RULES) if name not in scraped.values]
    if scraped.up == 1:
        return f"{form.name} ({form.shown}): redis_up=1 in {scraped.seconds:.2f} s", missing, True
    said = scraped.scrape_error or "; ".join(scraped.log_errors()[-2:]) or "no error given"
    password = context.settings.password.value.reveal()
    cause = scrub(f"{said}; {diagnose(context, form)}", password)
    return f"{form.name} ({form.shown}): redis_up={scraped.up}, the exporter's error: {cause}", missing, False


@dataclass
class Findings:
    """What the exporter showed for each address form."""

    seen: list[str] = field(default_factory=list)
    down: bool = False
    missing: set[str] = field(default_factory=set)
    forms: dict[str, Any] = field(default_factory=dict)

    def add(self, context: CheckContext, form: AddressForm, scraped: Scrape) -> None:
        line, missing, up = _verdict(context, form, scraped)
        self.seen.append(line)
        self.down = self.down or not up
        self.missing.update(missing if up else ())
        self.forms[form.name] = {
            "redis_up": scraped.up,
            "scrape_error": scrub(scraped.scrape_error, context.settings.password.value.reveal()),
            "seconds": scraped.seconds,
        }


# Not ``waits``: the exporter it starts scrapes the server, which a latency sample beside it would time.
# ``slow``: most of its time goes on the exporter's start, which overlaps the other busy checks.
@check("monitoring.exporter", safe=True, slow=True)
def the_real_exporter_reads_the_server(context: CheckContext) -> Outcome:
    """the real redis_exporter, set up as nself sets it up, reads the server"""
    setting = context.settings.password
    promise = (
        "Promise: redis_exporter, given the address the way nself writes it, reaches the server (redis_up "
        f"1, so RedisDown stays quiet) and exports every metric name nself documents ({setting.cite()})."
    )
    if exporter_binary() is None:
        return skipped(
            "unknown: redis_exporter is not installed here (apt-get install prometheus-redis-exporter)"
        )
    if issubclass(context.client.connection_pool.connection_class, redis.SSLConnection):
        # Never hand the password to a plaintext connection to a TLS port.
        return skipped("unknown: the server speaks TLS here, and no nself generation gives its exporter TLS")
    findings = Findings()
    for form in address_forms(context):
        try:
            findings.add(context, form, scrape_once(form.environment))
        except ExporterUnavailable as problem:
            seen = scrub(str(problem), setting.value.reveal())
            return error(f"{promise} Seen: {form.name}: {seen}", str(setting.source))
    return _outcome(promise, findings, str(setting.source))


def _outcome(promise: str, findings: Findings, source: str) -> Outcome:
    shown = "; ".join(findings.seen)
    missing = sorted(findings.missing)
    measured = {"forms": findings.forms, "missing": missing}
    if findings.down:
        return error(
            f"{promise} Broken: {shown}. RedisDown fires for this exporter: fix the address or the password "
            "nself gives it",
            source,
            measured,
        )
    others = [name for name in missing if name != MISNAMED]
    if others:
        return error(
            f"{promise} Broken: {shown}; documented but not exported: {', '.join(others)}", source, measured
        )
    if MISNAMED in missing:
        return warning(
            f"{promise} Seen: {shown}; every documented name is exported but {MISNAMED}, which nself's docs "
            "name and redis_exporter does not export (it is redis_memory_used_bytes): a panel or rule built "
            "from the docs shows nothing",
            source,
            measured,
        )
    return ok(f"{promise} Kept: {shown}", source, measured)
