"""auth: only clients with the password get in, and the deployment does not leak it.

Server promises (NOAUTH, WRONGPASS, the right password, the URL form, oversized
unauthenticated requests, ACL users) are probed on connections of their own (``connections``);
the password's strength is read from the settings (``password``); deployment promises (no
literal password, loopback-only port, protected mode, healthcheck) from the compose service
(``service``). None of them writes; all but the oversized request are safe for
``doctor`` (that one runs only where the server refuses an unauthenticated PING). No
message ever holds a password.

Without REDIS_PASSWORD the checks that need one are skipped (the reason names
the setting) and ``auth.password_set`` reports the missing password: a warning
in dev (nself builds dev without one with ``--allow-insecure``), an error in
every other env.
"""

# Imported in this order (connections, password, service), the checks are declared in the
# order doctor reports them.
from pytest_nself_redis.checks.auth import connections, password, service
from pytest_nself_redis.checks.auth.connections import (
    REFUSAL_WAIT,
    no_acl_user_without_a_password,
    oversized_unauthenticated_request_is_refused,
)
from pytest_nself_redis.checks.auth.password import minimum_length
from pytest_nself_redis.checks.auth.service import literal_password_findings, password_on_command_line
from pytest_nself_redis.compose.service import literal_kind

__all__ = [
    "REFUSAL_WAIT",
    "connections",
    "literal_kind",
    "literal_password_findings",
    "minimum_length",
    "no_acl_user_without_a_password",
    "oversized_unauthenticated_request_is_refused",
    "password",
    "password_on_command_line",
    "service",
]
