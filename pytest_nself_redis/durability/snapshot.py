"""Taking a backup of a running server the way an operator would, while writes go on.

The RDB: ``BGSAVE``, waited for, then the file copied out (Redis renames a finished snapshot
into place, so the copy is whole). The AOF directory (Redis 7's multi-part AOF), when AOF is
on, by the procedure Redis documents: automatic rewrites paused, no rewrite running, the
folder copied, rewrites restored. The append-only file being written may end in the middle of
a command at the moment of the copy; only such a partial last command is cut, which is what
Redis itself does when it loads a truncated AOF (``aof-load-truncated``); anything else wrong
is left for the validation to find.

A server whose last save failed is refused: its files on disk are not what it holds.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.errors import ExitStatus, HarnessError
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.targets.base import Target

SAVE_TIMEOUT_S = 120.0
REWRITE_WAIT_S = 60.0
POLL_S = 0.02
STATUS_FIELDS = ("rdb_last_bgsave_status", "aof_last_write_status", "aof_last_bgrewrite_status")
# What Redis logs when a save or an AOF write fails: the cause first, the outcome as fallback.
_SAVE_CAUSE = re.compile(
    r"Error moving temp|Failed opening|Write error|Can't save|Error trying to save|"
    r"Error writing to the AOF|Background AOF rewrite .*error|Error opening",
    re.IGNORECASE,
)
_SAVE_OUTCOME = re.compile(r"Background saving error|MISCONF", re.IGNORECASE)
# Redis's log prefix: pid, role, date and level.
_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [#*.-] ")
_BUSY = ("already in progress", "another child process is active", "can't bgsave right now")


class BackupError(HarnessError):
    """The backup cannot be taken or used; the message names the cause."""

    exit_status = ExitStatus.CHECK_FAILED


@dataclass(frozen=True)
class SnapshotFile:
    kind: str  # rdb or aof
    path: Path  # the copy (a file, or the AOF folder)
    size: int
    trimmed_bytes: int = 0  # a command cut short by the copy (AOF only)

    @property
    def manifest(self) -> Path | None:
        """The AOF manifest in a copied folder (what redis-check-aof is given)."""
        if self.kind != "aof":
            return None
        found = sorted(self.path.glob("*.manifest"))
        return found[0] if found else None


@dataclass
class Snapshot:
    """The files copied out, and when: every write acknowledged before ``saved_at`` is in the
    RDB, every one before ``aof_copied_at`` in the AOF copy (``time.monotonic()`` seconds)."""

    folder: Path
    files: list[SnapshotFile] = field(default_factory=list)
    save_seconds: float = 0.0
    copy_seconds: float = 0.0
    saved_at: float = 0.0
    aof_copied_at: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(item.size for item in self.files)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size


def _logged_cause(log: str) -> str:
    """The last line of the server's log that says why a save failed (its cause when logged)."""
    lines = [_LOG_PREFIX.sub("", line.strip()) for line in log.splitlines()]
    found = [line for line in lines if _SAVE_CAUSE.search(line)] or [
        line for line in lines if _SAVE_OUTCOME.search(line)
    ]
    return f"; the server's log says: {found[-1]}" if found else ""


def refuse_failed_save(target: Target, info: dict[str, object]) -> None:
    """A backup of a server whose last save or AOF write failed would not hold what it holds."""
    aof_on = str(info.get("aof_enabled", "0")) == "1"
    names = STATUS_FIELDS if aof_on else STATUS_FIELDS[:1]
    failed = [f"{name}={info[name]}" for name in names if name in info and str(info[name]) != "ok"]
    if not failed:
        return
    why = _logged_cause(target.log_tail(200))
    raise BackupError(
        f"refused to back up {target.describe()}: its last save failed ({', '.join(failed)}){why}. "
        "The files on its disk are older than its data (and with stop-writes-on-bgsave-error it "
        "refuses writes): fix what makes the save fail (disk space, permissions, the data dir) first"
    )


def background_save(client: redis.Redis, timeout: float = SAVE_TIMEOUT_S) -> tuple[float, float]:
    """BGSAVE (waiting out a save or rewrite already running) and wait for it to end; returns
    (sent_at, seconds). A failed save raises with Redis's status."""
    deadline = time.monotonic() + timeout
    while True:
        sent_at = time.monotonic()
        try:
            # Not SCHEDULE (redis-py's default): during an AOF rewrite that answers "scheduled"
            # with no save running yet, and the wait below would end before any save began.
            client.bgsave(schedule=False)
            break
        except redis_errors.ResponseError as error:
            if not any(text in str(error).lower() for text in _BUSY) or time.monotonic() > deadline:
                raise BackupError(f"BGSAVE was refused: {error}") from None
            time.sleep(POLL_S * 5)
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not int(info["rdb_bgsave_in_progress"]):
            if info["rdb_last_bgsave_status"] != "ok":
                raise BackupError(
                    f"the BGSAVE failed: rdb_last_bgsave_status={info['rdb_last_bgsave_status']}"
                )
            return sent_at, time.monotonic() - sent_at
        time.sleep(POLL_S)
    raise BackupError(f"the BGSAVE did not finish within {timeout:.0f} s")


def complete_commands(data: bytes) -> int:
    """How many leading bytes of an append-only file are whole RESP commands; a malformed
    command (not a cut one) counts as whole, so the validation sees it."""
    position = 0
    length = len(data)
    while position < length:
        end = _command_end(data, position)
        if end is None:
            return position
        if end < 0:
            return length
        position = end
    return position


def _counted_line(data: bytes, position: int, marker: bytes) -> tuple[int, int] | int | None:
    """The ``marker``-and-number line at ``position`` (``*3``, ``$5``): (the number, where the
    next line starts); None when the data stops inside the line, -1 when it is another line."""
    line_end = data.find(b"\r\n", position)
    if line_end < 0:
        return None
    line = data[position:line_end]
    if not line.startswith(marker) or not line[1:].isdigit():
        return -1
    return int(line[1:]), line_end + 2


def _command_end(data: bytes, start: int) -> int | None:
    """The end of the command at ``start``; None when the data stops inside it, -1 when it is
    not a command at all."""
    header = _counted_line(data, start, b"*")
    if not isinstance(header, tuple):
        return header
    count, position = header
    for _ in range(count):
        bulk = _counted_line(data, position, b"$")
        if not isinstance(bulk, tuple):
            return bulk
        length, position = bulk
        position += length + 2
        if position > len(data):
            return None
    return position


def _trim_last_incr(folder: Path) -> int:
    """Cut a command the copy caught half-written at the end of the newest incr file."""
    incr = sorted(folder.glob("*.incr.aof"), key=lambda path: int(path.name.split(".")[-3] or 0))
    if not incr:
        return 0
    newest = incr[-1]
    data = newest.read_bytes()
    keep = complete_commands(data)
    if keep < len(data):
        with newest.open("r+b") as handle:
            handle.truncate(keep)
    return len(data) - keep


@contextlib.contextmanager
def _rewrites_paused(client: redis.Redis, notes: list[str]) -> Iterator[None]:
    """auto-aof-rewrite-percentage 0 while the folder is copied, and back afterwards."""
    before = config_get(client, "auto-aof-rewrite-percentage")
    paused = False
    if before is not None:
        try:
            client.config_set("auto-aof-rewrite-percentage", 0)
            paused = True
        except redis_errors.ResponseError as error:
            notes.append(f"automatic AOF rewrites could not be paused ({error})")
    else:
        notes.append("CONFIG is refused: automatic AOF rewrites could not be paused for the copy")
    try:
        deadline = time.monotonic() + REWRITE_WAIT_S
        while int(client.info("persistence").get("aof_rewrite_in_progress", 0)):
            if time.monotonic() > deadline:
                raise BackupError(f"an AOF rewrite was still running after {REWRITE_WAIT_S:.0f} s")
            time.sleep(POLL_S * 5)
        yield
    finally:
        if paused:
            with contextlib.suppress(redis_errors.RedisError):
                client.config_set("auto-aof-rewrite-percentage", before)


def _where(client: redis.Redis) -> tuple[str, str, str | None]:
    """(dir, dbfilename, appenddirname or None when AOF is off) as the server says."""
    directory = config_get(client, "dir")
    dbfilename = config_get(client, "dbfilename")
    if directory is None or dbfilename is None:
        raise BackupError(
            "CONFIG GET dir/dbfilename is refused, so where the server keeps its files is unknown"
        )
    aof = config_get(client, "appendonly") == "yes"
    return directory, dbfilename, (config_get(client, "appenddirname") or "appendonlydir") if aof else None


def take_snapshot(target: Target, folder: Path) -> Snapshot:
    """BGSAVE and copy the RDB (and the AOF folder when AOF is on) into ``folder``."""
    client = target.client()
    refuse_failed_save(target, client.info("persistence"))
    directory, dbfilename, aof_dir = _where(client)
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = Snapshot(folder)
    snapshot.saved_at, snapshot.save_seconds = background_save(client)
    began = time.monotonic()
    rdb = target.copy_out(str(PurePosixPath(directory) / dbfilename), folder)
    snapshot.files.append(SnapshotFile("rdb", rdb, _size(rdb)))
    if aof_dir is not None:
        with _rewrites_paused(client, snapshot.notes):
            snapshot.aof_copied_at = time.monotonic()
            copied = target.copy_out(str(PurePosixPath(directory) / aof_dir), folder)
        trimmed = _trim_last_incr(copied)
        if trimmed:
            snapshot.notes.append(f"the AOF copy caught a command half-written: its last {trimmed} bytes cut")
        snapshot.files.append(SnapshotFile("aof", copied, _size(copied), trimmed))
    snapshot.copy_seconds = time.monotonic() - began
    return snapshot
