"""Where a value came from, so every message can point at a file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
