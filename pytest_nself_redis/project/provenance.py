"""Where a value came from, so every message can point at a file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis.errors import HarnessError


@dataclass(frozen=True)
class Source:
    """A file and 1-based line number, or a named default when no file set the value.

    ``name`` is how messages spell the file when its bare name is not enough (a file in a
    folder of the project, such as ``.nself/compose.env``)."""

    path: Path | None = None
    line: int | None = None
    default_of: str | None = None
    name: str | None = None

    @classmethod
    def default(cls, what: str = "documented default") -> Source:
        return cls(default_of=what)

    @property
    def is_default(self) -> bool:
        return self.path is None

    def __str__(self) -> str:
        if self.path is None:
            return self.default_of or "default"
        shown = self.name or self.path.name
        if self.line is None:
            return shown
        return f"{shown}:{self.line}"


def shown_name(path: Path, project_dir: Path) -> str:
    """How messages spell a project file: its path inside the project (``.nself/compose.env``),
    or the whole path for a file elsewhere."""
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return str(path)


def read_text(path: Path, error: type[HarnessError], name: str | None = None) -> str:
    """A project file's text as UTF-8 (a BOM ignored); ``error`` names the file (as ``name``,
    else its bare name), and the line of the first byte that is not UTF-8, so no reader needs
    its own decoding rules."""
    shown = name or path.name
    try:
        data = path.read_bytes()
    except OSError as failure:
        raise error(f"{shown}: cannot be read ({failure.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        line = data[: failure.start].count(b"\n") + 1
        raise error(f"{shown}:{line}: not UTF-8 text") from None
