"""A server that is already running: reached, never launched, never changed.

The URL (``--nself-redis-url``) wins; otherwise 127.0.0.1, REDIS_PORT and
REDIS_PASSWORD from the settings, which is how the host reaches nself's Redis.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from redis import exceptions as redis_errors

from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError, UnreachableError
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.host import ServerHost, local_server
from pytest_nself_redis.live.reads import info
from pytest_nself_redis.secrets import MASK, Secret, redact_url, split_url, url_password
from pytest_nself_redis.targets.base import LOOPBACK, Target, TargetOptions
from pytest_nself_redis.targets.readiness import DENIED_HINT, denied_banner

URL_FORM = "redis[s]://[:password@]host:port[/db]"
_DB = re.compile(r"[0-9]{1,9}")


def _ca_file(ca_cert: str, ca_flag: str) -> Path:
    """The CA file, checked now: a wrong path would otherwise surface as a failed handshake."""
    path = Path(ca_cert).expanduser()
    if path.is_dir():
        raise TargetError(f"{ca_flag} {ca_cert}: a directory, not a certificate file")
    if not path.is_file():
        raise TargetError(f"{ca_flag} {ca_cert}: no such file")
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as error:
        raise TargetError(
            f"{ca_flag} {ca_cert}: holds no PEM certificate ({error.reason or error})"
        ) from None
    except OSError as error:
        raise TargetError(f"{ca_flag} {ca_cert}: cannot be read ({error.strerror})") from None
    return path


def endpoint_from_url(
    url: str,
    ca_cert: str | None = None,
    insecure: bool = False,
    url_flag: str = "--nself-redis-url",
    ca_flag: str = "--nself-redis-ca",
) -> ServerAddress:
    """``redis://`` or ``rediss://`` (TLS: certificate and host name verified with ``ca_cert``
    or the system's CAs; not verified only with ``insecure``, the user's explicit choice).

    The userinfo is cut off first (everything up to the last ``@``), so a password holding
    / # ? @ or : is neither misread as host, path or fragment nor shown in a message; every
    message names the flag the URL came from."""
    if not url.strip():
        raise TargetError(f"{url_flag} is empty: expected {URL_FORM}")
    parts = split_url(url.strip())
    # Without a scheme nothing says where a password ends: show only what follows the last @.
    shown = redact_url(url) if parts else f"{MASK}@{url.rpartition('@')[2]}" if "@" in url else url
    if parts is None or parts.head.lower() not in ("redis://", "rediss://"):
        raise TargetError(f"{url_flag} {shown} is not a redis:// or rediss:// URL with a host")
    try:
        location = urlsplit(parts.without_userinfo())
    except ValueError as error:
        raise TargetError(f"{url_flag} {shown} is not a valid URL ({error})") from None
    if not location.hostname:
        raise TargetError(f"{url_flag} {shown} is not a redis:// or rediss:// URL with a host")
    try:
        port = 6379 if location.port is None else location.port
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise TargetError(f"{url_flag} {shown} is not a valid URL: the port must be a number from 1 to 65535")
    db_text = location.path.lstrip("/") or "0"
    if not _DB.fullmatch(db_text):
        raise TargetError(f"{url_flag} {shown}: the path must be a db number")
    tls = location.scheme.lower() == "rediss"
    if ca_cert is not None and not tls:
        raise TargetError(f"{ca_flag} applies only to a rediss:// {url_flag} (TLS); {shown} is not one")
    ca_path = _ca_file(ca_cert, ca_flag) if ca_cert is not None else None
    return ServerAddress(
        host=location.hostname,
        port=port,
        password=Secret(unquote(parts.password or "")),
        username=unquote(parts.username) if parts.username else None,
        db=int(db_text),
        tls=tls,
        ca_file=str(ca_path) if ca_path is not None else None,
        verify=not (tls and insecure),
    )


def check_attach_options(
    url: str | None,
    ca_cert: str | None,
    url_flag: str = "--nself-redis-url",
    ca_flag: str = "--nself-redis-ca",
) -> None:
    """Refuse a bad URL or CA before anything starts (a CA means nothing without a rediss:// URL)."""
    if url is not None:
        endpoint_from_url(url, ca_cert, url_flag=url_flag, ca_flag=ca_flag)
    elif ca_cert is not None:
        raise TargetError(f"{ca_flag} applies only to a rediss:// {url_flag} (TLS); no URL was given")


class AttachTarget(Target):
    kind = "attach"
    launched = False

    def __init__(self, context: EnvContext, options: TargetOptions) -> None:
        super().__init__(context, options)
        if options.redis_url is not None:
            planned = endpoint_from_url(
                options.redis_url, options.redis_ca, options.insecure, options.url_flag, options.ca_flag
            )
            if not planned.password and context.password_variable:
                # A URL without a password takes it from the environment (kept out of argv).
                planned = replace(planned, password=context.settings.password.value)
            self._planned = replace(planned, timeout=options.socket_timeout)
            self._how = options.url_flag
        else:
            settings = context.settings
            if not settings.port.value:
                raise TargetError(
                    f"cannot attach: {settings.port.cite()} publishes no host port; "
                    "pass --nself-redis-url redis://host:port"
                )
            self._planned = ServerAddress(
                LOOPBACK, settings.port.value, settings.password.value, timeout=options.socket_timeout
            )
            self._how = f"{settings.port.cite()}"

    def start(self) -> None:
        self._endpoint = self._planned
        self.ping_error: str | None = None
        where = f"{self._planned.host}:{self._planned.port} (from {self._how})"
        client = self.client()
        try:
            client.ping()
        except redis_errors.BusyLoadingError as error:
            # Reachable, authenticated, still loading its dataset: a finding for the health
            # suite (and doctor), not a reason to refuse to look.
            self.ping_error = str(error)
        except redis_errors.AuthenticationError as error:
            source = self._password_source()
            if "NOAUTH" in str(error) or "required" in str(error).lower():
                raise TargetError(
                    f"{where} requires a password and none was given (password from {source})"
                ) from None
            raise TargetError(
                f"{where} rejected the password from {source} (WRONGPASS); the password is not shown"
            ) from None
        except redis_errors.ResponseError as error:
            if "NOAUTH" in str(error):
                raise TargetError(f"{where} requires a password and none was given") from None
            if "DB index is out of range" in str(error):
                raise TargetError(
                    f"{where} has no db {self._planned.db} (its `databases` setting is lower): "
                    f"use a smaller db number in the path of {self.options.url_flag}"
                ) from None
            # e.g. MISCONF after a failed snapshot: the server is there and unwell; the
            # suites say what is wrong, so the run goes on.
            self.ping_error = str(error)
        except redis_errors.TimeoutError:
            raise UnreachableError(
                f"{where} accepted the connection but did not answer within "
                f"{self.options.socket_timeout:.1f} s: a hung server, or not Redis"
            ) from None
        except redis_errors.ConnectionError as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):
                raise TargetError(self._untrusted(where, str(error))) from None
            if "closed by server" in str(error) and denied_banner((self._planned.host, self._planned.port)):
                raise UnreachableError(f"{where} refuses this client (-DENIED): {DENIED_HINT}") from None
            raise UnreachableError(f"nothing answers as Redis at {where}: {error}") from None
        except (OSError, redis_errors.RedisError) as error:
            raise UnreachableError(f"{where} does not speak the Redis protocol ({error})") from None

    def _password_source(self) -> str:
        url = self.options.redis_url
        if url and (url_password(url) or not self.context.password_variable):
            return "the URL"
        return self.context.settings.password.cite()

    def _untrusted(self, where: str, error: str) -> str:
        found = re.search(r"certificate verify failed: ([^(]+)", error)
        against = self._planned.ca_file or "the system's CAs"
        return (
            f"{where} presented a TLS certificate this run does not trust "
            f"({found.group(1).strip() if found else 'certificate verify failed'}; checked against "
            f"{against}, host name {self._planned.host}): nothing was sent to it. Pass the CA that "
            "signed it (--nself-redis-ca, doctor --redis-ca), or skip verification explicitly with "
            "--nself-redis-insecure (doctor --insecure)"
        )

    def stop(self) -> None:
        self.close_clients()

    def server_host(self) -> ServerHost | None:
        """This machine, when told the server runs here (``local``): the process INFO names."""
        if not self.options.local:
            return None
        try:
            fields = info(self.client(), "server")
            return local_server(int(fields.get("process_id", 0)), int(fields.get("tcp_port", 0)))
        except (redis_errors.RedisError, OSError, ValueError) as error:
            why = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return ServerHost(None, why_no_pid=f"INFO server could not be read ({why})")

    def log_tail(self, lines: int = 40) -> str:
        return "(attached server: its log is not reachable from here)"

    def describe(self) -> str:
        endpoint = self._endpoint or self._planned
        return f"attach {endpoint.describe()}"
