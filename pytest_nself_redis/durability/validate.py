"""Validating copied snapshots with Redis's own tools, ``redis-check-rdb`` and ``redis-check-aof``.

The tools are found on PATH or beside the redis-server in use (Debian ships them in
redis-tools and redis-server). Each run is bounded in time. On failure the tool's own words
are kept (its error lines, without the routine progress lines), because they say where the
file broke.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nself_redis.durability.snapshot import BackupError, Snapshot, SnapshotFile

TOOL_TIMEOUT_S = 120.0
TOOLS = {"rdb": "redis-check-rdb", "aof": "redis-check-aof"}
# Progress lines both tools print on a good file too.
_ROUTINE = (
    "AUX FIELD",
    "Checking RDB file",
    "Selecting DB ID",
    "[info]",
    "Start checking",
    "Start to check",
    "Checksum OK",
    "RDB looks OK",
    "RDB preamble is OK",
    "is valid",
)
MAX_WORDS = 8


@dataclass(frozen=True)
class Validation:
    """One tool's verdict on one file."""

    tool: str
    file: Path
    ok: bool
    words: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        if self.ok:
            return f"{self.tool} {self.file.name}: valid ({self.seconds:.2f} s)"
        return f"{self.tool} {self.file.name}: NOT valid: " + " | ".join(self.words)


def find_tool(name: str, redis_server: str | None = None) -> str:
    """The tool on PATH, else beside ``redis-server`` (the same binary under another name)."""
    found = shutil.which(name)
    if found:
        return found
    server = shutil.which(redis_server or "redis-server")
    if server:
        beside = Path(server).resolve().parent / name
        if beside.exists() and os.access(beside, os.X_OK):
            return str(beside)
    raise BackupError(
        f"{name} not found: it validates snapshots; install it (apt-get install redis-tools) "
        "or put it on PATH"
    )


def tool_words(output: str) -> list[str]:
    """The lines of a tool's output that say what is wrong (routine progress left out)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    words = [line for line in lines if not any(routine in line for routine in _ROUTINE)]
    return words[:MAX_WORDS] or lines[-MAX_WORDS:]


def validate_file(item: SnapshotFile, redis_server: str | None = None) -> Validation:
    """Run the tool for ``item`` (a dump, or a copied AOF folder's manifest)."""
    tool = find_tool(TOOLS[item.kind], redis_server)
    subject = item.path if item.kind == "rdb" else item.manifest
    if subject is None:
        return Validation(TOOLS[item.kind], item.path, False, [f"no manifest in the copied {item.path.name}"])
    began = time.monotonic()
    try:
        completed = subprocess.run(
            [tool, str(subject)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TOOL_TIMEOUT_S,
            check=False,
            cwd=subject.parent,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        late = [f"did not finish within {TOOL_TIMEOUT_S:.0f} s"]
        return Validation(TOOLS[item.kind], subject, False, late, TOOL_TIMEOUT_S)
    seconds = time.monotonic() - began
    output = completed.stdout + completed.stderr
    if completed.returncode == 0:
        return Validation(TOOLS[item.kind], subject, True, [], seconds)
    return Validation(TOOLS[item.kind], subject, False, tool_words(output), seconds)


def validate(snapshot: Snapshot, redis_server: str | None = None) -> list[Validation]:
    return [validate_file(item, redis_server) for item in snapshot.files]
