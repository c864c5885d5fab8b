"""The redis service of several compose files, merged as Compose merges them.

Compose's rules (the Compose Specification's "merge" section and compose-go): a mapping
merges key by key; a scalar is replaced by the later file; a sequence is appended to.
Exceptions: ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced whole;
``environment``, ``labels``, ``sysctls`` and ``annotations`` merge by name whether written
as a mapping or as ``KEY=value`` items; ``volumes`` keep one entry per target path and
``ports`` one per {ip, published, target, protocol}, a later entry taking the place of an
earlier one; ``cap_add``, ``cap_drop``, ``tmpfs``, ``dns`` and the like keep one entry per
value. ``!reset`` removes what earlier files set, ``!override`` replaces it without merging.
Every value keeps the file and line it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.ports import as_text, parse_port
from pytest_nself_redis.compose.yaml_lines import FileRef, LineDict, LineList, Override, Reset, shape_of
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import Source

Where = tuple[FileRef | None, int]
KeyPath = tuple[str, ...]

REPLACED: frozenset[KeyPath] = frozenset({("command",), ("entrypoint",), ("healthcheck", "test")})
BY_NAME: frozenset[KeyPath] = frozenset(
    {("environment",), ("labels",), ("sysctls",), ("annotations",), ("deploy", "labels")}
)
# Sequences whose items are kept once each (a later equal item takes the earlier one's place).
ONE_PER_VALUE: frozenset[KeyPath] = frozenset(
    {("cap_add",), ("cap_drop",), ("tmpfs",), ("dns",), ("dns_search",), ("dns_opt",), ("profiles",)}
)
# Of those, the ones compose also takes as a single string.
_STRING_OR_LIST: frozenset[KeyPath] = frozenset({("tmpfs",), ("dns",), ("dns_search",)})
# Special rules the harness needs; elsewhere a value in a shape the rule cannot take is
# merged by the general rule, since nothing here reads it (compose itself would say so).
_READ: frozenset[KeyPath] = frozenset(
    {("environment",), ("sysctls",), ("ports",), ("volumes",), ("cap_add",), ("cap_drop",), ("tmpfs",)}
)


def _text(where: Where) -> str:
    file, line = where
    return f"{file.name}:{line}" if file is not None else f"line {line}"


def _name_items(value: Any, where: Where, path: KeyPath) -> LineDict:
    """``environment``-like values as a mapping of name to value (None: no value given)."""
    result = LineDict()
    result.file, result.line = where
    if isinstance(value, dict):
        for key, item in value.items():
            item_where = value.locate(key) if isinstance(value, LineDict) else where
            if isinstance(item, (dict, list)):
                what = f"{path[-1]} {key}"
                raise ComposeError(f"{_text(item_where)}: {what} should be a string, found {shape_of(item)}")
            result.put(str(key), item, item_where)
        return result
    if isinstance(value, list):
        for index, item in enumerate(value):
            item_where = value.locate(index) if isinstance(value, LineList) else where
            text = as_text(item, _text(item_where), f"{path[-1]} item")
            key, sep, assigned = text.partition("=")
            result.put(key, assigned if sep else None, item_where)
        return result
    raise ComposeError(
        f"{_text(where)}: {'.'.join(path)} should be a mapping or a list, found {shape_of(value)}"
    )


def _as_list(value: Any, where: Where, path: KeyPath, strings_too: bool) -> LineList:
    if isinstance(value, LineList):
        return value
    result = LineList()
    result.file, result.line = where
    if isinstance(value, list):
        for item in value:
            result.add(item, where)
        return result
    if strings_too and isinstance(value, str):
        result.add(value, where)
        return result
    kind = "a string or a list" if strings_too else "a list"
    raise ComposeError(f"{_text(where)}: {'.'.join(path)} should be {kind}, found {shape_of(value)}")


def _one_per_key(base: LineList | None, over: LineList, key_of: Callable[[Any, Where], Any]) -> LineList:
    """``base`` then ``over``'s items, one per key: a later item takes the earlier's place."""
    result = LineList()
    result.file, result.line = over.file, over.line
    positions: dict[Any, int] = {}
    for items in (base if base is not None else LineList(), over):
        for index, item in enumerate(items):
            where = items.locate(index)
            key = key_of(item, where)
            if key in positions:
                result.replace(positions[key], item, where)
            else:
                positions[key] = len(result)
                result.add(item, where)
    return result


class _Merger:
    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = variables

    def port_key(self, item: Any, where: Where) -> Any:
        file, line = where
        source = Source(file.path, line, name=file.name) if file is not None else Source(line=line)
        return parse_port(item, source, self.variables).unique_key

    def volume_key(self, item: Any, where: Where) -> Any:
        text = _text(where)
        if isinstance(item, str):
            spec = interpolate(item, self.variables, text)
            parts = spec.split(":")
            return parts[1] if len(parts) > 1 else parts[0]
        if isinstance(item, dict):
            return interpolate(as_text(item.get("target", ""), text, "volume target"), self.variables, text)
        raise ComposeError(f"{text}: a volume should be a string or a mapping, found {shape_of(item)}")

    def value_key(self, path: KeyPath) -> Callable[[Any, Where], Any]:
        """Compose's key for items such as ``cap_drop``: the item, up to a ``=``."""

        def key(item: Any, where: Where) -> Any:
            text = _text(where)
            value = interpolate(as_text(item, text, f"{path[-1]} item"), self.variables, text)
            return value.partition("=")[0]

        return key

    def mapping(self, into: LineDict, over: LineDict, path: KeyPath) -> LineDict:
        for key, value in over.items():
            where = over.locate(key)
            child = (*path, str(key))
            if isinstance(value, Reset):
                into.pop(key, None)
                into.lines.pop(key, None)
                into.files.pop(key, None)
            elif isinstance(value, Override):
                into.put(key, self.value(None, value.value, child, where), where)
            elif value is None and into.get(key) is not None:
                continue  # null in a later file leaves the earlier value
            else:
                into.put(key, self.value(into.get(key), value, child, where), where)
        return into

    def value(self, base: Any, over: Any, path: KeyPath, where: Where) -> Any:
        """``over`` merged onto ``base`` (None: nothing before) at ``path``."""
        if isinstance(over, Override):
            base, over = None, over.value
        if over is None or isinstance(over, Reset):
            return None
        if path in REPLACED:
            return over
        if path in _READ:
            return self.special(base, over, path, where)
        try:
            return self.special(base, over, path, where)
        except ComposeError:
            return self.general(base, over, path, where)

    def special(self, base: Any, over: Any, path: KeyPath, where: Where) -> Any:
        """The attribute's own rule, where it has one."""
        if path in BY_NAME:
            merged = _name_items(base, where, path) if base is not None else LineDict()
            return self.mapping(merged, _name_items(over, where, path), path)
        if path == ("ports",):
            return self.unique(base, over, where, path, self.port_key, strings_too=False)
        if path == ("volumes",):
            return self.unique(base, over, where, path, self.volume_key, strings_too=False)
        if path in ONE_PER_VALUE:
            strings_too = path in _STRING_OR_LIST
            return self.unique(base, over, where, path, self.value_key(path), strings_too=strings_too)
        return self.general(base, over, path, where)

    def general(self, base: Any, over: Any, path: KeyPath, where: Where) -> Any:
        """Mappings merge by key, sequences append, anything else is replaced."""
        if isinstance(over, LineDict):
            into = LineDict()
            into.file, into.line = over.file, over.line
            if isinstance(base, LineDict):
                for key in base:
                    into.put(key, base[key], base.locate(key))
            return self.mapping(into, over, path)
        if isinstance(over, list) and isinstance(base, list):
            result = LineList()
            result.file, result.line = over.file if isinstance(over, LineList) else None, where[1]
            for items in (base, over):
                for index, item in enumerate(items):
                    result.add(item, items.locate(index) if isinstance(items, LineList) else where)
            return result
        return over

    def unique(
        self,
        base: Any,
        over: Any,
        where: Where,
        path: KeyPath,
        key_of: Callable[[Any, Where], Any],
        *,
        strings_too: bool,
    ) -> LineList:
        over_list = _as_list(over, where, path, strings_too)
        base_list = _as_list(base, where, path, strings_too) if base is not None else None
        return _one_per_key(base_list, over_list, key_of)


def merge_services(services: Sequence[LineDict], variables: Mapping[str, str]) -> LineDict:
    """One redis service from the service of each file, first to last (a later file wins)."""
    merger = _Merger(variables)
    merged = LineDict()
    merged.file, merged.line = services[0].file, services[0].line
    for service in services:
        merger.mapping(merged, service, ())
    return merged
