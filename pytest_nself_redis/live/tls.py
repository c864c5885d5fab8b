"""One TLS context per trust policy, shared by every connection of the run.

redis-py builds a new ``SSLContext`` for each connection it opens, and its
``ssl.create_default_context()`` parses the system's whole CA store each time: about 35 ms of
CPU per connection here. The harness opens hundreds (doctor's workers, clones for blocking
reads, the rate-limit suite's 90 concurrent clients), so it makes each context once and
shares it; an ``SSLContext`` may wrap sockets from many threads at once. The policy is the
one ``ServerAddress`` states: the certificate is checked against the given CA (else the
system's) and the host name is checked, unless the user chose insecure.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
from typing import Any

import redis


def tls_context(
    ca_file: str | None, verify: bool, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """The shared context for this policy. A CA or certificate file rewritten in place (a new
    run's CA at the same path) gets a new context: its size and time are part of the key; so
    does where the system's CAs are read from (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``) when no
    CA is given."""
    system = None if ca_file else _system_trust()
    return _context(ca_file, verify, cert_file, key_file, _stamp(ca_file), _stamp(cert_file), system)


def _system_trust() -> tuple[str | None, tuple[int, int] | None, str | None]:
    paths = ssl.get_default_verify_paths()  # follows SSL_CERT_FILE and SSL_CERT_DIR
    return paths.cafile, _stamp(paths.cafile), paths.capath


def _stamp(path: str | None) -> tuple[int, int] | None:
    if not path:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None  # loading it says what is wrong
    return found.st_mtime_ns, found.st_size


@functools.lru_cache(maxsize=16)
def _context(
    ca_file: str | None,
    verify: bool,
    cert_file: str | None,
    key_file: str | None,
    _ca_stamp: tuple[int, int] | None,
    _cert_stamp: tuple[int, int] | None,
    _system: tuple[str | None, tuple[int, int] | None, str | None] | None,
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


class SharedContextSSLConnection(redis.SSLConnection):  # type: ignore[misc]  # redis-py: untyped
    """redis-py's TLS connection, wrapping its socket with the shared context of its policy.
    Settings the harness never makes (CA data or folders, OCSP, key passwords, verify flags,
    cipher or version limits) keep redis-py's own way."""

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> Any:
        if _own_settings(self):
            return super()._wrap_socket_with_ssl(sock)
        verify = self.cert_reqs != ssl.CERT_NONE
        if verify != bool(self.check_hostname):  # a mix the shared policy does not have
            return super()._wrap_socket_with_ssl(sock)
        context = tls_context(self.ca_certs, verify, self.certfile, self.keyfile)
        return context.wrap_socket(sock, server_hostname=self.host)


def _own_settings(connection: redis.SSLConnection) -> bool:
    return any(
        getattr(connection, name, None)
        for name in (
            "ca_data",
            "ca_path",
            "certificate_password",
            "ssl_validate_ocsp",
            "ssl_validate_ocsp_stapled",
            "ssl_include_verify_flags",
            "ssl_exclude_verify_flags",
            "ssl_min_version",
            "ssl_ciphers",
        )
    )


def share_tls_context(client: redis.Redis) -> redis.Redis:
    """``client`` with its TLS connections (none opened yet) using the shared context."""
    pool = client.connection_pool
    if pool.connection_class is redis.SSLConnection:
        pool.connection_class = SharedContextSSLConnection
    return client
