"""The live package against a real redis-server: a prefix never widens, reads say "unknown"
instead of failing, and every reader classifies a refusal alike."""

from __future__ import annotations

import shutil
import socket
import ssl
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from pytest_nself_redis.live.clients import clone
from pytest_nself_redis.live.keys import delete_prefix, scan_prefix, scratch
from pytest_nself_redis.live.reads import config_get, server_version, version_tuple
from pytest_nself_redis.live.refusals import Kind, classify
from pytest_nself_redis.targets.base import Target
from pytest_nself_redis.targets.tls import prepare_tls
from tests.conftest import Launcher
from tests.harness import COMPLETE


@pytest.fixture
def server(launch: Launcher) -> Target:
    return launch(COMPLETE, "staging")


@pytest.mark.parametrize("prefix", ["nself-harness:t:a*b:", "nself-harness:t:a?b:", "nself-harness:t:[ab]:"])
def test_deleting_a_prefix_never_touches_a_key_outside_it(server: Target, prefix: str) -> None:
    """A prefix holding glob characters matches only itself: before issue 10 three of the four
    copies of this loop passed it to SCAN unescaped, and it deleted the look-alike too."""
    client = server.client()
    look_alikes = ["nself-harness:t:aXb:keep", "nself-harness:t:a:keep", "nself-harness:t:b:keep"]
    client.mset({**{f"{prefix}{n}": "ours" for n in range(3)}, **dict.fromkeys(look_alikes, "theirs")})
    try:
        assert sorted(scan_prefix(client, prefix)) == [f"{prefix}{n}" for n in range(3)]
        assert delete_prefix(client, prefix) == 3
        assert client.exists(*look_alikes) == len(look_alikes)
    finally:
        client.delete(*look_alikes)


def test_a_large_prefix_is_deleted_in_batches_and_a_bound_stops_the_scan(server: Target) -> None:
    client = server.client()
    prefix = "nself-harness:t:bulk:"
    with client.pipeline(transaction=False) as pipe:
        for n in range(2600):
            pipe.set(f"{prefix}{n}", "x", ex=120)
        pipe.execute()
    # One SCAN call with COUNT 10 sees a few keys, not all of them.
    assert 0 < len(scan_prefix(client, prefix, count=10, max_calls=1)) < 2600
    with scratch(client, prefix) as scratch_prefix:
        assert scratch_prefix == prefix
    assert scan_prefix(client, prefix) == []


def test_reads_say_unknown_where_config_is_refused(server: Target) -> None:
    client = server.client()
    assert config_get(client, "maxmemory-policy") == client.config_get("maxmemory-policy")["maxmemory-policy"]
    assert config_get(client, "no-such-directive") is None
    assert config_get(client, "no-such-directive", absent="0") == "0"
    version = server_version(client)
    assert version_tuple(version)[0] >= 6
    client.execute_command("ACL", "SETUSER", "live-reader", "on", ">reader-Pw-77c1", "+@all", "-config", "~*")
    try:
        limited = server.connect(password="reader-Pw-77c1", username="live-reader")
        assert config_get(limited, "maxmemory") is None  # refused by ACL: unknown, not an error
        with pytest.raises(redis.RedisError) as refused:
            limited.config_get("maxmemory")
        assert classify(refused.value) is Kind.ACL
        with pytest.raises(redis.RedisError) as unknown:
            client.execute_command("NO-SUCH-COMMAND")
        assert classify(unknown.value) is Kind.UNKNOWN_COMMAND
    finally:
        client.execute_command("ACL", "DELUSER", "live-reader")


def test_a_clone_has_its_own_pool_and_the_same_server(server: Target) -> None:
    client = server.client()
    other = clone(client, max_connections=1, decode_responses=False)
    try:
        assert other.connection_pool is not client.connection_pool
        assert other.ping() is True
        assert other.connection_pool.max_connections == 1
        assert other.echo("x") == b"x"
    finally:
        other.close()


def _context_of(client: redis.Redis) -> ssl.SSLContext:
    """The context the client's (TLS) connection was wrapped with."""
    connection = client.connection_pool.get_connection()
    try:
        context: ssl.SSLContext = connection._sock.context
        return context
    finally:
        client.connection_pool.release(connection)


def test_tls_connections_share_one_context_and_still_verify(launch: Launcher, tmp_path: Path) -> None:
    """redis-py parsed the system's CA store for every TLS connection (about 35 ms of CPU each);
    every client and socket of one policy now shares one context, which still verifies."""
    endpoint = launch(COMPLETE, "prod").endpoint  # prod serves TLS only
    assert endpoint.tls
    first, cloned = endpoint.client(), clone(endpoint.client())
    assert first.ping()
    assert cloned.ping()
    shared = endpoint.ssl_context()
    assert _context_of(first) is shared
    assert _context_of(cloned) is shared
    with endpoint.open_socket() as raw:
        assert isinstance(raw, ssl.SSLSocket)
        assert raw.context is shared
    # Another CA: refused, as before.
    other = prepare_tls(tmp_path / "other")
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        replace(endpoint, ca_file=str(other.ca_cert)).client().ping()
    # A CA file rewritten in place (a new run's CA at the same path) is read anew.
    moved = tmp_path / "ca.crt"
    shutil.copy(endpoint.ca_file or "", moved)
    trusted = replace(endpoint, ca_file=str(moved))
    assert trusted.client().ping()
    shutil.copy(other.ca_cert, moved)
    assert trusted.ssl_context() is not shared
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        trusted.client().ping()


def test_the_runs_certificates_pass_strict_verification(launch: Launcher, target_kind: str) -> None:
    """Python 3.13's default context verifies strictly (VERIFY_X509_STRICT): it refused a CA
    without a key usage, so every TLS server the run launched was refused there. The run's CA
    and server certificate pass it, checked here on whatever Python runs the tests."""
    endpoint = launch(COMPLETE, "prod", target_kind).endpoint  # prod serves TLS only
    context = ssl.create_default_context(cafile=endpoint.ca_file)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with (
        socket.create_connection((endpoint.host, endpoint.port), timeout=5) as plain,
        context.wrap_socket(plain, server_hostname=endpoint.host) as verified,
    ):
        assert verified.version() in ("TLSv1.2", "TLSv1.3")
        peer = verified.getpeercert()
    assert peer is not None
    assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]


def test_the_system_trust_is_read_again_when_ssl_cert_file_changes(
    launch: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No CA given: the system's CAs, wherever SSL_CERT_FILE points now (a cached context
    from before it changed would refuse the server it now trusts)."""
    launched = launch(COMPLETE, "prod").endpoint
    endpoint = replace(launched, ca_file=None)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        endpoint.client().ping()
    monkeypatch.setenv("SSL_CERT_FILE", str(launched.ca_file))
    assert endpoint.client().ping()
