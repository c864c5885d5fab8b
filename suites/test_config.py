"""config: every setting reaches the server, checked at three layers (contract,
deployment, live); a failure names the layer that broke."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext, expect_result
from pytest_nself_redis.checks import config as checks

pytestmark = pytest.mark.config


@pytest.mark.parametrize("promise_id", checks.PROMISE_IDS)
def test_setting_reaches_the_server(promise_id: str, nself_checks: CheckContext) -> None:
    expect_result(checks.setting_reaches_the_server(nself_checks, promise_id))


def test_version_major_matches(nself_checks: CheckContext) -> None:
    expect_result(checks.version_major_matches(nself_checks))


def test_host_port_is_published_as_configured(nself_checks: CheckContext) -> None:
    expect_result(checks.host_port_is_published_as_configured(nself_checks))


def test_tls_setting_reaches_the_server(nself_checks: CheckContext) -> None:
    expect_result(checks.tls_setting_reaches_the_server(nself_checks))
