"""Which compose files the Redis service is read from, in the order Compose merges them.

nself 1.x lists them in ``.nself/compose-files.txt`` (one path a line, relative to the
project). Otherwise Compose's own default applies: the project's compose file and, beside
it, its ``.override`` file when there is one. ``--nself-compose a.yml,b.yml`` names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis.compose.names import find_compose_file
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import read_text, shown_name

COMPOSE_FILES_LIST = ".nself/compose-files.txt"
_OVERRIDE_SUFFIXES = (".override.yml", ".override.yaml")


@dataclass(frozen=True)
class ComposeFiles:
    """The files, how messages spell each, and what chose them."""

    paths: tuple[Path, ...]
    names: tuple[str, ...]
    chosen_by: str


def _files(project_dir: Path, paths: list[Path], chosen_by: str) -> ComposeFiles:
    return ComposeFiles(tuple(paths), tuple(shown_name(path, project_dir) for path in paths), chosen_by)


def default_files(project_dir: Path) -> ComposeFiles | None:
    """The project's compose file and its override (``docker-compose.override.yml`` beside
    ``docker-compose.yml``), as ``docker compose`` reads them without ``-f``."""
    base = find_compose_file(project_dir)
    if base is None:
        return None
    stem = base.name.rsplit(".", 1)[0]
    overrides = [project_dir / f"{stem}{suffix}" for suffix in _OVERRIDE_SUFFIXES]
    override = next((path for path in overrides if path.exists()), None)
    if override is None:
        return _files(project_dir, [base], base.name)
    return _files(project_dir, [base, override], f"{base.name} with {override.name}")


def listed_files(project_dir: Path) -> ComposeFiles | None:
    """The files ``.nself/compose-files.txt`` lists (blank and ``#`` lines skipped), or None
    when there is no such list; a listed file that is missing is an error at its line."""
    listing = project_dir / COMPOSE_FILES_LIST
    if not listing.exists():
        return None
    paths = []
    for number, line in enumerate(read_text(listing, ComposeError, COMPOSE_FILES_LIST).split("\n"), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry) if Path(entry).is_absolute() else project_dir / entry
        if not path.exists():
            raise ComposeError(
                f"{COMPOSE_FILES_LIST}:{number}: {entry} does not exist (the paths listed are relative "
                f"to the project {project_dir}); run `nself build` to write the files again"
            )
        paths.append(path)
    return _files(project_dir, paths, COMPOSE_FILES_LIST) if paths else None


def named_files(project_dir: Path, listed: str, origin: str = "--nself-compose") -> ComposeFiles:
    """The comma-separated files of ``--nself-compose a.yml,b.yml``, relative to the project."""
    paths = []
    for entry in (part.strip() for part in listed.split(",")):
        if not entry:
            continue
        path = Path(entry).expanduser()
        path = path if path.is_absolute() else project_dir / path
        if not path.exists():
            raise ComposeError(
                f"{origin} {entry}: no such file (relative paths are read from the project {project_dir}; "
                "the other values are auto, file and render)"
            )
        paths.append(path)
    if not paths:
        raise ComposeError(f"{origin} {listed!r}: names no file")
    return _files(project_dir, paths, origin)


def project_files(project_dir: Path, use_list: bool) -> ComposeFiles | None:
    """What compose reads for the project: the 1.x list when ``use_list`` and it is there,
    else the default files; None when there is no compose file at all."""
    if use_list:
        listed = listed_files(project_dir)
        if listed is not None:
            return listed
    return default_files(project_dir)
