"""auth: only clients with the password get in, and the deployment does not leak it.

Every test is one registered check (pytest_nself_redis.checks.auth); none changes
the server, so all run on the attach target too.
"""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.auth


def test_noauth_before_auth(nself_checks: CheckContext) -> None:
    run_check("auth.noauth", nself_checks)


def test_wrong_password_is_refused(nself_checks: CheckContext) -> None:
    run_check("auth.wrongpass", nself_checks)


def test_right_password_works(nself_checks: CheckContext) -> None:
    run_check("auth.right_password", nself_checks)


def test_url_form_works(nself_checks: CheckContext) -> None:
    run_check("auth.url_form", nself_checks)


def test_oversized_unauthenticated_request_is_refused(nself_checks: CheckContext) -> None:
    run_check("auth.oversized_multibulk", nself_checks)


def test_no_acl_user_without_a_password(nself_checks: CheckContext) -> None:
    run_check("auth.acl_nopass", nself_checks)


def test_password_is_set(nself_checks: CheckContext) -> None:
    run_check("auth.password_set", nself_checks)


def test_password_is_not_rejected(nself_checks: CheckContext) -> None:
    run_check("auth.password_not_rejected", nself_checks)


def test_password_is_long_enough(nself_checks: CheckContext) -> None:
    run_check("auth.password_long_enough", nself_checks)


def test_compose_holds_no_literal_password(nself_checks: CheckContext) -> None:
    run_check("auth.no_literal_password", nself_checks)


def test_host_port_is_loopback_only(nself_checks: CheckContext) -> None:
    run_check("auth.port_loopback", nself_checks)


def test_port_zero_publishes_none(nself_checks: CheckContext) -> None:
    run_check("auth.port_zero", nself_checks)


def test_protected_mode_without_password(nself_checks: CheckContext) -> None:
    run_check("auth.protected_mode", nself_checks)


def test_healthcheck_keeps_password_off_the_command_line(nself_checks: CheckContext) -> None:
    run_check("auth.healthcheck_password", nself_checks)
