"""Where a value came from, so every message can point at a file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis.errors import HarnessError


@dataclass(frozen=True)
class Source:
    """A file and 1-based line number, or a named default when no file set the value."""

    path: Path | None = None
    line: int | None = None
    default_of: str | None = None

    @classmethod
    def default(cls, what: str = "documented default") -> Source:
        return cls(default_of=what)

    @property
    def is_default(self) -> bool:
        return self.path is None

    def __str__(self) -> str:
        if self.path is None:
            return self.default_of or "default"
        if self.line is None:
            return self.path.name
        return f"{self.path.name}:{self.line}"


def read_text(path: Path, error: type[HarnessError]) -> str:
    """A project file's text as UTF-8 (a BOM ignored); ``error`` names the file, and the line
    of the first byte that is not UTF-8, so no reader needs its own decoding rules."""
    try:
        data = path.read_bytes()
    except OSError as failure:
        raise error(f"{path.name}: cannot be read ({failure.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        line = data[: failure.start].count(b"\n") + 1
        raise error(f"{path.name}:{line}: not UTF-8 text") from None
