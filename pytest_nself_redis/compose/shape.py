"""What the shape of a project's compose file says about the nself that wrote it.

nself 0.9.x leaves values to compose (``${REDIS_PASSWORD}``); nself 1.x writes them in,
with container limits and hardening. One piece of the generation's evidence
(``project.generation``), read here because reading compose files is this layer's work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_nself_redis.compose.interpolate import referenced_variables
from pytest_nself_redis.compose.names import SERVICE_NAME, find_compose_file
from pytest_nself_redis.compose.yaml_lines import LineDict, LineList
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.generation import Generation

# What the redis service of a 1.x compose file has and a 0.9.x one never does.
_ONE_X_KEYS = ("deploy", "cap_drop", "read_only")


def _strings(value: Any, line: int) -> Iterator[tuple[str, int]]:
    """Every string of a YAML value with its line (mapping keys are not values)."""
    if isinstance(value, str):
        yield value, line
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, value.line_of(key) if isinstance(value, LineDict) else line)
    elif isinstance(value, list):
        lines = value.lines if isinstance(value, LineList) else [line] * len(value)
        for item, item_line in zip(value, lines, strict=False):
            yield from _strings(item, item_line)


def compose_generation(project_dir: Path) -> Generation | None:
    """What the shape of the project's own compose file says: a ``${VAR}`` in the redis
    service is 0.9.x (it leaves values to compose); literal values with container limits or
    hardening are 1.x (it writes them in). None when the file says neither, or cannot be read
    (reading it for real reports that)."""
    path = find_compose_file(project_dir)
    if path is None:
        return None
    # Imported here, as in load_compose_service: PyYAML's import is paid only when a file is read.
    from pytest_nself_redis.compose.yaml_reader import load_yaml_with_lines

    try:
        document = load_yaml_with_lines(path)
    except ComposeError:
        return None
    services = document.get("services") if isinstance(document, LineDict) else None
    service = services.get(SERVICE_NAME) if isinstance(services, LineDict) else None
    if not isinstance(service, LineDict):
        return None
    for text, line in _strings(service, service.line):
        names = sorted(referenced_variables(text))
        if names:
            return Generation(0, f"${{{names[0]}}} interpolated in {path.name}:{line}")
    for key in _ONE_X_KEYS:
        if service.get(key) not in (None, False):
            return Generation(1, f"literal redis service with {key} ({path.name}:{service.line_of(key)})")
    return None
