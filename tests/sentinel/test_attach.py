"""A running Sentinel deployment read through one sentinel's URL, as ``--nself-sentinel-url``
and ``doctor --sentinel-url`` do: the other sentinels found through it, the primary read at
the address they hand out; what cannot be reached is reported, bounded, without a secret."""

from __future__ import annotations

import time

from pytest_nself_redis.live.loopback import free_loopback_port
from pytest_nself_redis.live.url import endpoint_from_url
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.sentinel.access import AttachedDeployment, LaunchedDeployment, attached_from_url
from pytest_nself_redis.targets.topology import Topology
from tests.sentinel.conftest import PROD_PASSWORD, Launch


def _ca(launched: Topology) -> str:
    """The run's CA, which the prod topology's sentinels and nodes serve TLS with."""
    assert launched.tls is not None
    return str(launched.tls.ca_cert)


def test_a_deployment_is_read_through_one_sentinels_url(topology: Launch) -> None:
    launched = topology("process")
    url = f"rediss://:{PROD_PASSWORD}@127.0.0.1:{launched.sentinels[1].port}"
    address = endpoint_from_url(url, _ca(launched), url_flag="--nself-sentinel-url")
    attached = AttachedDeployment(address, "mymaster", Secret(PROD_PASSWORD))
    views = attached.views()
    assert sorted(view.where for view in views) == sorted(f"127.0.0.1:{s.port}" for s in launched.sentinels)
    assert all(view.error is None for view in views), [view.error for view in views]
    primary = attached.primary(views)
    assert primary.error is None, primary.error
    assert primary.where == f"127.0.0.1:{launched.nodes[0].endpoint.port}"
    assert primary.info["role"] == "master"
    assert primary.info["connected_slaves"] == 1
    assert PROD_PASSWORD not in attached.describe()
    # The launched topology reads the same.
    mine = LaunchedDeployment(launched)
    assert sorted(view.where for view in mine.views()) == sorted(view.where for view in views)
    assert mine.primary().where == primary.where


def test_a_wrong_password_or_nothing_listening_is_reported_not_raised(topology: Launch) -> None:
    launched = topology("process", settle_timeout=1)
    wrong = endpoint_from_url(f"rediss://:not-it@127.0.0.1:{launched.sentinels[0].port}", _ca(launched))
    view = AttachedDeployment(wrong, "mymaster", Secret("not-it")).views()
    assert len(view) == 1
    assert view[0].error is not None
    assert "not-it" not in view[0].error
    assert "invalid username-password pair" in view[0].error or "WRONGPASS" in view[0].error, view[0].error
    nothing = endpoint_from_url(f"redis://127.0.0.1:{free_loopback_port()}")
    began = time.monotonic()
    gone = AttachedDeployment(nothing, "mymaster", Secret(""))
    views = gone.views()
    assert views[0].error is not None
    assert "Connection" in views[0].error, views[0].error
    primary = gone.primary(views)
    assert primary.error == "no sentinel answered, so where the primary is is unknown"
    assert time.monotonic() - began < 10


def test_a_tls_sentinels_url_is_verified_with_the_ca_given(topology: Launch) -> None:
    """--nself-sentinel-url rediss://… with --nself-redis-ca (doctor: --redis-ca): the data
    nodes' CA verifies the sentinels too; without it the system's CAs refuse the run's CA."""
    launched = topology("process")
    settings: RedisSettings = launched.context.settings
    url = f"rediss://127.0.0.1:{launched.sentinels[0].port}"  # the password comes from the env
    verified = attached_from_url(url, settings, 5.0, "--nself-sentinel-url", ca_cert=_ca(launched))
    views = verified.views()
    assert all(view.error is None for view in views), [view.error for view in views]
    assert verified.primary(views).info["role"] == "master"
    refused = attached_from_url(url, settings, 5.0, "--nself-sentinel-url").views()
    assert refused[0].error is not None
    assert "certificate verify failed" in refused[0].error, refused[0].error
    assert PROD_PASSWORD not in refused[0].error
