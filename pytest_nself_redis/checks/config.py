"""config: every setting reaches the server, traced through three layers.

Each promise goes from the setting (file:line) through the compose service to the
live server; a broken one names the first layer that departs from it.
"""

from __future__ import annotations

import re

from pytest_nself_redis import remedy
from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, verdict
from pytest_nself_redis.layers import compare_layers, config_promises
from pytest_nself_redis.live.reads import config_get, info, version_tuple
from pytest_nself_redis.remedy import Consequence

# The promises traced by ``config.setting.<id>``, in report order.
PROMISE_IDS = (
    "maxmemory",
    "maxmemory-policy",
    "appendonly",
    "appendfsync",
    "save",
    "maxclients",
    "timeout",
    "tcp-keepalive",
    "loglevel",
    "requirepass",
)


@check(
    "config.setting.{}",
    params=PROMISE_IDS,
    safe=True,
    title="{} reaches the server as the settings say",
)
def setting_reaches_the_server(context: CheckContext, promise_id: str) -> Outcome:
    """One setting's directive, traced from the settings through the deployment to the live server."""
    promise = config_promises(context.settings).get(promise_id)
    if promise is None:
        settings = context.settings
        return skipped(
            f"{promise_id} does not apply: {settings.aof_enabled.cite()}, {settings.persistence.cite()}",
        )
    live = config_get(context.client, promise.directive)
    result = compare_layers(promise, context.service, live)
    source = ", ".join(str(setting.source) for setting in promise.settings)
    measured = {
        "layer": result.broken_layer,
        "deployment": None if promise.secret else result.deployment,
        "live": None if promise.secret else result.live,
    }
    return verdict(result.ok, result.message, source, measured, result.remedy)


def _major(tag: str) -> str | None:
    match = re.match(r"(\d+)", tag)
    return match.group(1) if match else None


@check("config.version", safe=True)
def version_major_matches(context: CheckContext) -> Outcome:
    """the Redis major version is REDIS_VERSION's"""
    setting, service = context.settings.version, context.service
    wanted = _major(setting.value)
    if wanted is None:
        return skipped(f"{setting.cite()} names no major version", str(setting.source))
    image_tag = service.image.rpartition(":")[2] if ":" in service.image else "latest"
    head = f"Promise: Redis {wanted}.x runs, as {setting.cite()} says."
    live = str(info(context.client, "server").get("redis_version", ""))
    if not live:
        return error(f"{head} Seen: INFO has no redis_version", str(setting.source))
    if _major(image_tag) != wanted:
        return error(
            f"{head} Broken at the deployment layer: {service.describe()} runs "
            f"image {service.image}; live redis_version={live}",
            str(setting.source),
            live,
            remedy.deployment(
                f"run image redis:{setting.value} (`nself build` writes REDIS_VERSION's image; "
                f"the service names {service.image})",
                Consequence.AVAILABILITY,
                str(service.source),
            ),
        )
    if str(version_tuple(live)[0]) != wanted:
        return error(
            f"{head} Broken at the live layer: the image is {service.image} "
            f"but the server reports redis_version={live}",
            str(setting.source),
            live,
            remedy.server(
                f"pull or rebuild {service.image} so it holds Redis {wanted}.x, then recreate the container",
                Consequence.AVAILABILITY,
            ),
        )
    return ok(
        f"{head} Kept: image {service.image}, live redis_version={live}",
        str(setting.source),
        live,
    )


@check("config.port", safe=True)
def host_port_is_published_as_configured(context: CheckContext) -> Outcome:
    """the host port is REDIS_PORT's"""
    port, service = context.settings.port, context.service
    published = [binding for binding in service.ports if binding.container_port == service.container_port]
    shown = ", ".join(f"{binding.text} ({binding.source})" for binding in published) or "no port"
    if port.value == 0:
        promise = f"Promise: no host port is published ({port.cite()})."
        kept = not published
    else:
        promise = f"Promise: the host reaches Redis on port {port.value} ({port.cite()})."
        kept = port.value in [binding.host_port for binding in published]
    if kept:
        return ok(f"{promise} Kept: {service.describe()} publishes {shown}", str(port.source))
    wanted = "no ports: entry" if port.value == 0 else f'"127.0.0.1:${{REDIS_PORT}}:{service.container_port}"'
    return error(
        f"{promise} Broken at the deployment layer: {service.describe()} publishes {shown}",
        str(port.source),
        [binding.text for binding in published],
        remedy.deployment(
            f"publish {wanted} in the service's ports (`nself build` writes it from REDIS_PORT; "
            "an override cannot remove a published port)",
            Consequence.AVAILABILITY,
            str(published[0].source) if published else str(service.source),
        ),
    )


@check("config.tls", safe=True)
def tls_setting_reaches_the_server(context: CheckContext) -> Outcome:
    """TLS is on exactly when REDIS_TLS_ENABLED says"""
    setting, service = context.settings.tls_enabled, context.service
    promised = setting.value
    deployed = service.args.value("tls-port") not in (None, "0")
    live_port = config_get(context.client, "tls-port", absent="0")
    kind = "accepts TLS clients only" if promised else "speaks plain TCP (no TLS)"
    head = f"Promise: Redis {kind}, as {setting.cite()} says."
    if deployed != promised:
        flags = "--port 0 --tls-port 6379 and the certificate flags" if promised else "no --tls-port"
        return error(
            f"{head} Broken at the deployment layer: {service.describe()} "
            + ("sets no --tls-port" if promised else "sets --tls-port"),
            str(setting.source),
            remedy=remedy.deployment(
                f"the redis command needs {flags} ({service.command_source})",
                Consequence.SECURITY,
                str(service.command_source),
                context.settings.env,
            ),
        )
    if live_port is not None and (live_port != "0") != promised:
        return error(
            f"{head} Broken at the live layer: the server reports tls-port={live_port}",
            str(setting.source),
            live_port,
            remedy.server("restart Redis from its deployment (its tls-port differs)", Consequence.SECURITY),
        )
    return ok(
        f"{head} Kept: live tls-port={live_port if live_port is not None else '?'}",
        str(setting.source),
        live_port,
    )
