"""YAML loading that remembers the line of every mapping value and list item.

Shapes YAML allows but no compose file can hold (a list or mapping as a key, nesting
deeper than any compose file needs) are a ``ComposeError`` naming the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import read_text

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
    return f"a {type(value).__name__}"


class LineDict(dict[Any, Any]):
    """A mapping that knows the 1-based line of each value."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list[Any]):
    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _Loader(yaml.SafeLoader):
    name = "compose file"
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
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (dict, list)):
            raise ComposeError(
                f"{loader.name}:{key_node.start_mark.line + 1}: a mapping key should be a string, "
                f"found {shape_of(key)}"
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = value_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList()
    result.line = node.start_mark.line + 1
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.lines.append(item.start_mark.line + 1)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml_with_lines(path: Path) -> Any:
    text = read_text(path, ComposeError)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader already refuses control characters
        loader.name = path.name
        return loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            line = mark.line + 1
        elif isinstance(error, yaml.reader.ReaderError):
            line = text[: error.position].count("\n") + 1
        else:
            line = None
        where = path.name if line is None else f"{path.name}:{line}"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ComposeError(f"{where}: not valid YAML ({problem})") from None
    finally:
        if loader is not None:
            loader.dispose()
