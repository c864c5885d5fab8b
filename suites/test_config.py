"""config: every setting reaches the server, checked at three layers.

Each promise is traced from the setting (file:line) through the compose service
to the live server; a failure names the first layer that departs from it.
"""

from __future__ import annotations

import re

import pytest
import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.checks import expect
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.layers import compare_layers, config_promises
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.server import version_tuple

pytestmark = pytest.mark.config

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


def _config_get(client: redis.Redis, directive: str) -> dict[str, str] | None:
    try:
        result: dict[str, str] = client.config_get(directive)
    except redis_errors.ResponseError:
        return None  # CONFIG renamed or not allowed for this user: deployment layer only
    return result


@pytest.mark.parametrize("promise_id", PROMISE_IDS)
def test_setting_reaches_the_server(
    promise_id: str,
    nself_settings: RedisSettings,
    nself_service: RedisService,
    nself_redis: redis.Redis,
) -> None:
    promise = config_promises(nself_settings).get(promise_id)
    if promise is None:
        pytest.skip(
            f"{promise_id} does not apply: "
            f"{nself_settings.aof_enabled.cite()}, {nself_settings.persistence.cite()}"
        )
    verdict = compare_layers(promise, nself_service, _config_get(nself_redis, promise.directive))
    expect(verdict.ok, verdict.message)


def _major(tag: str) -> str | None:
    match = re.match(r"(\d+)", tag)
    return match.group(1) if match else None


def test_version_major_matches(
    nself_settings: RedisSettings, nself_service: RedisService, nself_redis: redis.Redis
) -> None:
    wanted = _major(nself_settings.version.value)
    if wanted is None:
        pytest.skip(f"{nself_settings.version.cite()} names no major version")
    image_tag = nself_service.image.rpartition(":")[2] if ":" in nself_service.image else "latest"
    live = str(nself_redis.info("server")["redis_version"])
    head = f"Promise: Redis {wanted}.x runs, as {nself_settings.version.cite()} says."
    expect(
        _major(image_tag) == wanted,
        (
            f"{head} Broken at the deployment layer: {nself_service.describe()} runs image "
            f"{nself_service.image}; live redis_version={live}"
        ),
    )
    expect(
        str(version_tuple(live)[0]) == wanted,
        (
            f"{head} Broken at the live layer: the image is {nself_service.image} but the server "
            f"reports redis_version={live}"
        ),
    )


def test_host_port_is_published_as_configured(
    nself_settings: RedisSettings, nself_service: RedisService
) -> None:
    published = [port for port in nself_service.ports if port.container_port == nself_service.container_port]
    port = nself_settings.port
    if port.value == 0:
        expect(
            not published,
            (
                f"Promise: no host port is published ({port.cite()}). Broken at the deployment "
                f"layer: {nself_service.describe()} publishes "
                + ", ".join(f"{p.text} ({p.source})" for p in published)
            ),
        )
        return
    host_ports = [binding.host_port for binding in published]
    expect(
        port.value in host_ports,
        (
            f"Promise: the host reaches Redis on port {port.value} ({port.cite()}). Broken at the "
            f"deployment layer: {nself_service.describe()} publishes "
            + (", ".join(f"{p.text} ({p.source})" for p in published) or "no port")
        ),
    )


def test_tls_setting_reaches_the_server(
    nself_settings: RedisSettings, nself_service: RedisService, nself_redis: redis.Redis
) -> None:
    promised = nself_settings.tls_enabled.value
    deployed = nself_service.args.value("tls-port") not in (None, "0")
    live_config = _config_get(nself_redis, "tls-port")
    live = None if live_config is None else live_config.get("tls-port", "0") != "0"
    kind = "accepts TLS clients only" if promised else "speaks plain TCP (no TLS)"
    head = f"Promise: Redis {kind}, as {nself_settings.tls_enabled.cite()} says."
    expect(
        deployed == promised,
        (
            f"{head} Broken at the deployment layer: {nself_service.describe()} "
            + ("sets no --tls-port" if promised else "sets --tls-port")
        ),
    )
    expect(
        live is None or live == promised,
        (
            f"{head} Broken at the live layer: the server reports tls-port="
            f"{live_config.get('tls-port') if live_config else '?'}"
        ),
    )
