"""sessions (marker ``datastructures``): nself's session layout (``session:<id>`` JSON,
``user:<uid>:sessions`` set) with expiry, refresh and revocation as a store needs them.
The keys are written under the run's prefix, never as real ``session:*`` keys."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.datastructures


def test_session_layout(nself_checks: CheckContext) -> None:
    run_check("sessions.layout", nself_checks)


def test_sessions_expire(nself_checks: CheckContext) -> None:
    run_check("sessions.expiry", nself_checks)


def test_refresh_extends_sessions(nself_checks: CheckContext) -> None:
    run_check("sessions.refresh", nself_checks)


def test_revocation_is_immediate(nself_checks: CheckContext) -> None:
    run_check("sessions.revocation", nself_checks)
