"""tls: with REDIS_TLS_ENABLED=true the server (certificates generated for the run)
serves TLS clients and nothing else; with false both tests skip with the reason.
config.tls (config suite) traces the setting through the deployment and live layers."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.tls


def test_accepts_tls_clients(nself_checks: CheckContext) -> None:
    run_check("tls.accepts_tls_clients", nself_checks)


def test_refuses_plaintext(nself_checks: CheckContext) -> None:
    run_check("tls.refuses_plaintext", nself_checks)
