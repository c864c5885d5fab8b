"""Keeping secrets out of every output.

A secret is the value of ``REDIS_PASSWORD`` or of any key whose name holds
PASSWORD, SECRET or TOKEN, and any password inside a URL. ``Secret`` hides its value
from ``repr``/``str`` (so assertion introspection cannot print it); the
``Redactor`` is the last line of defence that scrubs known values from any text
about to leave the process (reports, logs, terminal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "********"
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<password>[^@/\s]+)@", re.IGNORECASE
)


def is_secret_name(name: str) -> bool:
    """True for env keys whose values must never be shown."""
    return bool(_SECRET_NAME.search(name))


class Secret:
    """A string that does not show itself; call ``reveal()`` where the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret(********)" if self._value else "Secret('')"

    def __str__(self) -> str:
        return MASK if self._value else ""


def redact_url(url: str) -> str:
    """Replace the password of a URL (``redis://:pw@host``) with the mask."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError:
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if port is not None:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, f"{user}:{MASK}@{host}", parts.path, parts.query, parts.fragment))


def url_password(url: str) -> str | None:
    """The (decoded) password inside a URL, so it can be registered as a secret."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


class Redactor:
    """Scrubs every registered secret value (and URL passwords) from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str | Secret | None) -> None:
        raw = value.reveal() if isinstance(value, Secret) else value
        # One- or two-character values would mask ordinary text; nothing that short
        # is a usable secret, and the weak-password check reports it.
        if raw and len(raw) >= 3:
            self._values.add(raw)

    def __contains__(self, text: str) -> bool:
        return any(value in text for value in self._values)

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    def scrub(self, text: str) -> str:
        text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        # Longest first, so a secret containing another is masked whole.
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text
