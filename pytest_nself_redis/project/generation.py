"""Which nself wrote the project, 0.9.x (bash) or 1.x (Go), and the evidence for it.

The two read different env files in a different order and write different compose
files, so every other reading depends on this one. The answer always carries the
file (or option) that decided it, for reports to show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nself_redis.errors import ComposeError, ProjectError

# Values of --nself-version: auto (detect), 0 (nself 0.9.x), 1 (nself 1.x).
VERSION_CHOICES = ("auto", "0", "1")
LABELS = {0: "0.9.x", 1: "1.x"}
# What the redis service of a 1.x compose file has and a 0.9.x one never does.
_ONE_X_KEYS = ("deploy", "cap_drop", "read_only")


@dataclass(frozen=True)
class Generation:
    """``major`` is 0 for nself 0.9.x, 1 for nself 1.x; ``evidence`` says what decided it."""

    major: int
    evidence: str

    @property
    def label(self) -> str:
        return LABELS[self.major]

    @property
    def is_1x(self) -> bool:
        return self.major == 1

    @property
    def reason(self) -> str:
        """``1.x: .nself/ folder``: the short phrase messages use."""
        return f"{self.label}: {self.evidence}"

    def __str__(self) -> str:
        """``1.x (.nself/ folder)``: the form of the report row."""
        return f"{self.label} ({self.evidence})"


def forced_generation(value: str, origin: str) -> Generation | None:
    """The generation ``--nself-version`` (or its variable/ini key, named by ``origin``) asks
    for; None for ``auto``."""
    text = value.strip().lower()
    if text == "auto":
        return None
    if text not in VERSION_CHOICES:
        raise ProjectError(
            f"{origin}={value!r}: choose one of {', '.join(VERSION_CHOICES)} "
            "(0 = nself 0.9.x, 1 = nself 1.x, auto = detect from the project)"
        )
    return Generation(int(text), f"forced by {origin} {text}")


def _strings(value: Any, line: int) -> Iterator[tuple[str, int]]:
    """Every string of a YAML value with its line (mapping keys are not values)."""
    from pytest_nself_redis.compose.yaml_lines import LineDict, LineList

    if isinstance(value, str):
        yield value, line
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, value.line_of(key) if isinstance(value, LineDict) else line)
    elif isinstance(value, list):
        lines = value.lines if isinstance(value, LineList) else [line] * len(value)
        for item, item_line in zip(value, lines, strict=False):
            yield from _strings(item, item_line)


def _compose_evidence(project_dir: Path) -> Generation | None:
    """What the shape of the project's own compose file says: a ``${VAR}`` in the redis
    service is 0.9.x (it leaves values to compose); literal values with container limits or
    hardening are 1.x (it writes them in). None when the file says neither, or cannot be read
    (reading it for real reports that)."""
    from pytest_nself_redis.compose.interpolate import referenced_variables
    from pytest_nself_redis.compose.service import SERVICE_NAME, find_compose_file
    from pytest_nself_redis.compose.yaml_lines import LineDict, load_yaml_with_lines

    path = find_compose_file(project_dir)
    if path is None:
        return None
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


def detect_generation(project_dir: Path) -> Generation:
    """The generation the project's files show; 0.9.x when nothing marks it (the harness's
    reading before 1.x existed), which the evidence then says."""
    if (project_dir / ".nself").is_dir():
        return Generation(1, ".nself/ folder")
    if (project_dir / ".env.computed").exists():
        return Generation(1, ".env.computed")
    if (project_dir / ".env.runtime").exists():
        return Generation(0, ".env.runtime")
    found = _compose_evidence(project_dir)
    if found is not None:
        return found
    return Generation(0, "default: no sign of nself 1.x")
