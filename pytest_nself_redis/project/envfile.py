"""Parsing nself ``.env`` files with a file:line for every value.

The format is what nself's loader accepts: ``KEY=VALUE`` lines, an optional
``export`` prefix, ``#`` comments (whole-line, or after whitespace in an unquoted
value), one layer of matching quotes stripped, and no variable expansion. Anything
else is an error naming the file and line, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nself_redis.errors import ProjectError
from pytest_nself_redis.project.provenance import Source, read_text
from pytest_nself_redis.secrets import MASK, is_secret_name

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INLINE_COMMENT = re.compile(r"\s#")
_WORD = re.compile(r"[A-Za-z0-9_.-]+")


class EnvFileError(ProjectError):
    """A line of an env file that nself would not load as we read it."""


@dataclass(frozen=True)
class EnvEntry:
    key: str
    value: str
    source: Source


@dataclass
class EnvFile:
    path: Path
    entries: dict[str, EnvEntry] = field(default_factory=dict)

    def get(self, key: str) -> EnvEntry | None:
        return self.entries.get(key)


def _shown(text: str, limit: int) -> str:
    """A malformed line as it may be quoted in an error: cut after the first word that names a
    secret (``REDIS_PASSWORD Sup3r...`` shows only the name), since what follows may be its value."""
    for word in _WORD.finditer(text):
        if is_secret_name(word.group()) and text[word.end() :].strip():
            shown = text[: min(word.end(), limit)]
            return f"{shown!r} followed by {MASK} (the rest is not shown: it may be a secret)"
    return repr(text[:limit])


def _unquote(raw: str, key: str, where: str) -> str:
    quote = raw[0]
    end = raw.find(quote, 1)
    if end == -1:
        raise EnvFileError(f"{where}: the value opens a {quote} quote that is never closed")
    rest = raw[end + 1 :].strip()
    if rest and not rest.startswith("#"):
        seen = MASK if is_secret_name(key) else repr(rest[:20])
        raise EnvFileError(f"{where}: unexpected text {seen} after the closing {quote} quote")
    return raw[1:end]


def parse_line(line: str, where: str) -> tuple[str, str] | None:
    """One line to ``(key, value)``; ``None`` for blank and comment lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("export") and text[6:7] in (" ", "\t"):
        text = text[6:].lstrip()
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise EnvFileError(f"{where}: expected KEY=VALUE, found {_shown(text, 40)}")
    if not _KEY.match(key):
        raise EnvFileError(
            f"{where}: {_shown(key, 40)} is not a valid variable name "
            "(letters, digits and _, not starting with a digit)"
        )
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        value = _unquote(raw, key, where)
    else:
        comment = _INLINE_COMMENT.search(raw)
        value = raw[: comment.start()].rstrip() if comment else raw
    if "\x00" in value:
        raise EnvFileError(f"{where}: the value of {key} contains a NUL character")
    return key, value


def parse_env_text(text: str, path: Path, name: str | None = None) -> EnvFile:
    """``name`` spells the file in messages and sources when its bare name is not enough."""
    env = EnvFile(path)
    shown = name or path.name
    for number, line in enumerate(text.split("\n"), start=1):
        parsed = parse_line(line.removesuffix("\r"), f"{shown}:{number}")
        if parsed is not None:
            key, value = parsed
            env.entries[key] = EnvEntry(key, value, Source(path, number, name=name))
    return env


def read_env_file(path: Path, name: str | None = None) -> EnvFile:
    return parse_env_text(read_text(path, EnvFileError, name), path, name)
