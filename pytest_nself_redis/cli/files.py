"""Files the commands write: whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pytest_nself_redis.errors import HarnessError


def write_atomically(path: Path, text: str, what: str) -> None:
    """Replace ``path`` whole: written under a temporary name in the same directory, then
    renamed, so a reader (node_exporter's textfile collector, docker compose) never sees half a
    file. The temporary name does not end in ``.prom``, so the collector never reads it either;
    ``what`` names the file in errors (``--output FILE``)."""
    directory = path.parent
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # readable by the collector, which rarely runs as this user
    except OSError as problem:
        raise HarnessError(f"{what}: cannot be written ({problem.strerror or problem})") from None
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as problem:
        raise HarnessError(f"{what}: cannot write in {directory} ({problem.strerror or problem})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as problem:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise HarnessError(f"{what}: cannot be written ({problem.strerror or problem})") from None
