"""The nself plugin folders this package ships, one per nself generation, and how to install one.

``v0/`` is an nself 0.9.x plugin (``plugin.json`` and ``actions/<action>.sh``, which
``nself plugin install <dir>`` copies to ``~/.nself/plugins/redis-check``); ``v1/`` an nself
1.x manifest-v2 plugin (``nself redis-check`` runs ``bin/nself-redis-check``) with the compose
service that runs ``nself-redis serve`` for ``nself doctor --deep``. Both only run the
``nself-redis`` command of this package, found on PATH or as ``python3 -m pytest_nself_redis.cli``.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

from pytest_nself_redis.errors import HarnessError

NAME = "redis-check"
GENERATIONS = ("0", "1")
_FOLDERS = {"0": "v0", "1": "v1"}
# Where nself runs a plugin's scripts from; they must stay executable wherever they are copied.
_SCRIPTS = ("actions", "bin")


def folder(generation: str) -> Path:
    """The shipped folder for an nself generation ("0" or "1")."""
    return Path(__file__).resolve().parent / _FOLDERS[generation]


def _ours(directory: Path) -> bool:
    """A folder this command installed before (so replacing it loses nothing of the user's)."""
    try:
        return bool(json.loads((directory / "plugin.json").read_text()).get("name") == NAME)
    except (OSError, ValueError, AttributeError):
        return False


def install(generation: str, parent: Path) -> Path:
    """Copy the folder to ``parent/redis-check`` (a previous copy of ours is replaced, anything
    else there is refused) with its scripts executable; the new folder's path."""
    destination = parent.expanduser() / NAME
    if not parent.expanduser().is_dir():
        raise HarnessError(f"--install {parent}: no such directory")
    if destination.exists() and not _ours(destination):
        raise HarnessError(
            f"--install {parent}: {destination} exists and is not a {NAME} plugin; left as it is"
        )
    try:
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(folder(generation), destination, ignore=shutil.ignore_patterns("__pycache__"))
        for scripts in _SCRIPTS:
            for script in (destination / scripts).glob("*"):
                script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError as problem:
        raise HarnessError(
            f"--install {parent}: cannot copy the plugin there ({problem.strerror or problem})"
        ) from None
    return destination
