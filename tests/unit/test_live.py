"""The live package's pure parts: glob escaping, one TLS policy, one reading of Redis errors."""

from __future__ import annotations

import ast
import ssl
import sys
from pathlib import Path

import pytest
import redis
from redis import exceptions as redis_errors
from redis._parsers.base import BaseParser

from pytest_nself_redis import live
from pytest_nself_redis.checks.refusals import refusal_in
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.keys import glob_escape
from pytest_nself_redis.live.refusals import Kind, classify, explain, is_refused, server_wide
from pytest_nself_redis.secrets import Secret


def test_glob_characters_are_escaped() -> None:
    """The server-side proof is tests/integration/test_live.py; here, the exact pattern."""
    assert glob_escape("nself-harness:t1:a-1:") == "nself-harness:t1:a-1:"
    assert glob_escape("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"


def test_a_tls_address_keeps_its_policy_through_a_client() -> None:
    """ServerAddress -> redis_kwargs -> redis-py client -> ServerAddress.of: nothing is lost, and
    verification is on unless the insecure option turned it off."""
    for verify in (True, False):
        address = ServerAddress(
            "127.0.0.1",
            6390,
            password=Secret("pw-Live-1f3a"),
            username="app",
            db=3,
            tls=True,
            ca_file="/tmp/ca.crt",
            verify=verify,
            timeout=2.5,
        )
        client = redis.Redis(**address.redis_kwargs())
        assert ServerAddress.of(client) == address
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["ssl_cert_reqs"] == (ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
        assert kwargs["ssl_check_hostname"] is verify
        assert address.unverified_tls is not verify
        client.close()


def test_the_password_override_drops_the_username_and_the_secret_stays_hidden() -> None:
    address = ServerAddress("::1", 6379, password=Secret("pw-Live-9c2b"), username="app")
    assert address.redis_kwargs(password=None)["username"] is None
    assert address.redis_kwargs()["password"] == "pw-Live-9c2b"
    for shown in (repr(address), address.describe(), address.where()):
        assert "pw-Live-9c2b" not in shown
    assert address.describe() == "redis://:********@[::1]:6379/0"


def test_our_own_sockets_verify_unless_told_not_to() -> None:
    checked = ServerAddress(tls=True).ssl_context()
    assert checked.verify_mode == ssl.CERT_REQUIRED
    assert checked.check_hostname
    unchecked = ServerAddress(tls=True, verify=False).ssl_context()
    assert unchecked.verify_mode == ssl.CERT_NONE
    assert not unchecked.check_hostname


def reply_error(line: str) -> redis_errors.RedisError:
    """The exception redis-py raises for an error reply (it drops some codes, e.g. NOPERM, OOM)."""
    error: redis_errors.RedisError = BaseParser().parse_error(line)
    return error


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("NOPERM this user has no permissions to run the 'config|get' command", Kind.ACL),
        ("ERR unknown command 'CONFIG', with args beginning with: 'GET' ", Kind.UNKNOWN_COMMAND),
        ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to", Kind.SERVER_WIDE),
        ("OOM command not allowed when used memory > 'maxmemory'.", Kind.SERVER_WIDE),
        ("LOADING Redis is loading the dataset in memory", Kind.SERVER_WIDE),
        ("READONLY You can't write against a read only replica.", Kind.SERVER_WIDE),
        ("ERR wrong number of arguments for 'get' command", Kind.OTHER),
    ],
)
def test_every_reader_classifies_an_error_reply_alike(line: str, kind: Kind) -> None:
    error = reply_error(line)
    assert classify(error) is kind
    assert is_refused(error) is (kind in (Kind.ACL, Kind.UNKNOWN_COMMAND))
    # A message quoting the error (a sampler's, a check's) reads the same as the error itself.
    assert classify(Exception(f"GET: the server answered -{line}")) is kind


def test_connection_failures_are_named() -> None:
    assert classify(redis_errors.TimeoutError("Timeout reading from socket")) is Kind.TIMEOUT
    assert explain(redis_errors.TimeoutError("")) == "timed out (no reply within the socket timeout)"
    assert classify(redis_errors.ConnectionError("Connection refused")) is Kind.CONNECTION
    assert explain(redis_errors.ConnectionError("refused")) == "connection failed (refused)"


def test_an_acl_refusal_is_explained_with_its_code() -> None:
    message = explain(
        reply_error("NOPERM this user has no permissions to access one of the channels used as arguments")
    )
    assert message.startswith("refused by ACL (NOPERM this user has no permissions")
    assert "&* or allchannels" in message


@pytest.mark.parametrize(
    ("line", "root"),
    [
        ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable", "health.rdb_status"),
        ("MISCONF Errors writing to the AOF file: No space left on device", "health.aof_status"),
        ("NOREPLICAS Not enough good replicas to write.", "health.writes"),
        ("READONLY You can't write against a read only replica.", "health.primary"),
        ("OOM command not allowed when used memory > 'maxmemory'.", "health.memory"),
        ("LOADING Redis is loading the dataset in memory", "health.loading"),
    ],
)
def test_each_server_wide_refusal_has_one_root_check(line: str, root: str) -> None:
    text = str(reply_error(line))  # as a check quotes it: redis-py may have dropped the code
    found = refusal_in(text)
    assert found is not None
    assert found.root == root
    assert server_wide(text) is found.kind
    assert line.startswith(found.code)


def test_the_live_package_builds_on_nothing_above_it() -> None:
    """live sits below targets, checks and the plugin: it may import only the standard library,
    redis and the project's errors, secrets and durations (and itself)."""

    allowed = {
        "redis",
        "pytest_nself_redis.errors",
        "pytest_nself_redis.secrets",
        "pytest_nself_redis.durations",
    }
    for path in Path(live.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for name in names:
                top = name.split(".")[0]
                ok = (
                    top in sys.stdlib_module_names
                    or top == "redis"
                    or name.startswith("pytest_nself_redis.live")
                    or name in allowed
                )
                assert ok, f"{path.name} imports {name}"


def test_clients_name_themselves_as_redis_py_would_without_reading_its_metadata_each_time() -> None:
    """redis-py 7 reads its package metadata for every client it makes (about 2 ms; doctor makes
    hundreds); ours carry one identity, made once, that says what redis-py's own default says."""
    first = ServerAddress(port=1).client_options()
    second = ServerAddress(port=2, password=Secret("pw")).redis_kwargs()
    ours = first["driver_info"]
    assert second["driver_info"] is ours
    default = redis.Redis(port=1).connection_pool.connection_kwargs["driver_info"]
    assert (ours.formatted_name, ours.lib_version) == (default.formatted_name, default.lib_version)
