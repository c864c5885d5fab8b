"""config: every setting reaches the server, checked at three layers (contract,
deployment, live); a failure names the layer that broke."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.plugin.verdicts import family, run_check

pytestmark = pytest.mark.config


@pytest.mark.parametrize("check_id", family("config.setting.{}"))
def test_setting_reaches_the_server(check_id: str, nself_checks: CheckContext) -> None:
    run_check(check_id, nself_checks)


def test_version_major_matches(nself_checks: CheckContext) -> None:
    run_check("config.version", nself_checks)


def test_host_port_is_published_as_configured(nself_checks: CheckContext) -> None:
    run_check("config.port", nself_checks)


def test_tls_setting_reaches_the_server(nself_checks: CheckContext) -> None:
    run_check("config.tls", nself_checks)
