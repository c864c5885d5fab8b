"""A ``redis://`` or ``rediss://`` URL read into a ``ServerAddress``, checked before anything starts.

The attach target, doctor, ``serve`` and ``probe`` all take a URL from the user; one reader
keeps their messages alike (each names the flag the URL came from, never the password) and
loads no redis-py, so the probe stays light.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.secrets import MASK, Secret, redact_url, split_url

URL_FORM = "redis[s]://[:password@]host:port[/db]"
_DB = re.compile(r"[0-9]{1,9}")


def _ca_file(ca_cert: str, ca_flag: str) -> Path:
    """The CA file, checked now: a wrong path would otherwise surface as a failed handshake."""
    import ssl

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


def refuse_password(url: str | None, url_flag: str, why: str) -> None:
    """A command that runs for long or often (probe, serve) takes the password from the
    environment only: its command line is shown to every process (``ps``, ``docker inspect``)."""
    parts = split_url(url.strip()) if url else None
    if parts is not None and parts.password:
        raise TargetError(
            f"{url_flag} holds a password: {why}; leave it out and set NSELF_REDIS_PASSWORD or REDISCLI_AUTH"
        )
