"""YAML loading that remembers the file and line of every mapping value and list item.

The file is kept per value, not only per document, because merging several compose
files mixes values of different files in one mapping and every message must still cite
the file that set the value. Compose's ``!reset`` and ``!override`` tags are read as
markers for the merge. Shapes YAML allows but no compose file can hold (a list or
mapping as a key, nesting deeper than any compose file needs) are a ``ComposeError``
naming the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import Source, read_text

# Compose files nest a handful of levels; the bound keeps the recursive loader far from
# Python's recursion limit whatever the input.
MAX_DEPTH = 64


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


class _Loader(yaml.SafeLoader):
    name = "compose file"
    file: FileRef | None = None
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise ComposeError(f"{self.name}:{line}: nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.file = loader.file
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (dict, list)):
            raise ComposeError(
                f"{loader.name}:{key_node.start_mark.line + 1}: a mapping key should be a string, "
                f"found {shape_of(key)}"
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = value_node.start_mark.line + 1
        if loader.file is not None:
            result.files[key] = loader.file
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList()
    result.line = node.start_mark.line + 1
    result.file = loader.file
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.lines.append(item.start_mark.line + 1)
        result.files.append(loader.file)
    return result


def _untagged(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return _mapping(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return _sequence(loader, node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


def _reset(loader: _Loader, node: yaml.Node) -> Reset:
    _untagged(loader, node)  # the value is read (so its shape is checked) and ignored
    return Reset()


def _override(loader: _Loader, node: yaml.Node) -> Override:
    return Override(_untagged(loader, node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor("!reset", _reset)
_Loader.add_constructor("!override", _override)


def load_yaml_with_lines(path: Path, name: str | None = None) -> Any:
    """The document of ``path``; ``name`` spells the file in messages and sources (default:
    its bare name)."""
    shown = name or path.name
    text = read_text(path, ComposeError, shown)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader already refuses control characters
        loader.name = shown
        loader.file = FileRef(path, shown)
        return loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            line = mark.line + 1
        elif isinstance(error, yaml.reader.ReaderError):
            line = text[: error.position].count("\n") + 1
        else:
            line = None
        where = shown if line is None else f"{shown}:{line}"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ComposeError(f"{where}: not valid YAML ({problem})") from None
    finally:
        if loader is not None:
            loader.dispose()
