"""Compose values that remember the file and line of every mapping value and list item.

The file is kept per value, not only per document, because merging several compose
files mixes values of different files in one mapping and every message must still cite
the file that set the value. Compose's ``!reset`` and ``!override`` tags become markers
for the merge. ``yaml_reader`` makes these values from a file; this module holds no
parser, so what only handles the values (a service rendered from the settings, as doctor
uses) does not import PyYAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nself_redis.project.provenance import Source


def shape_of(value: Any) -> str:
    """What a YAML value is, in the words a message uses ("a list", "a number")."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Reset):
        return "!reset"
    if isinstance(value, Override):
        return shape_of(value.value)
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class FileRef:
    """A compose file and how messages spell it."""

    path: Path
    name: str


class Reset:
    """``!reset``: the merge removes what earlier files set here."""

    def __repr__(self) -> str:
        return "!reset"


@dataclass(frozen=True)
class Override:
    """``!override``: the merge replaces what earlier files set here instead of merging."""

    value: Any


class LineDict(dict[Any, Any]):
    """A mapping that knows the file and 1-based line of each value."""

    line: int = 0
    file: FileRef | None = None

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}
        self.files: dict[Any, FileRef] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)

    def file_of(self, key: Any) -> FileRef | None:
        return self.files.get(key, self.file)

    def source_of(self, key: Any) -> Source:
        """Where the value of ``key`` was written (the mapping itself when it has no such key)."""
        return _source(self.file_of(key), self.line_of(key))

    def own_source(self) -> Source:
        return _source(self.file, self.line)

    def locate(self, key: Any) -> tuple[FileRef | None, int]:
        return self.file_of(key), self.line_of(key)

    def put(self, key: Any, value: Any, where: tuple[FileRef | None, int]) -> None:
        """Set ``key`` to ``value`` written at ``where`` (a ``locate`` answer)."""
        file, line = where
        self[key] = value
        self.lines[key] = line
        if file is not None:
            self.files[key] = file


class LineList(list[Any]):
    """A list that knows the file and 1-based line of each item."""

    line: int = 0
    file: FileRef | None = None

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []
        self.files: list[FileRef | None] = []

    def locate(self, index: int) -> tuple[FileRef | None, int]:
        line = self.lines[index] if index < len(self.lines) else self.line
        file = self.files[index] if index < len(self.files) else None
        return file or self.file, line

    def source_at(self, index: int) -> Source:
        return _source(*self.locate(index))

    def own_source(self) -> Source:
        return _source(self.file, self.line)

    def add(self, value: Any, where: tuple[FileRef | None, int]) -> None:
        """Append ``value`` written at ``where`` (a ``locate`` answer)."""
        file, line = where
        self.append(value)
        self.lines.append(line)
        self.files.append(file)

    def replace(self, index: int, value: Any, where: tuple[FileRef | None, int]) -> None:
        self[index] = value
        self.lines[index] = where[1]
        self.files[index] = where[0]


def _source(file: FileRef | None, line: int) -> Source:
    if file is None:
        return Source(default_of=f"line {line}")
    return Source(file.path, line, name=file.name)
