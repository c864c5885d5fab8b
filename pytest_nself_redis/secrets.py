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
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

MASK = "********"
# Where a password for a running server may come from instead of argv (visible in `ps`), first wins.
PASSWORD_VARIABLES = ("NSELF_REDIS_PASSWORD", "REDISCLI_AUTH")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# In free text: the userinfo runs to the LAST @ of the URL's word, so a password holding
# / # @ or : is masked whole (over-masking a stray @ later in the word is harmless).
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<password>\S*)@", re.IGNORECASE
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


@dataclass(frozen=True)
class UrlParts:
    """A URL cut without trusting what follows the password: the userinfo is everything
    between ``://`` and the last ``@`` (a password may hold / # ? @ : unencoded)."""

    head: str  # "redis://"
    username: str  # as written (percent-encoded or not)
    password: str | None  # as written; None when the URL has no ":password"
    rest: str  # host[:port][/db][?query]

    def without_userinfo(self) -> str:
        return self.head + self.rest


def split_url(url: str) -> UrlParts | None:
    """The parts of ``scheme://[user[:password]@]rest``; None when ``url`` has no scheme."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    userinfo, at, rest = url[scheme.end() :].rpartition("@")
    if not at:
        return UrlParts(scheme.group(0), "", None, rest)
    username, colon, password = userinfo.partition(":")
    return UrlParts(scheme.group(0), username, password if colon else None, rest)


def redact_url(url: str) -> str:
    """The URL (or text holding URLs) with every password replaced by the mask; never raises."""
    parts = split_url(url)
    if parts is None:
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
    if parts.password is None:
        return url
    return f"{parts.head}{parts.username}:{MASK}@{parts.rest}"


def url_password(url: str) -> str | None:
    """The (decoded) password inside a URL, so it can be registered as a secret."""
    parts = split_url(url)
    if parts is None or not parts.password:
        return None
    return unquote(parts.password)


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

    def add_url(self, url: str | None) -> None:
        """The password of a URL, as written and decoded (either may end up in a message)."""
        parts = split_url(url) if url else None
        if parts is not None and parts.password:
            self.add(parts.password)
            self.add(unquote(parts.password))

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

    def scrub_data(self, data: Any) -> Any:
        """A JSON-able document with every string scrubbed (keys too), before it is serialised:
        scrubbing serialised JSON would miss a secret that escaping changed (a " or \\ in it)."""
        if isinstance(data, str):
            return self.scrub(data)
        if isinstance(data, dict):
            return {self.scrub_data(key): self.scrub_data(value) for key, value in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.scrub_data(item) for item in data]
        if data is None or isinstance(data, (bool, int, float)):
            return data
        return self.scrub(str(data))
