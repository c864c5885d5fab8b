"""Where a project's compose file is, found without reading it (no YAML loaded).

Light on purpose: ``nself-redis probe`` asks whether there is a compose file before it pays
for parsing one.
"""

from __future__ import annotations

from pathlib import Path

COMPOSE_FILE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
SERVICE_NAME = "redis"


def find_compose_file(project_dir: Path) -> Path | None:
    """The first compose file there is; one that cannot be read (a directory, no permission)
    is still found, so reading it says so instead of silently rendering the service."""
    for name in COMPOSE_FILE_NAMES:
        candidate = project_dir / name
        if candidate.exists():
            return candidate
    return None
