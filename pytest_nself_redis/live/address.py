"""Where a server is and how to reach it: one record for targets, checks, the sampler and Node.

The TLS policy lives here and nowhere else: the certificate and the host name are checked
(against the given CA, else the system's) unless the user passed the insecure option. Every
socket and client built from a ``ServerAddress`` follows it, so no check sends a byte (let
alone AUTH) to a server the run's own client would not trust. The password stays a
``Secret``; only the code that sends it reveals it.
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_nself_redis.secrets import Secret

if TYPE_CHECKING:
    import ssl

    import redis

DEFAULT_TIMEOUT = 5.0


@functools.cache
def driver_identity() -> dict[str, Any]:
    """How every client names itself (CLIENT SETINFO), made once and from redis-py's own version
    constant: redis-py 7 otherwise parses its package metadata for each new client (about 2 ms
    each, and doctor makes hundreds)."""
    import redis

    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # before redis-py 7 the version is read once, at import
        return {}
    return {"driver_info": DriverInfo(lib_version=redis.__version__)}


def verifies(kwargs: dict[str, Any]) -> bool:
    """Whether redis-py connection settings check the server's certificate (its default does)."""
    import ssl

    return kwargs.get("ssl_cert_reqs", "required") not in (ssl.CERT_NONE, "none", None)


@dataclass(frozen=True)
class ServerAddress:
    """A Redis server and the credentials and TLS settings to reach it.

    ``verify`` is False only with the user's insecure option: then neither the certificate
    nor the host name is checked. ``cert_file``/``key_file`` are a client certificate."""

    host: str = "127.0.0.1"
    port: int = 6379
    password: Secret = field(default_factory=lambda: Secret(""))
    username: str | None = None
    db: int = 0
    unix_path: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def of(cls, client: redis.Redis, timeout: float = DEFAULT_TIMEOUT) -> ServerAddress:
        """The address a redis-py client uses (its pool's settings); ``timeout`` where it sets none."""
        import redis

        kwargs: dict[str, Any] = client.connection_pool.connection_kwargs
        tls = issubclass(client.connection_pool.connection_class, redis.SSLConnection)
        configured = kwargs.get("socket_timeout")
        return cls(
            host=str(kwargs.get("host") or "127.0.0.1"),
            port=int(kwargs.get("port") or 6379),
            password=Secret(kwargs.get("password") or ""),
            username=kwargs.get("username"),
            db=int(kwargs.get("db") or 0),
            unix_path=kwargs.get("path"),
            tls=tls,
            ca_file=_text(kwargs.get("ssl_ca_certs")) if tls else None,
            cert_file=_text(kwargs.get("ssl_certfile")) if tls else None,
            key_file=_text(kwargs.get("ssl_keyfile")) if tls else None,
            verify=verifies(kwargs) if tls else True,
            timeout=float(configured) if configured else timeout,
        )

    @property
    def unverified_tls(self) -> bool:
        """TLS without certificate checks: only with the user's explicit insecure option."""
        return self.tls and not self.verify

    def client_options(self) -> dict[str, Any]:
        """How our clients talk to it, apart from where and who: timeouts, errors at once instead
        of silent retries, text replies, and the TLS policy (what ``from_url`` takes beside a URL)."""
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "decode_responses": True,
            # redis-py retries refused connections with backoff by default, which hides
            # crashes and costs a second per refusal; the harness wants the error at once.
            "retry": Retry(NoBackoff(), 0),
            **driver_identity(),
        }
        if self.tls:
            import ssl

            options.update(
                ssl_ca_certs=self.ca_file,
                ssl_cert_reqs=ssl.CERT_REQUIRED if self.verify else ssl.CERT_NONE,
                ssl_check_hostname=self.verify,
            )
            if self.cert_file:
                options.update(ssl_certfile=self.cert_file, ssl_keyfile=self.key_file)
        return options

    def redis_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Settings for ``redis.Redis(**...)``: this address with its password, unless ``password``
        overrides it (None: do not authenticate), and ``client_options``."""
        password = overrides.pop("password", self.password.reveal() or None)
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "password": password,
            "username": self.username if password else None,
            **self.client_options(),
        }
        if self.tls:
            kwargs["ssl"] = True
        if self.unix_path:
            kwargs["unix_socket_path"] = self.unix_path
        kwargs.update(overrides)
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        """For sockets of our own: certificate checked against ``ca_file`` (None: the system's
        CAs) and host name checked; nothing checked only when ``verify`` is False. Shared by
        every socket and client with the same policy (``live.tls``)."""
        from pytest_nself_redis.live.tls import tls_context

        return tls_context(self.ca_file, self.verify, self.cert_file, self.key_file)

    def client(self, **overrides: Any) -> redis.Redis:
        """A redis-py client of this address (``redis_kwargs``), its TLS on the shared context."""
        import redis

        from pytest_nself_redis.live.tls import share_tls_context

        return share_tls_context(redis.Redis(**self.redis_kwargs(**overrides)))

    def open_socket(self, *, tls: bool | None = None, timeout: float | None = None) -> socket.socket:
        """A connected socket (the handshake done); TLS as configured unless ``tls`` says otherwise."""
        wait = timeout or self.timeout
        if self.unix_path:
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                raw.settimeout(wait)
                raw.connect(self.unix_path)
            except BaseException:
                raw.close()
                raise
        else:
            raw = socket.create_connection((self.host, self.port), timeout=wait)
        if not (self.tls if tls is None else tls):
            return raw
        try:
            return self.ssl_context().wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise

    def where(self) -> str:
        """``host:port`` (an IPv6 host in brackets), or the socket path."""
        if self.unix_path:
            return self.unix_path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def describe(self) -> str:
        """The address as a URL for reports; the password is masked, never shown."""
        scheme = "rediss" if self.tls else "redis"
        auth = ":********@" if self.password else ""
        if self.unix_path:
            return f"unix://{auth}{self.unix_path}?db={self.db}"
        return f"{scheme}://{auth}{self.where()}/{self.db}"


def _text(value: Any) -> str | None:
    return str(value) if value else None
