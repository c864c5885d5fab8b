"""A compose file's YAML read into ``yaml_lines``' values, each with its file and line.

Shapes YAML allows but no compose file can hold (a list or mapping as a key, nesting deeper
than any compose file needs) are a ``ComposeError`` naming the line. A module of its own:
PyYAML costs about 8 ms of import, which a run reading no compose file does not pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_nself_redis.compose.yaml_lines import FileRef, LineDict, LineList, Override, Reset, shape_of
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import read_text

# Compose files nest a handful of levels; the bound keeps the recursive loader far from
# Python's recursion limit whatever the input.
MAX_DEPTH = 64


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
